#!/usr/bin/env python3
"""Export TorchXRayVision's chest X-ray classifiers to a model pack for the triage workstation.

On a machine with internet, after `pip install torchxrayvision onnx` (see README.md beside this file):

    python export_torchxrayvision.py --out DIR \
        [--weights all,nih,pc,chex,mimic_nb,mimic_ch,rsna,resnet50] [--members all,resnet50] [--gate ae]

loads each `xrv.models.DenseNet(weights="densenet121-res224-<key>")` and
`xrv.models.ResNet(weights="resnet50-res512-all")` (the library downloads the weights to
~/.torchxrayvision on first use), and writes DIR as a pack: one folder per model with model.onnx
and manifest.json, DIR/ensemble.json, and DIR/torch-reference.json (torch's outputs on two
deterministic inputs, which verify_export.mjs compares against onnxruntime-node).

Without torchxrayvision, `--from-architecture` builds architecture-identical, randomly initialised
networks (torchvision's DenseNet-121 and ResNet-50 with one input channel and 18 outputs, wrapped
in stand-ins of TorchXRayVision's classes) and runs exactly the same export and manifest code. That
mode proves the export path (Debian: /usr/bin/python3 with python3-torch, python3-torchvision,
python3-onnx); its pack is marked as a demonstration with random weights.

The ONNX graph per member: input "input" [batch, 1, S, S] on TorchXRayVision's [-1024, 1024] scale
(S = 224 for the DenseNets, 512 for the ResNet); outputs "scores" (logits [batch, 18], before the
sigmoid and before calibration) and "cam" ([batch, 18, h, w]; 7x7 for DenseNet-121, 16x16 for
ResNet-50) with cam[n, k] = sum_c W[k, c] * relu(features)[n, c] + b[k], so the mean of cam[n, k]
over its cells equals the logit. Opset 13, dynamic batch. The library's own forward (resolution
checks, sigmoid, op_threshs calibration with a masked assignment) is bypassed: the wrapper calls
features -> relu -> global average pool -> linear itself, and the export checks that this equals
the library's forward on the same inputs.

`--gate ae` also exports TorchXRayVision's autoencoder (`xrv.autoencoders.ResNetAE(weights="101-elastic")`,
ResNetAE101; with --from-architecture an architecture-identical stand-in) as the pack's gate model,
DIR/gate: input "input" [batch, 1, 224, 224] on the same scale, output "reconstruction" [batch, 1, 224, 224]
in the same units (the library's forward returns {"z": latent, "out": reconstruction}, trained to equal
its input), opset 13, dynamic batch; torch's reconstruction of the two inputs goes into
torch-reference.json. ensemble.json gets no gate check: its bound must be chosen on in-distribution
images, the site's own radiographs (models/training/choose-gate.ts --images).
"""
import argparse
import copy
import hashlib
import inspect
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import onnx
    import torch
    import torch.nn.functional as F
    import torchvision
    from torch import nn
except ImportError as error:  # pragma: no cover - message for a bare machine
    sys.exit(
        f"export_torchxrayvision.py needs numpy, torch, torchvision and onnx ({error}).\n"
        "  Debian: apt-get install python3-numpy python3-torch python3-torchvision python3-onnx\n"
        "  elsewhere: python -m pip install torchxrayvision onnx"
    )

OPSET = 13
REFERENCE_FILE = "torch-reference.json"
REFERENCE_SEED = 0x5EED
TOLERANCE = 1e-4

# TorchXRayVision's 18 outputs, in output order (xrv.datasets.default_pathologies). Every model
# emits all 18; a model's own `targets` has "" where a head is untrained. The names of untrained
# heads come from here (the manifest needs a unique name per output), everything else from the
# model object; a model whose non-empty names disagree with this order is refused.
DEFAULT_PATHOLOGIES = [
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
]

# Each output's PadChest node (term, tree), chosen by meaning rather than by string; the reason is
# printed in README.md's term table and summarised in each card's limitations.
TERMS = {
    "Atelectasis": ("atelectasis", "finding",
                    "same meaning; PadChest's lobar, segmental, laminar, round and basal atelectasis roll up to it"),
    "Consolidation": ("consolidation", "finding",
                      "same meaning; rolls up through alveolar pattern to infiltrates"),
    "Infiltration": ("infiltrates", "finding",
                     "NIH's Infiltration; the library's PadChest synonyms (interstitial, reticular, reticulonodular, "
                     "ground glass, alveolar patterns, consolidation, air bronchogram) are this node's subtree"),
    "Pneumothorax": ("pneumothorax", "finding", "same meaning"),
    "Edema": ("pulmonary edema", "diagnosis", "PadChest has edema only as the diagnosis 'pulmonary edema'"),
    "Emphysema": ("emphysema", "diagnosis",
                  "the node is pulmonary emphysema, as NIH and CheXpert mean it; PadChest-trained weights also "
                  "learned subcutaneous emphysema (substring match), a different finding that is not mapped"),
    "Fibrosis": ("pulmonary fibrosis", "diagnosis",
                 "PadChest's fibrosis of the lung is this diagnosis; not 'fibrotic band' (a local scar finding)"),
    "Effusion": ("pleural effusion", "finding",
                 "NIH's Effusion is pleural; the PadChest substring also caught pericardial effusion, not mapped"),
    "Pneumonia": ("pneumonia", "diagnosis", "a diagnosis in PadChest, as in NIH, CheXpert and RSNA"),
    "Pleural_Thickening": ("pleural thickening", "finding", "same meaning"),
    "Cardiomegaly": ("cardiomegaly", "finding", "same meaning"),
    "Nodule": ("nodule", "finding",
               "'Lung nodule'; the PadChest substring also caught pseudonodule, which is a separate node"),
    "Mass": ("mass", "finding",
             "'Mass of thoracic structure', the parent of pulmonary, mediastinal, pleural, breast and soft "
             "tissue masses: the substring-built PadChest labels include all of them"),
    "Hernia": ("hiatal hernia", "finding",
               "PadChest's only hernia node, and the hernia a frontal chest radiograph usually shows; it also "
               "rolls up to mediastinal enlargement"),
    "Lung Lesion": ("pulmonary mass", "finding",
                    "CheXpert's Lung Lesion is any nodule or mass of the lung; PadChest has no such node (the "
                    "nearest common ancestor is the root), so the nearest node that does not collide with the "
                    "Nodule output; it rolls up to mass. A Lung Lesion call on a small nodule reads as pulmonary mass"),
    "Fracture": ("fracture", "finding", "same meaning; rib, clavicle, vertebral and humeral fractures roll up to it"),
    "Lung Opacity": ("increased density", "finding",
                     "'Radiologic increased density of lung': CheXpert's and RSNA's Lung Opacity is any increased "
                     "lung density; 'infiltrates' is Infiltration's"),
    "Enlarged Cardiomediastinum": ("mediastinal enlargement", "finding",
                                   "'mediastinal widening'; CheXpert's Enlarged Cardiomediastinum also spans the "
                                   "cardiac silhouette, which the separate Cardiomegaly output covers"),
}

