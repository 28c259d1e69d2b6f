"""Writes the images the image-based gate must refuse: misuses of phantoms and things that are not
chest radiographs at all, as PNG (the format that carries no metadata for the first gate to read).

usage: python3 models/training/make_gate_challenges.py --phantoms DIR --out DIR [--per-kind 50]

--phantoms: PNG phantoms from `triage phantom --format png` (with their masks/), never used in
training or in choosing the gate. Each kind is a sub-folder of --out:

  rotated-90, rotated-180   phantoms turned a quarter (alternately each way) or half turn
  inverted                  phantoms with black and white swapped
  corner-crop               a corner of a phantom, 30 to 45 % of each side
  masks                     the generator's binary ground-truth masks
  noise                     uniform and Gaussian noise, 8 and 16 bit
  blank                     black, white and grey images, 8 and 16 bit
  colour-photos             scikit-image's and scikit-learn's bundled colour photographs
  grey-photos               scikit-image's bundled greyscale photographs and scans
  ct-slices                 pydicom's test CT slices (real patients' data, anonymised), each at a
                            lung, soft-tissue and bone window; the Shepp-Logan CT phantom
  mr-slices                 pydicom's test MR slice, at three windows, resized to 256 and 512

Needs numpy, Pillow, scikit-image, scikit-learn and pydicom (Debian: python3-skimage,
python3-sklearn, python3-pydicom); JPEG 2000 CT slices are decompressed with gdcmconv
(libgdcm-tools). Nothing is downloaded. Writes OUT/manifest.json: every file with its kind and source.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image


def save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if array.dtype == np.uint16:
        Image.fromarray(array).save(path)  # PIL writes 16-bit grey from a uint16 array ("I;16")
    else:
        Image.fromarray(array.astype(np.uint8)).save(path)


def load(path):
    image = Image.open(path)
    array = np.array(image)
    return array


def window(values, center, width, bits=8):
    top = (1 << bits) - 1
    low = center - width / 2
    scaled = np.clip((values.astype(np.float64) - low) / width, 0, 1) * top
    return scaled.round().astype(np.uint16 if bits == 16 else np.uint8)


def resize(array, size):
    return np.array(Image.fromarray(array).resize((size, size), Image.BICUBIC))


def dicom_values(path):
    import pydicom
    dataset = pydicom.dcmread(path)
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        with tempfile.TemporaryDirectory() as scratch:
            raw = os.path.join(scratch, "raw.dcm")
            subprocess.run(["gdcmconv", "--raw", path, raw], check=True)
            dataset = pydicom.dcmread(raw)
    values = dataset.pixel_array.astype(np.float64)
    return values * float(getattr(dataset, "RescaleSlope", 1)) + float(getattr(dataset, "RescaleIntercept", 0))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phantoms", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-kind", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    entries = []

    def write(kind, name, array, source):
        path = os.path.join(args.out, kind, name + ".png")
        save(path, array)
        entries.append({"file": os.path.relpath(path, args.out), "kind": kind, "source": source})

    phantoms = sorted(f for f in os.listdir(args.phantoms) if f.endswith(".png"))
    n = min(args.per_kind, len(phantoms))
    for i, name in enumerate(phantoms[:n]):
        image = load(os.path.join(args.phantoms, name))
        stem = name[:-4]
        top = 65535 if image.dtype == np.uint16 else 255
        write("rotated-90", stem, np.ascontiguousarray(np.rot90(image, 1 if i % 2 == 0 else -1)), name)
        write("rotated-180", stem, np.ascontiguousarray(np.rot90(image, 2)), name)
        write("inverted", stem, (top - image.astype(np.int64)).astype(image.dtype), name)
        rows, columns = image.shape
        share = rng.uniform(0.30, 0.45)
        h, w = int(rows * share), int(columns * share)
        corner = i % 4
        y = 0 if corner < 2 else rows - h
        x = 0 if corner % 2 == 0 else columns - w
        write("corner-crop", stem, np.ascontiguousarray(image[y:y + h, x:x + w]), name)

    masks = []
    mask_root = os.path.join(args.phantoms, "masks")
    for finding in sorted(os.listdir(mask_root)):
        for name in sorted(os.listdir(os.path.join(mask_root, finding))):
            masks.append(os.path.join(finding, name))
    for index in rng.choice(len(masks), size=min(args.per_kind, len(masks)), replace=False):
        source = masks[index]
        mask = load(os.path.join(mask_root, source))
        binary = np.where(mask > 0, 255, 0).astype(np.uint8)
        write("masks", source.replace("/", "-")[:-4], binary, f"masks/{source}")

    for i in range(20):
        size = int(rng.choice([256, 512, 600, 1024]))
        sixteen = i % 2 == 1
        top = 65535 if sixteen else 255
        if i < 10:
            noise = rng.integers(0, top + 1, size=(size, size))
        else:
            noise = np.clip(rng.normal(top / 2, top / 6, size=(size, size)), 0, top)
        write("noise", f"noise-{i:02d}", noise.astype(np.uint16 if sixteen else np.uint8), "uniform" if i < 10 else "gaussian")

    for i, (value, bits) in enumerate([(0, 8), (255, 8), (128, 8), (40, 8), (0, 16), (65535, 16), (32768, 16), (1000, 16)]):
        array = np.full((512, 512), value, dtype=np.uint16 if bits == 16 else np.uint8)
        write("blank", f"blank-{i}-{bits}bit-{value}", array, f"constant {value}, {bits} bit")

    import skimage.data as data
    from sklearn.datasets import load_sample_images

    colour = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "ihc", "colorwheel"]
    for name in colour:
        if not hasattr(data, name):
            continue
        array = getattr(data, name)()
        if array.ndim == 3:
            write("colour-photos", name, array[..., :3].astype(np.uint8), f"skimage.data.{name}")
    samples = load_sample_images()
    for name, array in zip(samples.filenames, samples.images):
        write("colour-photos", os.path.basename(name)[:-4], array, f"sklearn sample image {os.path.basename(name)}")

    for name in ["camera", "moon", "coins", "page", "text", "brick", "grass", "gravel", "cell", "horse", "clock"]:
        if not hasattr(data, name):
            continue
        array = np.asarray(getattr(data, name)())
        if array.dtype == bool:
            array = np.where(array, 255, 0).astype(np.uint8)
        write("grey-photos", name, array.astype(np.uint8), f"skimage.data.{name}")

    from pydicom.data import get_testdata_file
    windows = {"lung": (-600, 1500), "soft-tissue": (40, 400), "bone": (400, 2000)}
    for name in ["CT_small.dcm", "693_J2KI.dcm"]:
        values = dicom_values(get_testdata_file(name))
        for label, (center, width) in windows.items():
            for bits in (8, 16):
                write("ct-slices", f"{name[:-4]}-{label}-{bits}bit", window(values, center, width, bits),
                      f"pydicom test file {name}, {label} window")
    phantom = np.asarray(data.shepp_logan_phantom())
    write("ct-slices", "shepp-logan", (phantom * 255).round().astype(np.uint8), "skimage.data.shepp_logan_phantom")

    values = dicom_values(get_testdata_file("MR_small.dcm"))
    low, high = np.percentile(values, [1, 99.5])
    for label, (center, width) in {"full": ((low + high) / 2, high - low),
                                   "narrow": ((low + high) / 2, (high - low) / 2),
                                   "bright": (low + (high - low) * 0.3, (high - low) * 0.6)}.items():
        windowed = window(values, center, width)
        for size in (256, 512):
            write("mr-slices", f"MR_small-{label}-{size}", resize(windowed, size), f"pydicom test file MR_small.dcm, {label} window")

    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump({"command": " ".join(sys.argv), "files": entries}, f, indent=1)
        f.write("\n")
    kinds = {}
    for entry in entries:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    print(json.dumps(kinds))


if __name__ == "__main__":
    main()
