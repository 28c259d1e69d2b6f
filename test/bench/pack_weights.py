"""Carries a random-weight model pack to a machine as its graphs alone, and gives it weights there.

usage: python3 test/bench/pack_weights.py strip PACK OUT
       python3 test/bench/pack_weights.py fill PACK

A benchmark pack of architecture-identical stand-ins (random weights) is timed, not read: its
weights carry no information, only its graph does. `strip` copies PACK to OUT with every float
initializer of more than 1,024 values emptied (shape and type kept; shape constants and small
tensors stay as they are), so three DenseNet-121 travel in a few hundred KiB instead of 84 MB.
`fill` gives each emptied initializer uniform random values of its shape (seed 0; the scale and
shift inputs of batch normalisation positive, so no variance is negative), writes the models
again and records their new SHA-256 in the members' manifests. Needs numpy and onnx only.
"""
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper

SMALL = 1024


def model_paths(pack):
    for entry in sorted(os.listdir(pack)):
        manifest = os.path.join(pack, entry, "manifest.json")
        if os.path.isfile(manifest):
            onnx_file = json.load(open(manifest))["onnx"]["file"]
            yield manifest, os.path.join(pack, entry, onnx_file)


def strip(pack, out):
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(pack, out, ignore=shutil.ignore_patterns("*.onnx", "torch-reference.json", "evidence"))
    emptied = 0
    for manifest, path in model_paths(pack):
        model = onnx.load(path)
        for tensor in model.graph.initializer:
            if tensor.data_type == onnx.TensorProto.FLOAT and int(np.prod(tensor.dims)) > SMALL:
                tensor.ClearField("raw_data")
                tensor.ClearField("float_data")
                emptied += 1
        target = os.path.join(out, os.path.relpath(path, pack))
        onnx.save(model, target)
    print(json.dumps({"out": out, "emptied": emptied}))


def positive_inputs(graph):
    """Initializers that must be positive: batch normalisation's scale and variance."""
    names = set()
    for node in graph.node:
        if node.op_type == "BatchNormalization":
            names.update(node.input[1:2])
            names.update(node.input[4:5])
    return names


def fill(pack):
    rng = np.random.default_rng(0)
    filled = 0
    for manifest_path, path in model_paths(pack):
        model = onnx.load(path)
        positive = positive_inputs(model.graph)
        for index, tensor in enumerate(model.graph.initializer):
            count = int(np.prod(tensor.dims))
            if tensor.data_type != onnx.TensorProto.FLOAT or count <= SMALL or tensor.raw_data or tensor.float_data:
                continue
            shape = tuple(tensor.dims)
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else count
            if tensor.name in positive:
                values = rng.uniform(0.5, 1.5, size=shape)
            else:
                bound = 1.0 / np.sqrt(max(1, fan_in))
                values = rng.uniform(-bound, bound, size=shape)
            model.graph.initializer[index].CopyFrom(numpy_helper.from_array(values.astype(np.float32), tensor.name))
            filled += 1
        onnx.save(model, path)
        manifest = json.load(open(manifest_path))
        manifest["onnx"]["sha256"] = hashlib.sha256(open(path, "rb").read()).hexdigest()
        json.dump(manifest, open(manifest_path, "w"), indent=2)
    print(json.dumps({"pack": pack, "filled": filled}))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "strip":
        strip(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "fill":
        fill(sys.argv[2])
    else:
        sys.exit("usage: pack_weights.py strip PACK OUT | pack_weights.py fill PACK")
