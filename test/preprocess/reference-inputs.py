"""Model inputs from DICOM files, computed independently of the engine with pydicom and numpy.

    reference-inputs.py CASES.json

CASES.json: {"cases": [{"file": F, "raw": null | {"path": P, "dtype": "uint16"}, "out": O,
"specs": [InputSpec, ...]}]}. For each case and spec i it writes O-i.f32: the input tensor
(channels x height x width, float32 little endian) that the spec describes, made from the file as
the DICOM standard and the manifest define it:

- samples: the Pixel Data's words of Bits Allocated (or, with "raw", the samples a lossless
  encoding of the file was made from), Bits Stored at High Bit, sign-extended when Pixel
  Representation is 1; Pixel Padding Value (with Pixel Padding Range Limit) marks padding;
- modality values: stored * Rescale Slope + Rescale Intercept;
- display source: the first Window Center/Width pair (PS3.3 C.11.2.1.2.1, onto 0..255) or else
  the first VOI LUT (entry round(x) - first mapped, clamped; entry / (2^bits - 1) * 255); then
  255 - level for MONOCHROME1, truncated, at most 255; padding 0;
- stored source: (x - intercept) / slope, plus 2^(bits - 1) when signed, clamped to 0..2^bits - 1,
  inverted for MONOCHROME1; padding 0;
- crop: the centred square (offsets floored) or the whole image; area resize: each output sample
  the mean of the source area its interval covers, as a matrix of overlaps on each axis
  (out = Wy @ plane @ Wx.T), in float64; bilinear: half-pixel centres clamped to the image, from
  the plane rounded to float32 (as the engine holds it);
- normalisation: xrv (2 * v / max - 1) * range, or (v / max - mean) / std per channel.

    reference-inputs.py --make-8bit OUT.dcm

writes an 8-bit MONOCHROME1 test image with a window, padding and bits above Bits Stored set.
"""

import json
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def first(value):
    return float(value[0]) if isinstance(value, pydicom.multival.MultiValue) else float(value)


def samples(ds, raw):
    rows, columns = ds.Rows, ds.Columns
    allocated, stored, high = ds.BitsAllocated, ds.BitsStored, ds.HighBit
    if raw:
        words = np.fromfile(raw["path"], dtype=np.dtype(raw["dtype"]).newbyteorder("<"))[: rows * columns]
        words = words.astype(np.int64)
    else:
        dtype = "<u2" if allocated == 16 else "u1"
        words = np.frombuffer(ds.PixelData, dtype=dtype)[: rows * columns].astype(np.int64)
    values = (words >> (high + 1 - stored)) & ((1 << stored) - 1)
    if ds.PixelRepresentation == 1:
        values = np.where(values >= 1 << (stored - 1), values - (1 << stored), values)
    return values.reshape(rows, columns)


def padding_mask(ds, values):
    if "PixelPaddingValue" not in ds:
        return np.zeros(values.shape, dtype=bool)
    value = int(ds.PixelPaddingValue)
    limit = int(ds.PixelPaddingRangeLimit) if "PixelPaddingRangeLimit" in ds else value
    return (values >= min(value, limit)) & (values <= max(value, limit))


def display_plane(ds, modality, padding):
    invert = ds.PhotometricInterpretation == "MONOCHROME1"
    if "WindowCenter" in ds and "WindowWidth" in ds and first(ds.WindowWidth) >= 1:
        center, width = first(ds.WindowCenter), first(ds.WindowWidth)
        if width <= 1:
            windowed = np.where(modality <= center - 0.5, 0.0, 255.0)
        else:
            position = (modality - (center - 0.5)) / (width - 1) + 0.5
            windowed = np.where(position <= 0, 0.0, np.where(position >= 1, 255.0, position * 255))
    else:
        item = ds.VOILUTSequence[0]
        entries, first_mapped, bits = (int(v) for v in item.LUTDescriptor)
        entries = entries or 65536
        if ds.PixelRepresentation == 1 and first_mapped >= 32768:
            first_mapped -= 65536
        data = np.frombuffer(item["LUTData"].value, dtype="<u2")[:entries].astype(np.float64) if isinstance(
            item["LUTData"].value, bytes
        ) else np.asarray(item.LUTData, dtype=np.float64)[:entries]
        index = np.clip(np.floor(modality + 0.5) - first_mapped, 0, entries - 1).astype(np.int64)
        windowed = data[index] / (2**bits - 1) * 255
    level = np.minimum(255, np.floor(255 - windowed if invert else windowed))
    return np.where(padding, 0.0, level), 255.0