# The models the exporter knows, from the notes (shared/docs/models-notes.md, TorchXRayVision 1.5.2).
# `trained` is the notes' coverage table: in --from-architecture mode it decides the stand-in's
# untrained heads; with the real library it is only compared with what the model says.
_CHEX11 = ["Atelectasis", "Consolidation", "Pneumothorax", "Edema", "Effusion", "Pneumonia", "Cardiomegaly",
           "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum"]
MODELS = {
    "all": dict(weights="densenet121-res224-all", arch="densenet", size=224, trained=DEFAULT_PATHOLOGIES,
                data="NIH ChestX-ray14, PadChest, CheXpert, MIMIC-CXR (CheXpert labels), Google's NIH labels, "
                     "OpenI and RSNA Pneumonia, merged on TorchXRayVision's 18 labels"),
    "nih": dict(weights="densenet121-res224-nih", arch="densenet", size=224, trained=DEFAULT_PATHOLOGIES[:14],
                data="NIH ChestX-ray14 (NIH Clinical Center), its 14 report-mined labels"),
    "pc": dict(weights="densenet121-res224-pc", arch="densenet", size=224,
               trained=DEFAULT_PATHOLOGIES[:14] + ["Fracture"],
               data="PadChest (BIMCV, Hospital San Juan, Alicante), labels built by TorchXRayVision from the "
                    "report labels by substring matching"),
    "chex": dict(weights="densenet121-res224-chex", arch="densenet", size=224, trained=_CHEX11,
                 data="CheXpert (Stanford), labels from the CheXpert report labeler"),
    "mimic_nb": dict(weights="densenet121-res224-mimic_nb", arch="densenet", size=224, trained=_CHEX11,
                     data="MIMIC-CXR (Beth Israel Deaconess), labels from the NegBio labeler"),
    "mimic_ch": dict(weights="densenet121-res224-mimic_ch", arch="densenet", size=224, trained=_CHEX11,
                     data="MIMIC-CXR (Beth Israel Deaconess), labels from the CheXpert labeler"),
    "rsna": dict(weights="densenet121-res224-rsna", arch="densenet", size=224,
                 trained=["Pneumonia", "Lung Opacity"],
                 data="RSNA Pneumonia Detection Challenge (NIH images relabelled by radiologists)"),
    "resnet50": dict(weights="resnet50-res512-all", arch="resnet", size=512,
                     trained=[p for p in DEFAULT_PATHOLOGIES if p not in ("Lung Lesion", "Enlarged Cardiomediastinum")],
                     data="PadChest, NIH ChestX-ray14, RSNA Pneumonia, SIIM-ACR Pneumothorax and VinDr-CXR"),
}
DEFAULT_MEMBERS = ["all", "resnet50"]  # the models trained on all datasets

# densenet121-res224-all's op_threshs (the notes): the stand-ins' operating points.
ALL_OP_THRESHS = [
    0.07422872, 0.038290843, 0.09814756, 0.0098118475, 0.023601074, 0.0022490358, 0.010060724, 0.103246614,
    0.056810737, 0.026791653, 0.050318155, 0.023985857, 0.01939503, 0.042889766, 0.053369623, 0.035975814,
    0.20204692, 0.05015312,
]

# BENCHMARKS.md (updated 2023-07), AUC on 20 % patient-grouped splits, as quoted in the notes.
_AUC_COLUMNS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Nodule", "Mass", "Pneumothorax"]
PUBLISHED_AUC = {
    "all": {"NIH": [.76, .88, .77, .85, .85, .69, .80, .75], "PadChest": [.77, .93, .88, .97, .95, .69, .85, .81]},
    "resnet50": {"NIH": [.78, .90, .78, .89, .86, .76, .82, .84], "PadChest": [.80, .94, .88, .97, .95, .76, .85, .87]},
}


class ExportError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The export wrapper: the same class for TorchXRayVision's models and the stand-ins.
# ---------------------------------------------------------------------------------------------

class XrvExport(nn.Module):
    """Logits (pre-sigmoid, uncalibrated) and the class activation map of a TorchXRayVision model.

    Relies only on what xrv.models.DenseNet and xrv.models.ResNet expose:
    - DenseNet: `features` (the convolutional trunk, an nn.Module ending in a batch norm) and
      `classifier` (nn.Linear); the library's forward is relu -> global average pool -> classifier.
    - ResNet: `model`, a torchvision ResNet-50 (conv1, bn1, relu, maxpool, layer1-4, avgpool, fc).
      Its `features` is a method (with resolution checks and pooling), not a trunk, so it is not used.
    A bare torchvision ResNet (fc and layer4 on the object itself) is accepted too.
    """

    RESNET_PARTS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc")

    def __init__(self, model):
        super().__init__()
        inner = getattr(model, "model", None)
        if isinstance(inner, nn.Module) and hasattr(inner, "fc"):
            self.kind = "resnet"
            net = inner
        elif hasattr(model, "fc") and hasattr(model, "layer4"):
            self.kind = "resnet"
            net = model
        elif isinstance(getattr(model, "features", None), nn.Module) or hasattr(model, "classifier"):
            self.kind = "densenet"
            net = model
        else:
            raise ExportError(
                f"{type(model).__name__} has neither `model.fc` (TorchXRayVision's ResNet wraps a torchvision "
                "ResNet in `model`) nor `features` and `classifier` (its DenseNet): cannot find the trunk and "
                "the linear head to export")
        if self.kind == "resnet":
            missing = [part for part in self.RESNET_PARTS if not hasattr(net, part)]
            if missing:
                raise ExportError(f"{type(model).__name__}'s ResNet lacks {', '.join(missing)}")
            self.trunk = nn.Sequential(*(getattr(net, part) for part in self.RESNET_PARTS[:8]))
            pool, head = net.avgpool, net.fc
        else:
            features, head = getattr(model, "features", None), getattr(model, "classifier", None)
            if not isinstance(features, nn.Module):
                raise ExportError(f"{type(model).__name__}.features is missing or not an nn.Module "
                                  f"(found {type(features).__name__})")
            self.trunk = features
            pool = nn.AdaptiveAvgPool2d(1)
        if not isinstance(head, nn.Linear):
            raise ExportError(f"{type(model).__name__}'s classifier is {type(head).__name__}, not nn.Linear: "
                              "the in-graph CAM needs a linear head after global average pooling")
        if not isinstance(pool, nn.AdaptiveAvgPool2d) or tuple(np.atleast_1d(pool.output_size)) not in ((1,), (1, 1)):
            raise ExportError(f"{type(model).__name__}'s pooling is {pool!r}, not a global average pool: "
                              "the CAM would not be exact")
        self.pool = pool
        self.head = head

    def forward(self, x):
        features = F.relu(self.trunk(x))
        logits = self.head(torch.flatten(self.pool(features), 1))
        weight = self.head.weight.reshape(self.head.out_features, self.head.in_features, 1, 1)
        cam = F.conv2d(features, weight, self.head.bias)
        return logits, cam


