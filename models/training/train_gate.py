"""Fits the demonstration pack's gate model: the distance of an image from the training phantoms
in one member's own feature space.

usage: python3 models/training/train_gate.py --data DIR --pack models/packs/demo
         [--member densenet] [--shards 0,1] [--shrinkage 0.001]

DIR holds what prepare-dataset.ts wrote for the train shards (train-K.x.f32: the members' 224 x 224
inputs). Only training phantoms are read; the threshold is chosen afterwards on the validation
split by choose-gate.ts, through the product's Engine. Needs the project built (`npm run build`):
the features are computed by dist/models/training/gate-features.js with onnxruntime-node.

The model (Lee et al., "A simple unified framework for detecting out-of-distribution samples",
2018, with one Gaussian for the whole training set): the member's graph up to its globally pooled
features f (the vector its classifier reads), then the squared Mahalanobis distance
d = (f - mu)^T S^-1 (f - mu), mu and S the mean and covariance of f over the training phantoms
(S shrunk towards its mean variance by --shrinkage, so that it inverts well). Computed in the graph
as the squared norm of (f - mu) L, L the Cholesky factor of S^-1. An image whose features the
members have never seen the like of lies far out, whatever the classifier then says of it.

Writes PACK/gate/{model.onnx,manifest.json} and PACK/gate-training.json (what this run printed).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FEATURES = "/Flatten_output_0"


def feature_graph(member_onnx):
    """The member's graph with its pooled features as the only output (classifier and CAM dropped)."""
    model = onnx.load(member_onnx)
    graph = model.graph
    if not any(FEATURES in node.output for node in graph.node):
        raise SystemExit(f"{member_onnx} has no tensor {FEATURES} (the pooled features train.py's members end with)")
    while len(graph.output):
        graph.output.pop()
    graph.output.append(helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, ["batch", None]))
    # Keep only the nodes the features need.
    needed, kept = {FEATURES}, []
    for node in reversed(graph.node):
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = {name for node in graph.node for name in node.input}
    keep_init = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_init)
    return model


