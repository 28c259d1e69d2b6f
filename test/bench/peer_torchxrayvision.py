"""The peer of `npm run bench:peer`: TorchXRayVision's README pipeline, one DenseNet-121, one image
at a time, from a checkout of the library (never installed or copied into this repository).

usage: /usr/bin/python3 test/bench/peer_torchxrayvision.py CHECKOUT FOLDER [THREADS]

For each PNG or JPEG in FOLDER (sorted), exactly the README's "Getting started" steps:
skimage.io.imread, xrv.datasets.normalize(img, 255), the mean over colour channels where there are
any, XRayCenterCrop and XRayResizer(224), torch.from_numpy, model(img[None, ...]). The model is
xrv.models.DenseNet(weights=None): the README's densenet121-res224-all architecture, randomly
initialised, since its weights cannot be downloaded here (the arithmetic, and so the time, is the
same; without weights the library skips its op_threshs calibration, a few operations per image).
The forward runs under torch.inference_mode(), which the README omits: it only makes the peer faster.
THREADS (default: every core) sets torch's intra-op threads: Debian's torch 1.13 starts with one
thread on a 2-core VM, which would halve the peer.

Prints one JSON line: the loop's seconds (first image to last, after the imports and the model's
construction, as the scan's own clock), images/s, the medians of reading + preprocessing and of
the forward per image, and torch's version and thread count.
"""
import json
import os
import statistics
import sys
import time
import warnings

if len(sys.argv) not in (3, 4):
    sys.exit("usage: peer_torchxrayvision.py TORCHXRAYVISION_CHECKOUT FOLDER [THREADS]")
checkout, folder = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) == 4 else os.cpu_count()
sys.path.insert(0, checkout)
try:
    import numpy as np
    import skimage.io
    import torch
    import torchvision
    import torchxrayvision as xrv
except ImportError as error:  # a bare machine: say what to install
    sys.exit(
        f"The peer needs TorchXRayVision's dependencies ({error}). Debian: apt-get install python3-torch "
        "python3-torchvision python3-skimage python3-pandas python3-requests python3-tqdm python3-imageio"
    )

warnings.simplefilter("ignore")
files = sorted(
    os.path.join(folder, name)
    for name in os.listdir(folder)
    if name.lower().endswith((".png", ".jpg", ".jpeg"))
)
if not files:
    sys.exit(f"No PNG or JPEG images in {folder}.")

torch.set_num_threads(threads)
torch.manual_seed(0)
model = xrv.models.DenseNet(weights=None)
model.eval()
transform = torchvision.transforms.Compose([xrv.datasets.XRayCenterCrop(), xrv.datasets.XRayResizer(224)])

prepare_ms, forward_ms = [], []
started = time.perf_counter()
with torch.inference_mode():
    for file in files:
        t0 = time.perf_counter()
        img = skimage.io.imread(file)
        img = xrv.datasets.normalize(img, 255)
        img = (img.mean(2) if img.ndim == 3 else img)[None, ...]
        img = torch.from_numpy(transform(img))
        t1 = time.perf_counter()
        outputs = model(img[None, ...])
        scores = outputs[0].numpy()
        t2 = time.perf_counter()
        if scores.shape != (18,) or not np.isfinite(scores).all():
            sys.exit(f"{file}: unexpected outputs {scores.shape}")
        prepare_ms.append((t1 - t0) * 1000)
        forward_ms.append((t2 - t1) * 1000)
seconds = time.perf_counter() - started
print(
    json.dumps(
        {
            "images": len(files),
            "seconds": seconds,
            "imagesPerSecond": len(files) / seconds,
            "prepareMs": statistics.median(prepare_ms),
            "forwardMs": statistics.median(forward_ms),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "torchxrayvision": getattr(xrv, "__version__", "unknown"),
        }
    )
)