def stored_plane(ds, modality, padding):
    slope = float(ds.get("RescaleSlope", 1))
    intercept = float(ds.get("RescaleIntercept", 0))
    max_value = 2.0**ds.BitsStored - 1
    offset = 2.0 ** (ds.BitsStored - 1) if ds.PixelRepresentation == 1 else 0.0
    stored = np.clip((modality - intercept) / slope + offset, 0, max_value)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        stored = max_value - stored
    return np.where(padding, 0.0, stored), max_value


def overlaps(source_length, start, length, target):
    """W[t, j]: how much of source sample j the interval of output sample t covers."""
    scale = length / target
    j = np.arange(source_length, dtype=np.float64)
    low = start + np.arange(target, dtype=np.float64)[:, None] * scale
    high = low + scale
    return np.maximum(0.0, np.minimum(j[None, :] + 1, high) - np.maximum(j[None, :], low)), scale


def bilinear(plane, x, y, w, h, width, height):
    """Half-pixel centres, clamped to the image: sample c of the output is at x + (c + 0.5) * w / width - 0.5."""
    rows, columns = plane.shape

    def positions(start, length, target, size):
        p = np.clip(start + (np.arange(target) + 0.5) * (length / target) - 0.5, 0, size - 1)
        low = np.floor(p).astype(np.int64)
        return low, np.minimum(size - 1, low + 1), p - low

    y0, y1, fy = positions(y, h, height, rows)
    x0, x1, fx = positions(x, w, width, columns)
    top = plane[y0][:, x0] * (1 - fx) + plane[y0][:, x1] * fx
    bottom = plane[y1][:, x0] * (1 - fx) + plane[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def model_input(ds, raw, spec):
    values = samples(ds, raw).astype(np.float64)
    padding = padding_mask(ds, values)
    modality = values * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    plane, max_value = (display_plane if spec["source"] == "display" else stored_plane)(ds, modality, padding)
    rows, columns = plane.shape
    if spec["crop"] == "center-square":
        side = min(rows, columns)
        x, y, w, h = (columns - side) // 2, (rows - side) // 2, side, side
    else:
        x, y, w, h = 0, 0, columns, rows
    if spec["resize"] == "area":
        wx, sx = overlaps(columns, x, w, spec["width"])
        wy, sy = overlaps(rows, y, h, spec["height"])
        resized = (wy @ plane @ wx.T) / (sx * sy)
    else:
        resized = bilinear(plane.astype(np.float32).astype(np.float64), x, y, w, h, spec["width"], spec["height"])
    unit = resized / max_value
    normalization = spec["normalization"]
    channels = []
    for channel in range(spec["channels"]):
        if normalization["kind"] == "xrv":
            channels.append((2 * unit - 1) * normalization["range"])
        else:
            channels.append((unit - normalization["mean"][channel]) / normalization["std"][channel])
    return np.stack(channels).astype("<f4")


def make_8bit(path):
    rows, columns = 301, 263  # more pixels than an 8-bit word table has entries (256)
    y, x = np.mgrid[0:rows, 0:columns]
    values = (np.sin(x / 17.0) * np.cos(y / 23.0) * 60 + 64 + (x * 7 + y * 3) % 11).astype(np.uint8) & 0x7F
    values[:20, :] = 3  # a padded border (stored value 3)
    values = values | np.uint8(0x80) * ((x + y) % 3 == 0)  # bit 7 is above Bits Stored: ignored
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 7, 6, 0
    ds.RescaleSlope, ds.RescaleIntercept = 2, -10
    ds.WindowCenter, ds.WindowWidth = 60, 150
    ds.PixelPaddingValue = 3
    ds.PixelData = values.astype(np.uint8).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def main():
    if sys.argv[1] == "--make-8bit":
        make_8bit(sys.argv[2])
        return
    with open(sys.argv[1]) as handle:
        cases = json.load(handle)["cases"]
    for case in cases:
        ds = pydicom.dcmread(case["file"])
        for i, spec in enumerate(case["specs"]):
            model_input(ds, case["raw"], spec).tofile(f"{case['out']}-{i}.f32")


main()