def with_distance(model, mu, factor):
    """Appends distance = sum(((f - mu) L)^2) to the feature graph; the only output."""
    graph = model.graph
    graph.initializer.extend([
        numpy_helper.from_array(mu.reshape(1, -1).astype(np.float32), "gate_mu"),
        numpy_helper.from_array(factor.astype(np.float32), "gate_factor"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "gate_axes"),
    ])
    graph.node.extend([
        helper.make_node("Sub", [FEATURES, "gate_mu"], ["gate_centred"]),
        helper.make_node("MatMul", ["gate_centred", "gate_factor"], ["gate_whitened"]),
        helper.make_node("Mul", ["gate_whitened", "gate_whitened"], ["gate_squares"]),
        helper.make_node("ReduceSum", ["gate_squares", "gate_axes"], ["distance"], keepdims=0),
    ])
    while len(graph.output):
        graph.output.pop()
    graph.output.append(helper.make_tensor_value_info("distance", TensorProto.FLOAT, ["batch"]))
    onnx.checker.check_model(model)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--pack", required=True)
    parser.add_argument("--member", default="densenet")
    parser.add_argument("--shards", default="0,1")
    parser.add_argument("--shrinkage", type=float, default=1e-3)
    args = parser.parse_args()
    started = time.time()
    member_dir = os.path.join(args.pack, args.member)
    member = json.load(open(os.path.join(member_dir, "manifest.json")))
    shards = [os.path.join(args.data, f"train-{k}.x.f32") for k in args.shards.split(",")]

    with tempfile.TemporaryDirectory() as scratch:
        features_onnx = os.path.join(scratch, "features.onnx")
        onnx.save(feature_graph(os.path.join(member_dir, member["onnx"]["file"])), features_onnx)
        out = os.path.join(scratch, "features.f32")
        subprocess.run(["node", os.path.join(ROOT, "dist", "models", "training", "gate-features.js"),
                        features_onnx, FEATURES, out, *shards], check=True)
        raw = np.fromfile(out, dtype="<f4")
    images = sum(os.path.getsize(path) for path in shards) // (224 * 224 * 4)
    f = raw.reshape(images, -1).astype(np.float64)
    channels = f.shape[1]
    print(f"[gate] {images} training phantoms ({', '.join(os.path.basename(s) for s in shards)}): "
          f"{channels} pooled features of {args.member}", flush=True)
    mu = f.mean(axis=0)
    centred = f - mu
    covariance = centred.T @ centred / images
    shrunk = covariance + args.shrinkage * np.trace(covariance) / channels * np.eye(channels)
    precision = np.linalg.inv(shrunk)
    factor = np.linalg.cholesky(precision)  # precision = L L^T, so d = |(f - mu) L|^2
    distances = np.einsum("ij,jk,ik->i", centred, precision, centred)
    print(f"[gate] training distances: median {np.median(distances):.1f}, 99th percentile "
          f"{np.quantile(distances, 0.99):.1f}, largest {distances.max():.1f} ({channels} degrees of freedom)", flush=True)

    model = with_distance(feature_graph(os.path.join(member_dir, member["onnx"]["file"])), mu, factor)
    folder = os.path.join(args.pack, "gate")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    onnx.save(model, path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    manifest = {
        "schemaVersion": 1,
        "id": "gate",
        "name": "Phantom feature distance: the demonstration pack's out-of-distribution gate (not for clinical use)",
        "version": "1.0.0",
        "architecture": (f"the {args.member} member ({member['version']}, ONNX sha256 {member['onnx']['sha256'][:12]}) "
                         f"up to its {channels} pooled features, then the squared Mahalanobis distance from the "
                         f"training phantoms' mean (covariance shrunk by {args.shrinkage} of its mean variance)"),
        "onnx": {"file": "model.onnx", "sha256": digest},
        "input": member["input"],
        "basedOn": {"member": member["id"], "sha256": member["onnx"]["sha256"]},
        "outputs": {"distance": {"name": "distance"}},
        "card": {
            "intendedUse": ("Refuses images unlike the synthetic phantoms the demonstration pack was trained on; "
                            "a demonstration of the product's out-of-distribution gate. Not for clinical use."),
            "trainingData": (f"{images:,} synthetic phantoms of the project's generator (train shards {args.shards}: "
                             "seeds 1001 + K), the distribution the members were trained on"),
            "metrics": {"trainingDistance": {"median": round(float(np.median(distances)), 2),
                                             "p99": round(float(np.quantile(distances, 0.99)), 2),
                                             "max": round(float(distances.max()), 2)}},
            "notForClinicalUse": True,
            "limitations": ("Knows phantoms only: it refuses real radiographs by design, since the members know "
                            "nothing of them. Its threshold lives in the pack's ensemble.json (gate.checks)."),
        },
    }
    with open(os.path.join(folder, "manifest.json"), "w") as out_file:
        json.dump(manifest, out_file, indent=2)
        out_file.write("\n")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "unknown CPU") \
        if os.path.exists("/proc/cpuinfo") else "unknown CPU"
    record = {"date": time.strftime("%Y-%m-%d"), "machine": f"{cpu}, {os.cpu_count()} cores",
              "command": " ".join(sys.argv), "numpy": np.__version__, "onnx": onnx.__version__,
              "member": args.member, "images": int(images), "features": int(channels),
              "shrinkage": args.shrinkage, "seconds": round(time.time() - started, 1), "sha256": digest}
    with open(os.path.join(args.pack, "gate-training.json"), "w") as out_file:
        json.dump(record, out_file, indent=2)
        out_file.write("\n")
    print(f"[gate] wrote {path} ({os.path.getsize(path):,} bytes, sha256 {digest[:12]}), {record['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