def model_labels(model):
    """The model's own output names (`targets`, else `pathologies`), "" for untrained heads."""
    for attribute in ("targets", "pathologies"):
        labels = getattr(model, attribute, None)
        if labels is not None:
            return [str(label) if label is not None else "" for label in list(labels)]
    raise ExportError(f"{type(model).__name__} has neither `targets` nor `pathologies`: the output order is unknown")


def model_op_threshs(model):
    """The model's op_threshs as floats (NaN for untrained heads)."""
    op = getattr(model, "op_threshs", None)
    if op is None:
        raise ExportError(f"{type(model).__name__} has no `op_threshs`: without operating points the outputs "
                          "cannot be calibrated (TorchXRayVision sets them for every published weight)")
    if isinstance(op, torch.Tensor):
        op = op.detach().cpu().double().tolist()
    return [float(value) for value in np.asarray(op, dtype=np.float64).ravel()]


def calibrate(probability, threshold):
    """TorchXRayVision's op_norm, as the notes state it (the engine's main/ensemble calibrate)."""
    return torch.where(probability < threshold, probability / (2 * threshold),
                       1 - (1 - probability) / (2 * (1 - threshold)))


# ---------------------------------------------------------------------------------------------
# Stand-ins for --from-architecture: TorchXRayVision's class layout, torchvision's layers.
# ---------------------------------------------------------------------------------------------

def _op_norm_like_xrv(outputs, op_threshs):
    # The library's masked-assignment version (which is why calibration stays out of the graph).
    op_threshs = op_threshs.expand(outputs.shape[0], -1)
    out = torch.zeros(outputs.shape)
    below = outputs < op_threshs
    out[below] = outputs[below] / (op_threshs[below] * 2)
    out[~below] = 1.0 - ((1.0 - outputs[~below]) / ((1 - op_threshs[~below]) * 2))
    out[torch.isnan(op_threshs)] = 0.5
    return out


class StandInDenseNet(nn.Module):
    """xrv.models.DenseNet's layout: features, classifier, targets/pathologies, op_threshs, features2."""

    def __init__(self, targets, op_threshs):
        super().__init__()
        net = torchvision.models.densenet121(weights=None, num_classes=len(DEFAULT_PATHOLOGIES))
        net.features.conv0 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.features.conv0.weight)
        self.features = net.features
        self.classifier = net.classifier
        self.targets = targets
        self.pathologies = targets
        self.op_threshs = torch.tensor(op_threshs)
        self.apply_sigmoid = False

    def features2(self, x):
        features = self.features(x)
        out = F.relu(features)
        return F.adaptive_avg_pool2d(out, (1, 1)).view(features.size(0), -1)

    def forward(self, x):
        out = self.classifier(self.features2(x))
        return _op_norm_like_xrv(torch.sigmoid(out), self.op_threshs)


