"""Builds a full-size model pack for the engine benchmark: torchvision's DenseNet-121 with one input
channel and TorchXRayVision's 18 outputs, random weights (seed 0). About 28 MB: generated at benchmark
time into a temporary folder, never committed.

usage: /usr/bin/python3 test/bench/make-densenet.py OUT_DIR

Writes OUT_DIR/ensemble.json and OUT_DIR/densenet121/{manifest.json,model.onnx}. Debian's Python
(torch 1.13, torchvision 0.14, onnx 1.12); takes well under a minute on a CPU.

The ONNX graph: input "input" [batch, 1, 224, 224] (TorchXRayVision's [-1024, 1024] scale), outputs
"scores" (logits [batch, 18]) and "cam" ([batch, 18, 7, 7]), opset 13, dynamic batch. Same CAM
convention as test/fixtures/models: cam[n, k] = sum_c W[k, c] * relu(features)[n, c] + b[k] (the
linear classifier as a 1x1 convolution, bias once per cell), so mean over the 7x7 cells of cam[n, k]
equals scores[n, k]; the logits come from DenseNet's own path (relu, global average pool, linear).
"""
import hashlib
import inspect
import json
import os
import sys
import time

import onnx
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

START = time.time()
OPSET = 13
SIZE = 224

# TorchXRayVision's 18 outputs in order, the PadChest node that matches each one's meaning, and
# densenet121-res224-all's op_threshs (see shared/docs/models-notes.md).
LABELS = [
    ("Atelectasis", "atelectasis", "finding", 0.07422872),
    ("Consolidation", "consolidation", "finding", 0.038290843),
    ("Infiltration", "infiltrates", "finding", 0.09814756),
    ("Pneumothorax", "pneumothorax", "finding", 0.0098118475),
    ("Edema", "pulmonary edema", "diagnosis", 0.023601074),
    ("Emphysema", "emphysema", "diagnosis", 0.0022490358),  # pulmonary, not subcutaneous emphysema
    ("Fibrosis", "pulmonary fibrosis", "diagnosis", 0.010060724),
    ("Effusion", "pleural effusion", "finding", 0.103246614),  # not pericardial effusion
    ("Pneumonia", "pneumonia", "diagnosis", 0.056810737),
    ("Pleural_Thickening", "pleural thickening", "finding", 0.026791653),
    ("Cardiomegaly", "cardiomegaly", "finding", 0.050318155),
    ("Nodule", "nodule", "finding", 0.023985857),
    ("Mass", "mass", "finding", 0.01939503),
    ("Hernia", "hiatal hernia", "finding", 0.042889766),
    ("Lung Lesion", "pulmonary mass", "finding", 0.053369623),
    ("Fracture", "fracture", "finding", 0.035975814),
    ("Lung Opacity", "increased density", "finding", 0.20204692),
    ("Enlarged Cardiomediastinum", "mediastinal enlargement", "finding", 0.05015312),
]


class DenseNetCam(nn.Module):
    def __init__(self):
        super().__init__()
        net = torchvision.models.densenet121(weights=None, num_classes=len(LABELS))
        # One input channel, as TorchXRayVision's DenseNets (same layer shape as the 3-channel one).
        net.features.conv0 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.features.conv0.weight)
        with torch.no_grad():
            # Random weights are homogeneous in the input scale: on [-1024, 1024] inputs the logits would
            # be in the hundreds (probabilities all 0 or 1). Scale the first layer so they stay near +-2.
            net.features.conv0.weight /= 1024.0
            # Classifier biases just below each operating point, so that, as with a real model on
            # a typical worklist, an image has a finding or two positive rather than all eighteen
            # (the explain stage's work grows with the positives).
            thresholds = torch.tensor([t for _, _, _, t in LABELS])
            offsets = torch.tensor([0.3 if name in ("Cardiomegaly", "Effusion") else -0.7 for name, _, _, _ in LABELS])
            net.classifier.bias.copy_(torch.log(thresholds / (1 - thresholds)) + offsets)
        self.features = net.features
        self.classifier = net.classifier

    def forward(self, x):
        features = F.relu(self.features(x))
        logits = self.classifier(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))
        weight = self.classifier.weight.reshape(self.classifier.out_features, self.classifier.in_features, 1, 1)
        cam = F.conv2d(features, weight, self.classifier.bias)
        return logits, cam


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = os.path.abspath(sys.argv[1])
    member_dir = os.path.join(out_dir, "densenet121")
    os.makedirs(member_dir, exist_ok=True)

    torch.manual_seed(0)
    model = DenseNetCam().eval()
    x = torch.randn(2, 1, SIZE, SIZE) * 512
    with torch.no_grad():
        logits, cam = model(x)
    gap_error = float((cam.mean((2, 3)) - logits).abs().max())
    assert gap_error < 1e-4, f"mean(cam) differs from the logits by {gap_error}"

    onnx_path = os.path.join(member_dir, "model.onnx")
    torch.onnx.export(
        model, x, onnx_path, input_names=["input"], output_names=["scores", "cam"],
        dynamic_axes={"input": {0: "batch"}, "scores": {0: "batch"}, "cam": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True,
        # The TorchScript exporter: torch 2.x would default to the dynamo one.
        **({"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}),
    )
    onnx.checker.check_model(onnx_path)
    with open(onnx_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()

    manifest = {
        "schemaVersion": 1,
        "id": "densenet121",
        "name": "DenseNet-121 benchmark model (random weights)",
        "version": "1.0.0",
        "architecture": "DenseNet-121 (torchvision 0.14), 1 input channel, 18 outputs; in-graph CAM (features 1024x7x7)",
        "onnx": {"file": "model.onnx", "sha256": digest},
        "input": {
            "name": "input", "channels": 1, "height": SIZE, "width": SIZE, "source": "display",
            "crop": "center-square", "resize": "area", "normalization": {"kind": "xrv", "range": 1024},
        },
        "outputs": {"scores": {"name": "scores", "kind": "logits"}, "cam": {"name": "cam"}},
        "labels": [
            {"name": name, "term": term, "tree": tree, "operatingPoint": op, "trained": True}
            for name, term, tree, op in LABELS
        ],
        "card": {
            "intendedUse": "Benchmark fixture for the engine's throughput; random weights, not a medical device",
            "trainingData": "None: random initialisation (torch seed 0)",
            "metrics": {},
            "notForClinicalUse": True,
            "limitations": "Operating points are densenet121-res224-all's, but the weights are random: outputs are meaningless.",
        },
    }
    ensemble = {
        "schemaVersion": 1, "id": "densenet-bench", "name": "DenseNet-121 benchmark pack", "version": "1.0.0",
        "members": ["densenet121"], "rule": {"kind": "majority"}, "demo": True,
    }
    for path, value in ((os.path.join(member_dir, "manifest.json"), manifest), (os.path.join(out_dir, "ensemble.json"), ensemble)):
        with open(path, "w") as f:
            json.dump(value, f, indent=2)
            f.write("\n")
    size_mb = os.path.getsize(onnx_path) / 1e6
    print(f"wrote {out_dir} (model.onnx {size_mb:.1f} MB, torch mean(cam) - logit max {gap_error:.1e}) in {time.time() - START:.1f} s")


if __name__ == "__main__":
    main()