class StandInResNet(nn.Module):
    """xrv.models.ResNet's layout: a torchvision ResNet-50 in `model`, conv1 patched to one channel."""

    def __init__(self, targets, op_threshs):
        super().__init__()
        self.model = torchvision.models.resnet50(weights=None, num_classes=len(DEFAULT_PATHOLOGIES))
        self.model.conv1 = nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
        nn.init.kaiming_normal_(self.model.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.targets = targets
        self.pathologies = targets
        self.register_buffer("op_threshs", torch.tensor(op_threshs))
        self.apply_sigmoid = False

    def forward(self, x):
        return _op_norm_like_xrv(torch.sigmoid(self.model(x)), self.op_threshs)


def build_stand_in(key, seed):
    spec = MODELS[key]
    targets = [name if name in spec["trained"] else "" for name in DEFAULT_PATHOLOGIES]
    op_threshs = [t if name in spec["trained"] else float("nan") for name, t in zip(DEFAULT_PATHOLOGIES, ALL_OP_THRESHS)]
    torch.manual_seed(seed)  # the caller passes the base seed plus the key's position: each stand-in differs
    model = (StandInDenseNet if spec["arch"] == "densenet" else StandInResNet)(targets, op_threshs)
    # Batch-norm statistics from one training-mode pass over seeded radiograph-like images, so that
    # every layer normalises its input as in a trained network and the logits are of a trained
    # network's size (about +-3), not the hundreds that fresh statistics give on [-1024, 1024] input.
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one pass sets the batch's statistics
    model.train()
    with torch.no_grad():
        model(reference_inputs(2, spec["size"], seed=seed + 1))
    return model.eval()


def load_xrv(key):
    try:
        import torchxrayvision as xrv
    except ImportError:
        raise ExportError("torchxrayvision is not installed: `python -m pip install torchxrayvision onnx` "
                          "(or use --from-architecture to test the export path without it)")
    default = list(getattr(getattr(xrv, "datasets", None), "default_pathologies", DEFAULT_PATHOLOGIES))
    if default != DEFAULT_PATHOLOGIES:
        raise ExportError(f"this torchxrayvision's default_pathologies {default} differ from the 18 outputs this "
                          "exporter maps; update DEFAULT_PATHOLOGIES and TERMS first")
    spec = MODELS[key]
    if spec["arch"] == "densenet":
        model = xrv.models.DenseNet(weights=spec["weights"])
    else:
        model = xrv.models.ResNet(weights=spec["weights"])
    return model.eval(), getattr(xrv, "__version__", "unknown")


# ---------------------------------------------------------------------------------------------
# Deterministic inputs, reproduced bit for bit by verify_export.mjs.
# ---------------------------------------------------------------------------------------------

def _hash32(x):
    """lowbias32 (Chris Wellons) on uint32 arrays; verify_export.mjs has the same with Math.imul."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


# Two radiograph-like phantoms: an integer background, shapes painted in order (sizes in percent
# of the side, floored), then hash noise of +-noise. "spine" paints a vertical band inside the first
# shape (the body); "ellipse-below" an ellipse's part at or below a row. The spec travels in
# torch-reference.json, and verify_export.mjs paints the same integers. White noise is avoided on
# purpose: it drives these networks far outside their working range (logits of +-50), where float32
# rounding alone reaches 5e-4 in a 77-valued ResNet CAM.
PHANTOMS = {
    "phantom": {"background": -1000, "noise": 64, "shapes": [
        ["ellipse", 200, 50, 50, 45, 42],          # body
        ["ellipse", -500, 45, 32, 28, 12],         # lungs
        ["ellipse", -500, 45, 68, 28, 12],
        ["ellipse", 450, 62, 55, 13, 13],          # heart
        ["spine", 700, 4],
        ["ellipse", 300, 35, 30, 3, 3],            # a nodule
    ]},
    "phantom-b": {"background": -1000, "noise": 128, "shapes": [
        ["ellipse", 150, 50, 50, 46, 44],
        ["ellipse", -550, 44, 30, 27, 13],
        ["ellipse", -550, 44, 70, 27, 13],
        ["ellipse", 500, 60, 52, 18, 18],          # a large heart
        ["ellipse-below", 350, 44, 70, 27, 13, 58],  # fluid at the right base
        ["spine", 700, 4],
    ]},
}


def _image(kind, index, size, seed):
    """One size x size image of integers in [-1024, 1024] (exact in float32)."""
    spec = PHANTOMS[kind]
    flat = np.arange(index * size * size, (index + 1) * size * size, dtype=np.uint64)
    h = _hash32(((flat + np.uint64(seed) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF))).astype(np.int64)
    y, x = np.meshgrid(np.arange(size, dtype=np.int64), np.arange(size, dtype=np.int64), indexing="ij")

    def d(percent):
        return size * percent // 100

    def ellipse(cy, cx, ry, rx):
        cy, cx, ry, rx = d(cy), d(cx), d(ry), d(rx)
        return (x - cx) ** 2 * ry * ry + (y - cy) ** 2 * rx * rx <= rx * rx * ry * ry

    v = np.full((size, size), spec["background"], dtype=np.int64)
    body = ellipse(*spec["shapes"][0][2:6])
    for shape in spec["shapes"]:
        kind_, value = shape[0], shape[1]
        if kind_ == "ellipse":
            v[ellipse(*shape[2:6])] = value
        elif kind_ == "ellipse-below":
            v[ellipse(*shape[2:6]) & (y >= d(shape[6]))] = value
        elif kind_ == "spine":
            v[body & (np.abs(x - size // 2) <= d(shape[2]))] = value
        else:
            raise ValueError(kind_)
    noise = spec["noise"]
    return np.clip(v + (h % (2 * noise + 1)).reshape(size, size) - noise, -1024, 1024)


def reference_inputs(n, size, seed=REFERENCE_SEED, kinds=("phantom", "phantom-b")):
    images = [_image(kinds[i % len(kinds)], i, size, seed) for i in range(n)]
    return torch.from_numpy(np.stack(images)[:, None].astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Export, checks, manifests.
# ---------------------------------------------------------------------------------------------

def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _float32_value(value):
    """The float32 operating point as the shortest decimal that reads back to it (0.07422872)."""
    return float(str(np.float32(value)))


def label_specs(model, key, warn):
    names, op = model_labels(model), model_op_threshs(model)
    if len(names) != len(DEFAULT_PATHOLOGIES) or len(op) != len(DEFAULT_PATHOLOGIES):
        raise ExportError(f"{key}: {len(names)} labels and {len(op)} op_threshs, expected {len(DEFAULT_PATHOLOGIES)}")
    labels = []
    for index, (name, threshold, canonical) in enumerate(zip(names, op, DEFAULT_PATHOLOGIES)):
        if name and name != canonical:
            raise ExportError(f"{key}: output {index} is named {name!r} but TorchXRayVision's output order has "
                              f"{canonical!r} there; the PadChest mapping would be wrong")
        finite = math.isfinite(threshold)
        if name and not finite:
            warn(f"{key}: {canonical} has a name but a NaN operating point: treated as untrained")
        if not name and finite:
            warn(f"{key}: {canonical} has no name but an operating point: treated as untrained")
        trained = bool(name) and finite
        if trained and not 0 < threshold < 1:
            raise ExportError(f"{key}: {canonical}'s operating point {threshold} is outside (0, 1)")
        term, tree, _ = TERMS[canonical]
        labels.append({"name": canonical, "term": term, "tree": tree,
                       "operatingPoint": _float32_value(threshold) if trained else None, "trained": trained})
    expected = set(MODELS[key]["trained"])
    actual = {label["name"] for label in labels if label["trained"]}
    if actual != expected:
        warn(f"{key}: trained heads differ from the notes' table: model has {sorted(actual - expected)} more, "
             f"{sorted(expected - actual)} fewer (the model's own labels are used)")
    return labels


def torch_checks(model, wrapper, x, op_threshs, float64=False):
    """Max differences: mean(cam) vs logits, and the wrapper's logits vs the library's own paths."""
    with torch.no_grad():
        logits, cam = wrapper(x)
        checks = {"meanCamMinusLogit": float((cam.mean((2, 3)) - logits).abs().max())}
        # Raw logits the library computes (DenseNet: classifier(features2(x)); ResNet: model(x)).
        if wrapper.kind == "densenet" and hasattr(model, "features2"):
            raw = model.classifier(model.features2(x.clone()))
        elif wrapper.kind == "resnet" and isinstance(getattr(model, "model", None), nn.Module):
            raw = model.model(x.clone())
        else:
            raw = None
        if raw is not None:
            checks["logitsMinusLibraryLogits"] = float((raw - logits).abs().max())
        # The library's forward: optional sigmoid, then sigmoid + op_threshs calibration.
        out = model(x.clone())
        expected = logits
        if getattr(model, "apply_sigmoid", False):
            expected = torch.sigmoid(expected)
        thresholds = torch.tensor(op_threshs, dtype=torch.float32)
        expected = calibrate(torch.sigmoid(expected), thresholds)
        finite = torch.isfinite(thresholds)
        checks["calibratedMinusLibraryForward"] = float((out[:, finite] - expected[:, finite]).abs().max())
        precision = None
        if float64:
            # For scale only (not a pass/fail check): how far torch's own float32 result is from
            # float64. A CAM cell sums thousands of mixed-sign products of per-cell features, so float32
            # rounding alone moves it by about 1e-5 of its size; the verifier's tolerance scales likewise.
            exact = copy.deepcopy(wrapper).double()
            logits64, cam64 = exact(x.double())
            precision = {"logits": float((logits.double() - logits64).abs().max()),
                         "cam": float((cam.double() - cam64).abs().max())}
    return logits, cam, checks, precision


def model_card(key, labels, from_architecture, seed, size):
    spec = MODELS[key]
    untrained = [label["name"] for label in labels if not label["trained"]]
    padchest_trained = key in ("all", "pc", "resnet50")
    limitations = [
        "Research use only; not a medical device; every result must be read by a radiologist.",
        f"Input: the VOI-windowed display rendering (bone bright), centre-square crop on the long side, area "
        f"resize to {size}x{size}, scaled to [-1024, 1024]. The training images were display renderings (NIH, "
        "CheXpert, MIMIC-CXR-JPG, RSNA and OpenI as 8-bit PNG/JPEG; PadChest as 16-bit PNGs windowed at Window "
        "Center +/- Width/2), whereas TorchXRayVision's own DICOM reader scales stored values without VOI, "
        "which does not match that distribution; hence source 'display'. Compare with 'stored' on local "
        "studies before relying on either.",
        "Adult frontal (PA/AP) radiographs only: lateral views are out of distribution.",
        "Operating points are TorchXRayVision's op_threshs (Youden's J on a 20 % patient-grouped split of "
        "the training data); accuracy is lower and the best operating points shift on external data.",
        ("Untrained heads, masked (never vote): " + ", ".join(untrained) + ".") if untrained else
        "All 18 heads are trained.",
        "PadChest mapping: Lung Lesion (nodule or mass of the lung) is reported as pulmonary mass; Enlarged "
        "Cardiomediastinum as mediastinal enlargement; Lung Opacity as increased density.",
    ]
    if padchest_trained:
        limitations.append(
            "Its PadChest training labels were built by substring matching: Emphysema also learned subcutaneous "
            "emphysema, Effusion pericardial effusion, Nodule pseudonodules, Mass breast and soft-tissue "
            "masses; the mapped terms follow each output's meaning, not those extra cases.")
    if from_architecture:
        limitations.insert(0, f"STAND-IN WITH RANDOM WEIGHTS (torch seed {seed}): architecture-identical to "
                              f"TorchXRayVision's {spec['weights']} but untrained; its outputs are meaningless. "
                              "Operating points are densenet121-res224-all's, for the export test only.")
    metrics = {}
    if not from_architecture and key in PUBLISHED_AUC:
        metrics = {
            "source": "TorchXRayVision BENCHMARKS.md (updated 2023-07): AUC on 20 % patient-grouped splits; NIH "
                      "and PadChest are in this model's training distribution, so external sets score lower",
            "auc": {evalset: dict(zip(_AUC_COLUMNS, values)) for evalset, values in PUBLISHED_AUC[key].items()},
        }
    return {
        "intendedUse": (
            "Export-path test of the TorchXRayVision importer; random weights, not for reading radiographs"
            if from_architecture else
            "Research and evaluation: triage of adult frontal chest radiographs by 18 thorax findings, "
            "reported in the PadChest hierarchy, as one member of a voting ensemble; a second look that "
            "orders a worklist, never a diagnosis"),
        "trainingData": (f"None: random initialisation (torch seed {seed}); stands in for {spec['weights']}, "
                         f"trained on {spec['data']}" if from_architecture else
                         f"{spec['data']} (TorchXRayVision weights {spec['weights']})"),
        "metrics": metrics,
        "notForClinicalUse": True,
        "limitations": " ".join(limitations),
        "license": "Apache-2.0 (TorchXRayVision code and weights); the training datasets have their own terms",
        "citation": "Cohen JP, Viviano JD, Bertin P, Morrison P, Torabian P, Guarrera M, Lungren MP, Chaudhari A, "
                    "Brooks R, Hashir M, Bertrand H. TorchXRayVision: A library of chest X-ray datasets and "
                    "models. Medical Imaging with Deep Learning (MIDL), 2022. "
                    "https://github.com/mlmed/torchxrayvision",
    }


def onnx_export(wrapper, x, path, outputs, opset):
    """Input "input", the named outputs, every one with a dynamic batch; checked by onnx."""
    # The TorchScript-based exporter (newer torch defaults to its dynamo exporter, which takes
    # dynamic shapes differently and needs onnxscript).
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(
            wrapper, x, path, input_names=["input"], output_names=outputs,
            dynamic_axes={name: {0: "batch"} for name in ["input", *outputs]},
            opset_version=opset, do_constant_folding=True, **legacy)
    onnx.checker.check_model(path)


def member_id(key):
    return MODELS[key]["weights"]


def export_member(key, out_dir, from_architecture, seed, opset, float64, log, warn):
    spec = MODELS[key]
    started = time.time()
    if from_architecture:
        seed = seed + list(MODELS).index(key)
        model, library = build_stand_in(key, seed), None
    else:
        model, library = load_xrv(key)
    labels = label_specs(model, key, warn)
    wrapper = XrvExport(model).eval()
    op_threshs = model_op_threshs(model)
    size = spec["size"]
    x = reference_inputs(2, size)
    logits, cam, checks, precision = torch_checks(model, wrapper, x, op_threshs, float64)
    scale = {"meanCamMinusLogit": TOLERANCE * max(1.0, float(cam.abs().max())),  # float32 rounding only
             "logitsMinusLibraryLogits": 1e-5 * max(1.0, float(logits.abs().max())),
             "calibratedMinusLibraryForward": 1e-5}
    for name, value in checks.items():
        limit = scale[name]
        if not value <= limit:
            raise ExportError(f"{key}: torch check {name} = {value:.3g} (> {limit:g}): the exported graph would "
                              "not compute what the library computes")

    member = member_id(key)
    member_dir = os.path.join(out_dir, member)
    os.makedirs(member_dir, exist_ok=True)
    onnx_path = os.path.join(member_dir, "model.onnx")
    onnx_export(wrapper, x, onnx_path, ["scores", "cam"], opset)
    digest = sha256_file(onnx_path)
    _, channels, height, width = cam.shape
    arch_name = "DenseNet-121" if spec["arch"] == "densenet" else "ResNet-50"
    origin = (f"architecture stand-in for TorchXRayVision {spec['weights']} with random weights, seed {seed}"
              if from_architecture else f"TorchXRayVision {library}, weights {spec['weights']}")
    manifest = {
        "schemaVersion": 1,
        "id": member,
        "name": (f"{arch_name} stand-in for {spec['weights']} (random weights, export test)" if from_architecture
                 else f"TorchXRayVision {arch_name} ({spec['weights']})"),
        "version": "0.0.0-stand-in" if from_architecture else f"1.0.0+xrv{library}".replace("+xrvunknown", ""),
        "architecture": (f"{arch_name} ({origin}), 1 input channel, {size}x{size}, 18 outputs; in-graph CAM from "
                         f"relu(features) {wrapper.head.in_features}x{height}x{width}; ONNX opset {opset} "
                         f"from torch {torch.__version__}"),
        "onnx": {"file": "model.onnx", "sha256": digest},
        "input": {"name": "input", "channels": 1, "height": size, "width": size, "source": "display",
                  "crop": "center-square", "resize": "area", "normalization": {"kind": "xrv", "range": 1024}},
        "outputs": {"scores": {"name": "scores", "kind": "logits"}, "cam": {"name": "cam"}},
        "labels": labels,
        "card": model_card(key, labels, from_architecture, seed, size),
    }
    write_json(os.path.join(member_dir, "manifest.json"), manifest)
    reference = {
        "key": key,
        "onnx": {"file": f"{member}/model.onnx", "sha256": digest},
        "input": {"name": "input", "shape": list(x.shape), "seed": REFERENCE_SEED, "kinds": ["phantom", "phantom-b"],
                  "phantoms": PHANTOMS, "sum": int(x.double().sum().item())},
        "opThreshs": [None if math.isnan(t) else t for t in op_threshs],
        "bias": wrapper.head.bias.detach().tolist(),
        "torchChecks": checks,
        "torchFloat32MinusFloat64": precision,
        "logits": logits.tolist(),
        "cam": cam.tolist(),
    }
    log(f"{member}: {os.path.getsize(onnx_path) / 1e6:.1f} MB, cam {channels}x{height}x{width}, "
        f"{sum(label['trained'] for label in labels)} trained heads, torch checks "
        + ", ".join(f"{name} {value:.1e}" for name, value in checks.items())
        + (f"; torch float32 - float64: logits {precision['logits']:.1e}, cam {precision['cam']:.1e}" if precision else "")
        + f" ({time.time() - started:.1f} s)")
    return member, reference


# ---------------------------------------------------------------------------------------------
# The gate model (--gate ae): TorchXRayVision's autoencoder, xrv.autoencoders.ResNetAE.
# ---------------------------------------------------------------------------------------------

GATE_ID = "gate"  # the gate model's folder and manifest id; ensemble.json's checks name it
GATES = {
    "ae": dict(weights="101-elastic", size=224, range=1024,
               data="NIH ChestX-ray14, PadChest, RSNA Pneumonia, MIMIC-CXR and CheXpert images (the library's "
                    "description of 101-elastic: 'nih pc rsna mimic_ch chex'); trained to reconstruct its input "
                    "(squared plus absolute error, the library's 'elastic' loss), labels unused"),
}
# The library's ResNetAE101: (bottleneck width, blocks, stride) per encoder stage (outputs 4 x width
# channels), then per decoder stage (outputs 2 x width channels, the stage's last block upsampling).
AE_ENCODER = [(64, 3, 1), (128, 4, 2), (256, 23, 2), (128, 2, 6)]
AE_DECODER = [(128, 2, 6), (64, 23, 2), (32, 4, 2), (16, 3, 2)]
AE_RESIDUAL_SCALE = 0.2  # the stand-in's initial bn3 scale (build_gate_stand_in)


class _AeEncoderBlock(nn.Module):
    """A bottleneck of the autoencoder's encoder: 1x1, 3x3 (strided), 1x1 to 4 x width, each with batch
    norm and ReLU (the third too, before the sum), plus the shortcut, then ReLU."""

    def __init__(self, inputs, width, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.relu(self.bn3(self.conv3(out)))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _AeDecoderBlock(nn.Module):
    """A bottleneck of the decoder: as the encoder's, with `expansion` x width outputs and, when strided,
    a 3x3 transposed convolution (padding 1, output padding 1) in the middle."""

    def __init__(self, inputs, width, expansion, stride=1, upsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = (nn.Conv2d(width, width, kernel_size=3, stride=1, padding=1, bias=False) if stride == 1 else
                      nn.ConvTranspose2d(width, width, kernel_size=3, stride=stride, padding=1, output_padding=1,
                                         bias=False))
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, expansion * width, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(expansion * width)
        self.relu = nn.ReLU()
        self.upsample = upsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.relu(self.bn3(self.conv3(out)))
        return self.relu(out + (x if self.upsample is None else self.upsample(x)))


def _upsampling_shortcut(inputs, outputs, stride):
    return nn.Sequential(
        nn.ConvTranspose2d(inputs, outputs, kernel_size=1, stride=stride, output_padding=1, bias=False),
        nn.BatchNorm2d(outputs))


class StandInResNetAE(nn.Module):
    """xrv.autoencoders.ResNetAE's layout (ResNetAE101), module for module and parameter for parameter:

    - encoder: conv1 (7x7, stride 2, 64), bn1, relu, maxpool (3x3, stride 2), layer1-4 of bottlenecks as
      in AE_ENCODER (a 1x1 strided convolution and batch norm as the first block's shortcut); a 224 x 224
      image becomes a 512 x 3 x 3 latent (layer4's stride is 6);
    - decoder: uplayer1-4 as in AE_DECODER, each stage's blocks at stride 1 with 4 x width outputs, its
      last block at the stage's stride with a 1x1 transposed-convolution shortcut; uplayer_top (64
      outputs, stride 2); conv1_1, a 1x1 transposed convolution to one channel, no bias, no activation,
      given the input's size as its output size;
    - forward returns {"z": latent, "out": reconstruction}; encode checks the native resolution when
      weights_metadata is set; weights_metadata carries the resolution and the image range.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        channels = 64
        for index, (width, blocks, stride) in enumerate(AE_ENCODER, 1):
            shortcut = None
            if stride != 1 or channels != 4 * width:
                shortcut = nn.Sequential(nn.Conv2d(channels, 4 * width, kernel_size=1, stride=stride, bias=False),
                                         nn.BatchNorm2d(4 * width))
            stage = [_AeEncoderBlock(channels, width, stride, shortcut)]
            stage += [_AeEncoderBlock(4 * width, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*stage))
            channels = 4 * width
        for index, (width, blocks, stride) in enumerate(AE_DECODER, 1):
            shortcut = None
            if stride != 1 or channels != 2 * width:
                shortcut = _upsampling_shortcut(channels, 2 * width, stride)
            stage = [_AeDecoderBlock(channels, width, 4) for _ in range(blocks - 1)]
            stage.append(_AeDecoderBlock(channels, width, 2, stride, shortcut))
            setattr(self, f"uplayer{index}", nn.Sequential(*stage))
            channels = 2 * width
        self.uplayer_top = _AeDecoderBlock(channels, 64, 1, 2, _upsampling_shortcut(channels, 64, 2))
        self.conv1_1 = nn.ConvTranspose2d(64, 1, kernel_size=1, stride=1, bias=False)
        self.weights = None
        self.weights_metadata = {"resolution": GATES["ae"]["size"], "image_range": [-1024, 1024]}

    def encode(self, x, check_resolution=True):
        resolution = (self.weights_metadata or {}).get("resolution")
        if check_resolution and resolution and (x.shape[2] != resolution or x.shape[3] != resolution):
            raise ValueError(f"input {x.shape[2]}x{x.shape[3]} is not the native resolution {resolution}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def decode(self, z, image_size=(1, 1, 224, 224)):
        x = self.uplayer_top(self.uplayer4(self.uplayer3(self.uplayer2(self.uplayer1(z)))))
        return self.conv1_1(x, output_size=image_size)

    def forward(self, x):
        z = self.encode(x)
        return {"z": z, "out": self.decode(z, x.size())}


def build_gate_stand_in(key, seed):
    """The stand-in with random weights; the batch norms and the output layer set as a trained network's."""
    spec = GATES[key]
    torch.manual_seed(seed)
    model = StandInResNetAE()
    # Batch-norm statistics from one training-mode pass over seeded phantoms, as for the classifiers.
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    # Each bottleneck's last batch norm scaled to AE_RESIDUAL_SCALE (a damped form of torchvision's
    # zero_init_residual): with unit scales the 68 random residual branches make the network chaotic,
    # float32 rounding alone moving its output by 2e-4 of its largest value (torch float32 against
    # float64), which says nothing about the export; a trained network is not like that.
    for module in model.modules():
        if isinstance(module, (_AeEncoderBlock, _AeDecoderBlock)):
            module.bn3.weight.data.fill_(AE_RESIDUAL_SCALE)
    x = reference_inputs(2, spec["size"], seed=seed + 1)
    model.train()
    with torch.no_grad():
        model(x)
        model.eval()
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = 0.1  # back to the library's (PyTorch's default)
        # A trained autoencoder's reconstruction has its input's spread: scale the last layer (no bias,
        # no activation) so that the stand-in's does too, rather than the few units random weights give.
        spread = float(model(x)["out"].std())
        model.conv1_1.weight.mul_(float(x.std()) / spread)
    return model


def load_xrv_gate(key):
    try:
        import torchxrayvision as xrv
    except ImportError:
        raise ExportError("torchxrayvision is not installed: `python -m pip install torchxrayvision onnx` "
                          "(or use --from-architecture to test the export path without it)")
    model = xrv.autoencoders.ResNetAE(weights=GATES[key]["weights"])
    return model.eval(), getattr(xrv, "__version__", "unknown")


class XrvGateExport(nn.Module):
    """The autoencoder's reconstruction, as the library's forward computes its "out"."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        # Releases before the resolution check have encode(x) alone.
        self.encode_options = ({"check_resolution": False}
                               if "check_resolution" in inspect.signature(model.encode).parameters else {})

    def forward(self, x):
        # encode then decode, as the library's forward does, without its resolution check (a Python
        # branch on the traced shape; the export's input is the native resolution anyway).
        return self.model.decode(self.model.encode(x, **self.encode_options), x.size())


def gate_geometry(model, key):
    """The input side and image range the model object declares (weights_metadata), else the table's."""
    spec = GATES[key]
    metadata = getattr(model, "weights_metadata", None) or {}
    size = int(metadata.get("resolution", spec["size"]))
    low, high = (float(v) for v in metadata.get("image_range", [-spec["range"], spec["range"]]))
    if low != -high or high <= 0:
        raise ExportError(f"the autoencoder's image_range is [{low}, {high}]; the engine's xrv normalisation is "
                          "symmetric, [-R, R]")
    return size, high


def gate_card(key, from_architecture, seed, size, image_range):
    spec = GATES[key]
    limitations = [
        "Research use only; not a medical device.",
        "A gate, not a classifier: the engine compares its reconstruction of each image with the image (SSIM "
        "or RMSE) and refuses the image, withholding the members' findings, when the score is outside the "
        "accepted range in the pack's ensemble.json. The export writes no range: it is chosen on the "
        "site's own frontal chest radiographs (models/training/choose-gate.ts --images) and recorded with how.",
        f"Input: the VOI-windowed display rendering (bone bright), centre-square crop on the long side, area "
        f"resize to {size}x{size}, scaled to [-{image_range:g}, {image_range:g}], as the classifiers'.",
        "Trained on adult frontal (PA/AP) radiographs of the datasets named; what it reconstructs well "
        "beyond them (laterals, paediatric images, rotated or inverted images) is not established by this "
        "export and must be measured on local images.",
    ]
    if from_architecture:
        limitations.insert(0, f"STAND-IN WITH RANDOM WEIGHTS (torch seed {seed}): architecture-identical to "
                              f"TorchXRayVision's ResNetAE ({spec['weights']}) but untrained; its "
                              "reconstructions are meaningless.")
    return {
        "intendedUse": (
            "Export-path test of the TorchXRayVision importer; random weights, not for refusing or admitting "
            "radiographs" if from_architecture else
            "Research and evaluation: the out-of-distribution gate of a TorchXRayVision pack, refusing images "
            "it reconstructs unlike the site's own frontal chest radiographs; never a diagnosis"),
        "trainingData": (f"None: random initialisation (torch seed {seed}); stands in for {spec['weights']}, "
                         f"trained on {spec['data']}" if from_architecture else
                         f"{spec['data']} (TorchXRayVision autoencoder weights {spec['weights']})"),
        "metrics": {},
        "notForClinicalUse": True,
        "limitations": " ".join(limitations),
        "license": "Apache-2.0 (TorchXRayVision code and weights); the training datasets have their own terms",
        "citation": "Cohen JP, et al. Gifsplanation via Latent Shift: A Simple Autoencoder Approach to "
                    "Counterfactual Generation for Chest X-rays. Medical Imaging with Deep Learning (MIDL), "
                    "2021. https://arxiv.org/abs/2102.09475; and TorchXRayVision: A library of chest X-ray "
                    "datasets and models, MIDL 2022. https://github.com/mlmed/torchxrayvision",
    }


def _round32(values):
    """float32 values as the shortest decimals that read back to them (keeps the reference small)."""
    return [float(str(np.float32(value))) for value in values]


def export_gate(key, out_dir, from_architecture, seed, opset, float64, log):
    spec = GATES[key]
    started = time.time()
    if from_architecture:
        seed = seed + len(MODELS) + list(GATES).index(key)
        model, library = build_gate_stand_in(key, seed), None
    else:
        model, library = load_xrv_gate(key)
    size, image_range = gate_geometry(model, key)
    wrapper = XrvGateExport(model).eval()
    x = reference_inputs(2, size)
    with torch.no_grad():
        out = model(x.clone())
        if not isinstance(out, dict) or "out" not in out:
            raise ExportError(f"{type(model).__name__}'s forward returns {type(out).__name__}, not a dict with "
                              "'out' (TorchXRayVision's autoencoder returns {'z': latent, 'out': reconstruction})")
        reconstruction = wrapper(x)
        precision = None
        if float64:
            exact = copy.deepcopy(wrapper).double()(x.double())
            precision = {"reconstruction": float((reconstruction.double() - exact).abs().max())}
    if tuple(reconstruction.shape) != tuple(x.shape):
        raise ExportError(f"the reconstruction is {tuple(reconstruction.shape)}, the input {tuple(x.shape)}: the "
                          "gate compares them pixel for pixel")
    checks = {"reconstructionMinusLibraryForward": float((reconstruction - out["out"]).abs().max())}
    for name, value in checks.items():
        if not value <= 1e-5 * max(1.0, float(reconstruction.abs().max())):
            raise ExportError(f"gate: torch check {name} = {value:.3g}: the exported graph would not compute what "
                              "the library computes")

    gate_dir = os.path.join(out_dir, GATE_ID)
    os.makedirs(gate_dir, exist_ok=True)
    onnx_path = os.path.join(gate_dir, "model.onnx")
    onnx_export(wrapper, x, onnx_path, ["reconstruction"], opset)
    digest = sha256_file(onnx_path)
    origin = (f"architecture stand-in for TorchXRayVision ResNetAE {spec['weights']} with random weights, seed "
              f"{seed}" if from_architecture else f"TorchXRayVision {library}, ResNetAE weights {spec['weights']}")
    latent = tuple(out["z"].shape[1:])
    manifest = {
        "schemaVersion": 1,
        "id": GATE_ID,
        "name": ("ResNet autoencoder stand-in for TorchXRayVision's 101-elastic (random weights, export test)"
                 if from_architecture else f"TorchXRayVision ResNet autoencoder ({spec['weights']})"),
        "version": "0.0.0-stand-in" if from_architecture else f"1.0.0+xrv{library}".replace("+xrvunknown", ""),
        "architecture": (f"ResNet-101-style autoencoder, TorchXRayVision's ResNetAE101 ({origin}): bottleneck "
                         f"encoder of 3, 4, 23 and 2 blocks to a {'x'.join(map(str, latent))} latent, decoder of "
                         f"2, 23, 4 and 3 blocks, a top block and a 1x1 transposed convolution; 1 input channel, "
                         f"{size}x{size}; reconstruction in the input's units; ONNX opset {opset} from torch "
                         f"{torch.__version__}"),
        "onnx": {"file": "model.onnx", "sha256": digest},
        "input": {"name": "input", "channels": 1, "height": size, "width": size, "source": "display",
                  "crop": "center-square", "resize": "area", "normalization": {"kind": "xrv", "range": image_range}},
        "outputs": {"reconstruction": {"name": "reconstruction"}},
        "card": gate_card(key, from_architecture, seed, size, image_range),
    }
    write_json(os.path.join(gate_dir, "manifest.json"), manifest)
    error = (reconstruction - x).double()
    reference = {
        "key": key,
        "id": GATE_ID,
        "standInSeed": seed if from_architecture else None,  # build_gate_stand_in(key, seed) rebuilds it
        "onnx": {"file": f"{GATE_ID}/model.onnx", "sha256": digest},
        "input": {"name": "input", "shape": list(x.shape), "seed": REFERENCE_SEED, "kinds": ["phantom", "phantom-b"],
                  "phantoms": PHANTOMS, "sum": int(x.double().sum().item())},
        "torchChecks": checks,
        "torchFloat32MinusFloat64": precision,
        # For scale: how far torch's reconstruction is from its input, per image.
        "rmse": [float(v) for v in error.pow(2).mean((1, 2, 3)).sqrt()],
        "reconstruction": _round32(reconstruction.flatten().tolist()),
    }
    log(f"{GATE_ID} ({spec['weights']}): {os.path.getsize(onnx_path) / 1e6:.1f} MB, latent "
        f"{'x'.join(map(str, latent))}, reconstruction {tuple(reconstruction.shape[1:])} in "
        f"[{float(reconstruction.min()):.0f}, {float(reconstruction.max()):.0f}], RMSE to the input "
        + ", ".join(f"{v:.0f}" for v in reference["rmse"]) + "; torch checks "
        + ", ".join(f"{name} {value:.1e}" for name, value in checks.items())
        + (f"; torch float32 - float64 {precision['reconstruction']:.1e}" if precision else "")
        + f" ({time.time() - started:.1f} s)")
    return reference


def write_json(path, value):
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        json.dump(value, f, indent=2, allow_nan=False)
        f.write("\n")
    os.replace(temporary, path)


def parse_keys(text, what):
    keys = [key.strip() for key in text.split(",") if key.strip()]
    unknown = [key for key in keys if key not in MODELS]
    if unknown or not keys:
        raise ExportError(f"{what}: unknown key(s) {', '.join(unknown) or '(none)'}; known: {', '.join(MODELS)}")
    return list(dict.fromkeys(keys))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the pack folder to write")
    parser.add_argument("--weights", default=",".join(MODELS),
                        help=f"comma-separated keys (default: all of {','.join(MODELS)})")
    parser.add_argument("--members", default=None,
                        help="keys for ensemble.json's members (default: the exported ones of "
                             f"{','.join(DEFAULT_MEMBERS)}, else every exported one)")
    parser.add_argument("--from-architecture", action="store_true",
                        help="random-weight, architecture-identical stand-ins; needs no torchxrayvision")
    parser.add_argument("--seed", type=int, default=0,
                        help="--from-architecture: base torch seed, plus the key's position in the list of known "
                             "keys (default 0)")
    parser.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset, 13 or later (default {OPSET})")
    parser.add_argument("--pack-id", default=None, help="ensemble id (default torchxrayvision[-stand-in])")
    parser.add_argument("--float64", action="store_true",
                        help="also run torch in float64 and record how far its float32 outputs are from it "
                             "(slow: doubles without the fast kernels)")
    parser.add_argument("--gate", choices=["none", *GATES], default="none",
                        help="also export a gate model into DIR/gate: 'ae', TorchXRayVision's autoencoder "
                             "(ResNetAE 101-elastic), for a reconstruction check whose bound the site chooses "
                             "on its own radiographs (default none)")
    parser.add_argument("--force", action="store_true", help="write into a folder that already holds a pack")
    args = parser.parse_args(argv)
    started = time.time()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    def log(message):
        print(message, flush=True)

    def warn(message):
        print(f"warning: {message}", file=sys.stderr, flush=True)

    try:
        if args.opset < 13:
            raise ExportError("--opset must be 13 or later")
        keys = parse_keys(args.weights, "--weights")
        if args.members is None:
            members = [key for key in DEFAULT_MEMBERS if key in keys] or keys
        else:
            members = parse_keys(args.members, "--members")
            missing = [key for key in members if key not in keys]
            if missing:
                raise ExportError(f"--members {','.join(missing)} not in --weights: every member must be exported")
        out_dir = os.path.abspath(args.out)
        if os.path.exists(os.path.join(out_dir, "ensemble.json")) and not args.force:
            raise ExportError(f"{out_dir} already holds a pack (ensemble.json); pass --force to overwrite it")
        os.makedirs(out_dir, exist_ok=True)

        references = {}
        for key in keys:
            member, reference = export_member(key, out_dir, args.from_architecture, args.seed, args.opset, args.float64, log, warn)
            references[member] = reference
        gate_reference = None
        if args.gate != "none":
            gate_reference = export_gate(args.gate, out_dir, args.from_architecture, args.seed, args.opset,
                                         args.float64, log)
        pack_id = args.pack_id or ("torchxrayvision-stand-in" if args.from_architecture else "torchxrayvision")
        ensemble = {
            "schemaVersion": 1,
            "id": pack_id,
            "name": ("TorchXRayVision architecture stand-ins (random weights, export test)" if args.from_architecture
                     else "TorchXRayVision " + ", ".join(member_id(key) for key in members)),
            "version": "1.0.0",
            "members": [member_id(key) for key in members],
            "rule": {"kind": "majority"},
            # Random weights are a demonstration at most: every result they produce must say so.
            "demo": bool(args.from_architecture),
            # No gate check: its bound must be chosen on in-distribution images, which the exporter has
            # none of; choose-gate.ts --images writes it from the site's own radiographs.
        }
        write_json(os.path.join(out_dir, "ensemble.json"), ensemble)
        write_json(os.path.join(out_dir, REFERENCE_FILE), {
            "description": "torch outputs of each exported member on deterministic inputs; "
                           "node models/import/verify_export.mjs PACK compares onnxruntime-node with them",
            "generator": {"seed": REFERENCE_SEED, "hash": "lowbias32",
                          "fromArchitecture": bool(args.from_architecture), "torch": torch.__version__},
            # verify_export.mjs: max |difference| <= tolerance * max(1, max |torch value|), per output
            "tolerance": TOLERANCE,
            "members": references,
            **({"gate": gate_reference} if gate_reference else {}),
        })
        log(f"wrote {out_dir}: members {', '.join(ensemble['members'])} of {len(references)} exported "
            f"({time.time() - started:.1f} s)")
        if gate_reference:
            log(f"the gate model is in {os.path.join(out_dir, GATE_ID)}; ensemble.json has no gate check until its "
                "bound is chosen on the site's own frontal chest radiographs: node "
                f"dist/models/training/choose-gate.js --pack {out_dir} --images DIR (models/import/README.md)")
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
