"""Trains the demonstration pack's three members on phantoms and exports them as a model pack.

usage: python3 models/training/train.py --data DIR --pack models/packs/demo [--device auto|cpu|cuda]
         [--threads N] [--epochs N] [--batch 64] [--budget-minutes M] [--members resnet,densenet,mobilenet]
         [--stage all|members|assemble]

DIR holds what prepare-dataset.ts wrote for `validation` and `train` (train.* or the shards
train-K.*: NAME.x.f32, NAME.y.f32, NAME.m.u8, NAME.json). The held-out `evidence` split (and the old
`test` split, seed 3003) is never read here.

Runs with Debian's Python (torch 1.13, onnx 1.12) on the CPU, or torch 2.x on a CUDA GPU (the
committed pack: see its training.json). Three members of different architectures, each with its own
seed and its own bootstrap sample of the training set:

  resnet     ResNet-style: residual basic blocks (the last two dilated), features 96 x 28 x 28
  densenet   DenseNet-style: two dense blocks (growth 16 and 24) with a transition, features 192 x 28 x 28
  mobilenet  MobileNet-style: depthwise-separable convolutions (MobileNet v1 blocks), features 160 x 28 x 28

Each ends ReLU(features) -> global average pool -> linear, the final feature stride is 8 (a 28 x 28
CAM on a 224 x 224 input), and the graph computes the class activation map in the project's
convention: cam[n, k] = sum_c W[k, c] * relu(features)[n, c] + b[k], so mean over cells == logit.
The input is TorchXRayVision's [-1024, 1024] scale; the graph divides by 1024 first.

Training: multi-label BCE over the 7 findings (normal is not an output), plus an auxiliary loss
that only guides the features: a 1x1 convolution on the same features, used in training and never
exported, learns each finding's ground-truth mask on the 28 x 28 grid (the share of each cell the
phantom's mask covers, NAME.m.u8; BCE with positive cells weighted 10; --aux-weight 0 turns it
off). The exported CAM is still the classifier's own (its weights on the features), not this head;
a second auxiliary term (--loc-weight, default 0.2) asks that CAM to point at the finding: for each
present finding, -log of the share of softmax(CAM over the cells) on the cells its mask touches
(shift-invariant, so it leaves the logit, the CAM's mean, to the classification loss).
AdamW, a short warm-up then cosine decay, bfloat16 autocast (weights stay float32), light
augmentation (small affine jitter, contrast/brightness, noise; no flips: the heart is on the left).
Each member trains a fixed number of epochs (40; early stopping keeps the epoch with the best
validation mean AUC, patience 8), batch 64, so that the pack does not depend on the machine or its
load; --budget-minutes M instead shortens the plans to fit M minutes per member from the measured
epochs (then the result depends on the machine). On a GPU, runs differ in the last bits (cuDNN picks
its algorithms), not in substance. Operating points: per label, the
threshold maximising Youden's J on the validation split (TorchXRayVision's op_threshs), placed half
way (in logit space) between the last validation score called positive and the next one below it.

Writes PACK/ensemble.json, PACK/<member>/{model.onnx,manifest.json} (card.metrics.validation
filled; evaluate.ts adds the held-out evidence metrics) and PACK/training.json (what this run printed).
"""
import argparse
import hashlib
import inspect
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
PATIENCE = 8
MIN_EPOCHS = 4
WARMUP_STEPS = 40
AUX_POS_WEIGHT = torch.tensor(10.0)
# A head whose validation AUC stays below this ships untrained (masked: it never votes), as
# TorchXRayVision ships the heads it could not train: a near-chance output would only add random
# calls (a random "nodule" makes a study urgent). Decided on validation, never on the test split.
MIN_TRAINED_AUC = 0.6

MEMBERS = {
    # id: (class name, seed, learning rate, epochs, channels-last memory format on the CPU: faster for
    #      the depthwise convolutions; on a GPU every member runs channels-last)
    "resnet": ("ResNetSmall", 11, 2e-3, 40, False),
    "densenet": ("DenseNetSmall", 22, 3e-3, 40, False),
    "mobilenet": ("MobileNetSmall", 33, 3e-3, 40, True),
}


# ---------------------------------------------------------------------------------------------
# Architectures. Each maps [N, 1, 224, 224] (already divided by 1024) to post-ReLU features
# [N, C, 28, 28]; .channels is C.

def conv_bn_relu(cin, cout, kernel=3, stride=1, dilation=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=dilation * (kernel // 2), dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions and an identity (or 1x1 projection) shortcut."""

    def __init__(self, cin, cout, stride=1, dilation=1):
        super().__init__()
        self.conv1 = conv_bn_relu(cin, cout, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, dilation, dilation=dilation, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(self.conv2(self.conv1(x)) + identity)


class ResNetSmall(nn.Module):
    description = (
        "ResNet-style: stem 3x3/2 (24) and 3x3/2 (48), two basic blocks at 56x56 (48), a strided basic block "
        "to 28x28 (96) and two basic blocks dilated 2 and 4 (96); residual connections throughout"
    )

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(1, 24, 3, 2), conv_bn_relu(24, 48, 3, 2))
        self.stage1 = nn.Sequential(BasicBlock(48, 48), BasicBlock(48, 48))
        self.stage2 = nn.Sequential(BasicBlock(48, 96, 2), BasicBlock(96, 96, dilation=2), BasicBlock(96, 96, dilation=4))
        self.channels = 96

    def forward(self, x):
        return self.stage2(self.stage1(self.stem(x)))


class DenseLayer(nn.Module):
    """BN-ReLU-conv3x3 producing `growth` new channels, concatenated to its input (DenseNet)."""

    def __init__(self, cin, growth, dilation=1):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, growth, 3, 1, dilation, dilation=dilation, bias=False)
        )

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


class DenseNetSmall(nn.Module):
    description = (
        "DenseNet-style: stem 3x3/2 (16) and 3x3/2 (32), dense block of 4 layers (growth 16) at 56x56, "
        "transition (BN-ReLU-1x1 conv halving the channels, 2x2 average pool) to 28x28, dense block of "
        "6 layers (growth 24, dilations 1, 2, 4, 1, 2, 4), final BN-ReLU"
    )

    def __init__(self, growth1=16, layers1=4, growth2=24, layers2=6):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(1, 16, 3, 2), conv_bn_relu(16, 32, 3, 2))
        channels = 32
        block1 = []
        for _ in range(layers1):
            block1.append(DenseLayer(channels, growth1))
            channels += growth1
        self.block1 = nn.Sequential(*block1)
        half = channels // 2
        self.transition = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, half, 1, bias=False), nn.AvgPool2d(2))
        channels = half
        block2 = []
        for i in range(layers2):
            block2.append(DenseLayer(channels, growth2, dilation=(1, 2, 4, 1, 2, 4)[i % 6]))
            channels += growth2
        self.block2 = nn.Sequential(*block2)
        self.norm = nn.BatchNorm2d(channels)
        self.channels = channels

    def forward(self, x):
        return F.relu(self.norm(self.block2(self.transition(self.block1(self.stem(x))))))


class DepthwiseSeparable(nn.Module):
    """MobileNet v1's block: depthwise 3x3 (BN, ReLU), then pointwise 1x1 (BN, ReLU)."""

    def __init__(self, cin, cout, stride=1, dilation=1):
        super().__init__()
        self.depthwise = conv_bn_relu(cin, cin, 3, stride, dilation, groups=cin)
        self.pointwise = conv_bn_relu(cin, cout, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class MobileNetSmall(nn.Module):
    description = (
        "MobileNet-style: stem 3x3/2 (24), depthwise-separable blocks 24->48 /2, 48->48, 48->96 /2, "
        "96->96 (dilated 2), 96->96 (dilated 4), 96->128, 128->160 (dilated 2)"
    )

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(1, 24, 3, 2),
            DepthwiseSeparable(24, 48, 2),
            DepthwiseSeparable(48, 48),
            DepthwiseSeparable(48, 96, 2),
            DepthwiseSeparable(96, 96, dilation=2),
            DepthwiseSeparable(96, 96, dilation=4),
            DepthwiseSeparable(96, 128),
            DepthwiseSeparable(128, 160, dilation=2),
        )
        self.channels = 160

    def forward(self, x):
        return self.body(x)


class CamModel(nn.Module):
    """input [-1024, 1024] -> features -> (logits by GAP + linear, cam by the linear layer as a 1x1 conv)."""

    def __init__(self, backbone, labels):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.channels, labels)
        # Auxiliary head for training only (deep supervision by the phantoms' masks); forward() and
        # so the exported graph never use it.
        self.aux = nn.Conv2d(backbone.channels, labels, 1)

    def features(self, x):
        return F.relu(self.backbone(x * (1.0 / 1024.0)))

    def forward(self, x):
        features = self.features(x)
        logits = self.fc(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))
        weight = self.fc.weight.reshape(self.fc.out_features, self.fc.in_features, 1, 1)
        cam = F.conv2d(features, weight, self.fc.bias)
        return logits, cam

    def logits(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))

    def training_outputs(self, x):
        """logits, the auxiliary head's mask logits and the CAM (the exported one), from one pass."""
        features = self.features(x)
        logits = self.fc(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))
        weight = self.fc.weight.reshape(self.fc.out_features, self.fc.in_features, 1, 1)
        return logits, self.aux(features), F.conv2d(features, weight, self.fc.bias)


def localisation_loss(cam, masks, labels):
    """For each present finding with a mask: -log of the share of softmax(CAM over the cells) that
    falls on the cells its mask touches. Shift-invariant (it leaves the logit, the CAM's mean, to
    the classification loss) and it rewards exactly what the pointing game tests: the CAM's peak
    inside the finding. Zero when the batch holds no finding."""
    log_share = F.log_softmax(cam.flatten(2), -1)
    inside = masks.flatten(2) > 0.1
    per_pair = torch.logsumexp(log_share.masked_fill(~inside, float("-inf")), -1)
    valid = inside.any(-1) & (labels > 0)
    if not bool(valid.any()):
        return cam.sum() * 0.0
    return -per_pair[valid].mean()


# ---------------------------------------------------------------------------------------------
# Metrics (numpy; no scikit-learn on this machine).

def auc(y, s):
    """ROC AUC by the Mann-Whitney statistic with mid-ranks for ties; None with one class only."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def youden_threshold(y, logits):
    """The logit threshold maximising sensitivity + specificity - 1 (positive when logit >= threshold)."""
    y = np.asarray(y).astype(bool)
    values = np.unique(np.asarray(logits, dtype=np.float64))[::-1]  # descending
    positives, negatives = y.sum(), (~y).sum()
    best = (-2.0, values[0], 0.0, 0.0)
    for index, value in enumerate(values):
        called = logits >= value
        tpr = (called & y).sum() / positives
        fpr = (called & ~y).sum() / negatives
        if tpr - fpr > best[0]:
            below = values[index + 1] if index + 1 < len(values) else value - 1.0
            best = (tpr - fpr, (value + below) / 2, tpr, 1 - fpr)
    return best  # J, logit threshold, sensitivity, specificity


def micro_f1(y, called):
    tp = int((called & y).sum())
    fp = int((called & ~y).sum())
    fn = int((~called & y).sum())
    return (2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 1.0, tp, fp, fn


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


# ---------------------------------------------------------------------------------------------

def load_split(data_dir, name, labels):
    with open(os.path.join(data_dir, f"{name}.json")) as f:
        meta = json.load(f)
    n, c, h, w = meta["shape"]
    if [label["term"] for label in meta["labels"]] != [label["term"] for label in labels]:
        raise SystemExit(f"{name}.json lists other labels than config.json")
    x = np.fromfile(os.path.join(data_dir, f"{name}.x.f32"), dtype="<f4")
    y = np.fromfile(os.path.join(data_dir, f"{name}.y.f32"), dtype="<f4")
    if x.size != n * c * h * w or y.size != n * len(labels):
        raise SystemExit(f"{name}: tensor sizes do not match {name}.json")
    masks = None
    mask_path = os.path.join(data_dir, f"{name}.m.u8")
    if "maskShape" in meta and os.path.exists(mask_path):
        masks = torch.from_numpy(np.fromfile(mask_path, dtype=np.uint8).reshape(meta["maskShape"]))
    return torch.from_numpy(x.reshape(n, c, h, w)), torch.from_numpy(y.reshape(n, len(labels))), masks, meta


def load_training_split(data_dir, labels):
    """The train split: train.* or, when prepared in shards, every train-K.* (concatenated in K order)."""
    if os.path.exists(os.path.join(data_dir, "train.json")):
        return load_split(data_dir, "train", labels)
    shards = sorted((int(name[len("train-"):-len(".json")]) for name in os.listdir(data_dir)
                     if name.startswith("train-") and name.endswith(".json")))
    if not shards:
        raise SystemExit(f"{data_dir}: no train.json nor train-K.json (run prepare-dataset.ts first)")
    parts = [load_split(data_dir, f"train-{k}", labels) for k in shards]
    masks = None if any(p[2] is None for p in parts) else torch.cat([p[2] for p in parts])
    meta = {
        "seed": [p[3]["seed"] for p in parts], "count": sum(p[3]["count"] for p in parts),
        "generator": [p[3]["generator"] for p in parts], "shards": len(parts),
        "prevalence": {t: sum(p[3]["prevalence"][t] * p[3]["count"] for p in parts) / sum(p[3]["count"] for p in parts)
                       for t in parts[0][3]["prevalence"]},
    }
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), masks, meta


def augment(x, generator, masks=None):
    """Light, label-preserving jitter on a batch in the [-1024, 1024] scale: rotation +-4 degrees,
    scale +-5 %, shift +-3 % of the side, contrast x0.9-1.1, brightness +-48 (about 6 grey levels),
    Gaussian noise of sigma up to 16. No flips: left and right differ in a chest. Masks (cell
    coverage, [N, labels, g, g]) move with their images."""
    n = x.shape[0]

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=generator, device=x.device)

    angle = uniform(-4, 4) * math.pi / 180
    scale = uniform(0.95, 1.05)
    tx, ty = uniform(-0.06, 0.06), uniform(-0.06, 0.06)  # affine_grid coordinates span 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = uniform(0.9, 1.1).view(n, 1, 1, 1)
    brightness = uniform(-48, 48).view(n, 1, 1, 1)
    noise = uniform(0, 16).view(n, 1, 1, 1) * torch.randn(x.shape, generator=generator, device=x.device)
    x = (x * contrast + brightness + noise).clamp(-1024, 1024)
    if masks is None:
        return x, None
    grid = F.affine_grid(theta, list(masks.shape), align_corners=False)
    return x, F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def predict_logits(model, x, batch=64, with_peaks=False):
    """float64 logits [N, labels] (float32 arithmetic, on the model's device); with_peaks: also each
    CAM's argmax cell (flat index) [N, labels]."""
    model.eval()
    device = next(model.parameters()).device
    out, peaks = [], []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            chunk = x[start:start + batch].to(device)
            if with_peaks:
                logits, cam = model(chunk)
                peaks.append(cam.flatten(2).argmax(-1).cpu())
            else:
                logits = model.logits(chunk)
            out.append(logits.float().cpu())
    logits = torch.cat(out).numpy().astype(np.float64)
    return (logits, torch.cat(peaks).numpy()) if with_peaks else logits


def cell_pointing(peaks, masks, y):
    """Validation stand-in for the pointing game: the share of present findings whose CAM argmax
    cell is at least half covered by the finding's mask (cell centre about inside)."""
    if masks is None:
        return None
    coverage = masks.flatten(2).numpy()
    present = (y.numpy() > 0) & (coverage.max(-1) > 0)
    hits = np.take_along_axis(coverage, peaks[..., None], -1)[..., 0] >= 128
    return float((hits & present).sum() / max(1, present.sum()))


def validation_metrics(y, logits, terms, thresholds=None):
    """AUC per label; with thresholds (logits), sensitivity, specificity and micro-F1 at them."""
    y = np.asarray(y).astype(bool)
    per_label = {}
    for k, term in enumerate(terms):
        entry = {"auc": auc(y[:, k], logits[:, k])}
        if thresholds is not None:
            called = logits[:, k] >= thresholds[k]
            entry["sensitivity"] = float((called & y[:, k]).sum() / max(1, y[:, k].sum()))
            entry["specificity"] = float((~called & ~y[:, k]).sum() / max(1, (~y[:, k]).sum()))
        per_label[term] = entry
    aucs = [entry["auc"] for entry in per_label.values() if entry["auc"] is not None]
    result = {"meanAuc": float(np.mean(aucs)), "perLabel": per_label}
    if thresholds is not None:
        f1, tp, fp, fn = micro_f1(y, logits >= np.asarray(thresholds)[None, :])
        result.update({"microF1": f1, "tp": tp, "fp": fp, "fn": fn})
    return result


def train_member(member_id, x_train, y_train, m_train, x_val, y_val, m_val, terms, budget_s, epochs, batch_size, aux_weight,
                 loc_weight, bf16, device):
    """x_train, y_train, m_train and x_val on `device`; y_val and m_val on the CPU."""
    class_name, seed, lr, _, channels_last = MEMBERS[member_id]
    memory_format = torch.channels_last if channels_last or device.type == "cuda" else torch.contiguous_format
    torch.manual_seed(seed)
    # Bootstrap and batch order from a CPU generator (the same on every machine); augmentation draws
    # on the training device.
    generator = torch.Generator().manual_seed(seed)
    augmenter = torch.Generator(device=device).manual_seed(seed)
    model = CamModel(globals()[class_name](), len(terms)).to(device=device, memory_format=memory_format)
    parameters = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("aux."))
    use_aux = aux_weight > 0 and m_train is not None
    use_loc = loc_weight > 0 and m_train is not None
    # Bagging: this member's own bootstrap sample (with replacement) of the training set.
    bootstrap = torch.randint(0, len(x_train), (len(x_train),), generator=generator)
    unique = int(torch.unique(bootstrap).numel())
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(bootstrap) / batch_size)
    print(f"[{member_id}] {class_name}: {parameters} parameters, seed {seed}, bootstrap sample {len(bootstrap)} "
          f"({unique} distinct images), {epochs} epochs{'' if budget_s is None else f' at most, budget {budget_s:.0f} s'}, auxiliary mask loss {aux_weight if use_aux else 0}, "
          f"CAM localisation loss {loc_weight if use_loc else 0}", flush=True)

    history = []
    durations = []
    best = None
    planned = epochs
    started = time.time()
    epoch = 0
    while epoch < planned:
        epoch_started = time.time()
        model.train()
        order = bootstrap[torch.randperm(len(bootstrap), generator=generator)]
        total_loss = torch.zeros((), device=device)  # summed on the device: no sync every step
        for step in range(steps_per_epoch):
            if epoch == 0:
                rate = lr * min(1.0, (step + 1) / WARMUP_STEPS)  # warm-up
            else:
                progress = ((epoch - 1) * steps_per_epoch + step) / max(1, (planned - 1) * steps_per_epoch)
                rate = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
            for group in optimizer.param_groups:
                group["lr"] = rate
            index = order[step * batch_size:(step + 1) * batch_size].to(device)
            x, masks = augment(x_train[index], augmenter, m_train[index].float() / 255.0 if use_aux or use_loc else None)
            # bfloat16 autocast: about 1.8 times faster on a CPU with AVX512-BF16, and the GPU's fast
            # path; weights stay float32.
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits, aux, cam = model.training_outputs(x.contiguous(memory_format=memory_format))
            loss = F.binary_cross_entropy_with_logits(logits.float(), y_train[index])
            if use_aux:
                loss = loss + aux_weight * F.binary_cross_entropy_with_logits(aux.float(), masks, pos_weight=AUX_POS_WEIGHT)
            if use_loc:
                loss = loss + loc_weight * localisation_loss(cam.float(), masks, y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.detach() * len(index)
            if epoch == 0 and step in (9, 49):
                print(f"[{member_id}]   {step + 1} steps in {time.time() - epoch_started:.1f} s", flush=True)
        total_loss = float(total_loss)
        logits, peaks = predict_logits(model, x_val, with_peaks=True)
        val_loss = float(F.binary_cross_entropy_with_logits(torch.from_numpy(logits), y_val.double()))
        metrics = validation_metrics(y_val.numpy(), logits, terms)
        pointing = cell_pointing(peaks, m_val, y_val)
        seconds = time.time() - epoch_started
        durations.append(seconds)
        # Fit the plan to the budget, from the measured epochs (the first one sizes the run; a slower
        # machine, or other work on it, shortens the plan; the cosine schedule follows the plan).
        if budget_s is not None:
            remaining = budget_s - (time.time() - started)
            fits = epoch + 1 + int(remaining // (sum(durations) / len(durations)))
            if fits < planned:
                planned = max(epoch + 1, min(planned, fits), min(planned, MIN_EPOCHS))
        if epoch == 0:
            print(f"[{member_id}] first epoch took {seconds:.1f} s: {planned} epochs planned, about "
                  f"{planned * seconds / 60:.1f} min", flush=True)
        history.append({"epoch": epoch + 1, "trainLoss": total_loss / len(bootstrap), "valLoss": val_loss,
                        "valMeanAuc": metrics["meanAuc"], "valCellPointing": pointing, "seconds": round(seconds, 1)})
        print(f"[{member_id}] epoch {epoch + 1}/{planned}: train loss {total_loss / len(bootstrap):.4f}, val loss {val_loss:.4f}, "
              f"val mean AUC {metrics['meanAuc']:.4f} ({' '.join('%.3f' % v['auc'] for v in metrics['perLabel'].values())}), "
              f"CAM peak on the finding {'-' if pointing is None else '%.3f' % pointing}, {seconds:.0f} s",
              flush=True)
        if best is None or (metrics["meanAuc"], -val_loss) > (best["meanAuc"], -best["valLoss"]):
            best = {"epoch": epoch + 1, "meanAuc": metrics["meanAuc"], "valLoss": val_loss,
                    "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        elif epoch + 1 - best["epoch"] >= PATIENCE:
            print(f"[{member_id}] no improvement for {PATIENCE} epochs: stopping", flush=True)
            epoch += 1
            break
        epoch += 1
    model.load_state_dict(best["state"])
    model = model.to(device="cpu", memory_format=torch.contiguous_format).eval()
    training = {
        "architecture": class_name,
        "parameters": parameters,
        "seed": seed,
        "learningRate": lr,
        "batchSize": batch_size,
        "bfloat16Autocast": bf16,
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "auxiliaryMaskLoss": aux_weight if use_aux else 0,
        "camLocalisationLoss": loc_weight if use_loc else 0,
        "bootstrap": {"size": len(bootstrap), "distinct": unique},
        "plannedEpochs": planned,
        "epochsRun": epoch,
        "bestEpoch": best["epoch"],
        "trainSeconds": round(time.time() - started, 1),
        "history": history,
    }
    return model, training


def export(model, path, size):
    x = torch.randn(2, 1, size, size) * 400
    with torch.no_grad():
        logits, cam = model(x)
    gap_error = float((cam.mean((2, 3)) - logits).abs().max())
    assert gap_error < 1e-3, f"mean(cam) differs from the logits by {gap_error}"
    # The TorchScript exporter (torch 1.13 has only it; torch 2.x would default to the dynamo one).
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(
        model, x, path, input_names=["input"], output_names=["scores", "cam"],
        dynamic_axes={"input": {0: "batch"}, "scores": {0: "batch"}, "cam": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True, **legacy,
    )
    onnx.checker.check_model(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return digest, list(cam.shape[2:]), gap_error


def trained_heads(validation, terms):
    """Per label: whether the head ships trained (validation AUC at least MIN_TRAINED_AUC)."""
    return [validation["perLabel"][term]["auc"] is not None and validation["perLabel"][term]["auc"] >= MIN_TRAINED_AUC
            for term in terms]


def manifest_labels(labels, operating_points, trained):
    return [{"name": label["name"], "term": label["term"], "tree": label["tree"],
             "operatingPoint": op if ok else None, "trained": ok}
            for label, op, ok in zip(labels, operating_points, trained)]


def untrained_note(labels, validation, trained):
    masked = [f"{label['name'].lower()} (validation AUC {validation['perLabel'][label['term']]['auc']:.2f})"
              for label, ok in zip(labels, trained) if not ok]
    if not masked:
        return ""
    return (f" Heads shipped untrained (masked, they never vote) because their validation AUC stayed below "
            f"{MIN_TRAINED_AUC}: {', '.join(masked)}.")


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--pack", required=True)
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="time budget for all members together (default: none, the fixed epochs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="epochs per member (default: each member's own)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--no-bf16", action="store_true", help="train in float32 (default: bfloat16 autocast)")
    parser.add_argument("--loc-weight", type=float, default=0.2,
                        help="weight of the CAM localisation loss (0: none)")
    parser.add_argument("--aux-weight", type=float, default=1.0,
                        help="weight of the auxiliary mask loss (0: classification loss only)")
    parser.add_argument("--members", default=",".join(MEMBERS))
    parser.add_argument("--device", default="auto", help="auto (CUDA when torch sees a GPU, else CPU), cpu or cuda")
    parser.add_argument("--stage", choices=("all", "members", "assemble"), default="all",
                        help="members: train and export --members only (each records itself in DATA/trained-ID.json, so "
                             "that members can train in parallel processes); assemble: the ensemble from those records; "
                             "all: both")
    args = parser.parse_args()
    run_started = time.time()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.use_deterministic_algorithms(False)

    with open(os.path.join(HERE, "config.json")) as f:
        config = json.load(f)
    labels = config["labels"]
    terms = [label["term"] for label in labels]
    spec = config["input"]
    members = args.members.split(",")
    if args.stage == "assemble":
        assemble(args.data, args.pack, members, terms, run_started)
        return
    x_train, y_train, m_train, train_meta = load_training_split(args.data, labels)
    x_val, y_val, m_val, val_meta = load_split(args.data, "validation", labels)
    where = f"{args.threads} CPU threads" if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(f"train {tuple(x_train.shape)} (seed {train_meta['seed']}), validation {tuple(x_val.shape)} (seed {val_meta['seed']}); "
          f"torch {torch.__version__}, {where}", flush=True)
    for name, y in (("train", y_train), ("validation", y_val)):
        print(f"  {name} prevalence: " + ", ".join(f"{t} {100 * float(p):.1f}%" for t, p in zip(terms, y.mean(0))), flush=True)
    x_train, y_train = x_train.to(device), y_train.to(device)
    m_train = None if m_train is None else m_train.to(device)
    x_val_device = x_val.to(device)
    os.makedirs(args.pack, exist_ok=True)
    budget = None if args.budget_minutes is None else args.budget_minutes * 60
    report = {
        "command": " ".join(["train.py"] + sys.argv[1:]),
        "torch": torch.__version__, "onnx": onnx.__version__, "python": sys.version.split()[0],
        "threads": args.threads, "device": where, "budgetMinutes": args.budget_minutes,
        "data": {"train": {k: train_meta[k] for k in ("seed", "count", "generator", "prevalence")},
                 "validation": {k: val_meta[k] for k in ("seed", "count", "generator", "prevalence")}},
        "members": {},
    }
    for index, member_id in enumerate(members):
        remaining = None if budget is None else (budget - (time.time() - run_started)) / (len(members) - index)
        model, training = train_member(member_id, x_train, y_train, m_train, x_val_device, y_val, m_val, terms,
                                       remaining, args.epochs or MEMBERS[member_id][3], args.batch,
                                       args.aux_weight, args.loc_weight, not args.no_bf16, device)
        logits = predict_logits(model, x_val)
        youden = [youden_threshold(y_val[:, k].numpy(), logits[:, k]) for k in range(len(terms))]
        thresholds = [t for _, t, _, _ in youden]
        metrics = validation_metrics(y_val.numpy(), logits, terms, thresholds)
        for k, term in enumerate(terms):
            metrics["perLabel"][term]["youdenJ"] = youden[k][0]
        operating_points = [min(1 - 1e-6, max(1e-6, float(sigmoid(t)))) for t in thresholds]
        trained = trained_heads(metrics, terms)

        member_dir = os.path.join(args.pack, member_id)
        os.makedirs(member_dir, exist_ok=True)
        onnx_path = os.path.join(member_dir, "model.onnx")
        digest, cam_shape, gap_error = export(model, onnx_path, spec["height"])
        size_bytes = os.path.getsize(onnx_path)
        training.update({"onnxBytes": size_bytes, "camShape": cam_shape, "camGapError": gap_error})
        model_class = globals()[MEMBERS[member_id][0]]
        manifest = {
            "schemaVersion": 1,
            "id": member_id,
            "name": f"Demonstration {member_id} ({model_class.__name__}) trained on synthetic phantoms",
            "version": "1.0.0",
            "architecture": f"{model_class.description}; ReLU features {model.backbone.channels} x {cam_shape[0]} x {cam_shape[1]} "
                            f"(stride 8) -> global average pool -> linear; in-graph CAM; {training['parameters']} parameters",
            "onnx": {"file": "model.onnx", "sha256": digest},
            "input": spec,
            "outputs": {"scores": {"name": "scores", "kind": "logits"}, "cam": {"name": "cam"}},
            "labels": manifest_labels(labels, operating_points, trained),
            "card": {
                "intendedUse": "Demonstration of the workstation on synthetic phantoms. Not for clinical use.",
                "trainingData": (
                    f"Synthetic chest radiograph phantoms from the project's own generator (triage phantom, DICOM), "
                    f"never real patients: a bootstrap sample ({training['bootstrap']['size']} draws, "
                    f"{training['bootstrap']['distinct']} distinct images) of the {train_meta['count']} training phantoms "
                    f"(generator seed {train_meta['seed']}); early stopping and operating points on {val_meta['count']} "
                    f"validation phantoms (seed {val_meta['seed']}); evaluated on held-out evidence phantoms "
                    f"(seed {config['splits']['evidence']['seed']}, used for nothing else). Images read and preprocessed by the product's own ingest "
                    f"and preprocess stages. Model seed {training['seed']}."
                ),
                "metrics": {"validation": metrics},
                "notForClinicalUse": True,
                "limitations": (
                    "Trained and tested only on synthetic phantoms with seven simulated findings; it has never seen a real "
                    "radiograph and its outputs on one are meaningless. Operating points maximise Youden's J on synthetic "
                    "validation data. A small network (stride-8 features) for demonstration: heatmaps are coarse (28 x 28 "
                    "cells over the centre square)." + untrained_note(labels, metrics, trained)
                ),
            },
        }
        write_json(os.path.join(member_dir, "manifest.json"), manifest)
        report["members"][member_id] = {**training, "operatingPoints": dict(zip(terms, operating_points)), "validation": metrics}
        write_json(os.path.join(args.data, f"trained-{member_id}.json"), {
            "report": {k: v for k, v in report.items() if k != "members"}, "member": report["members"][member_id],
            "thresholds": thresholds, "validationLogits": logits.tolist(),
            "validationLabels": y_val.numpy().astype(int).tolist(),
        })
        print(f"[{member_id}] best epoch {training['bestEpoch']}/{training['epochsRun']}, {training['trainSeconds']:.0f} s; "
              f"model.onnx {size_bytes / 1e6:.2f} MB (cam {cam_shape}, |mean(cam) - logit| {gap_error:.1e})", flush=True)
        print(f"[{member_id}] validation: mean AUC {metrics['meanAuc']:.4f}, micro-F1 {metrics['microF1']:.4f} at the operating points", flush=True)
        for k, term in enumerate(terms):
            entry = metrics["perLabel"][term]
            print(f"    {term:18s} AUC {entry['auc']:.4f}  sens {entry['sensitivity']:.3f}  spec {entry['specificity']:.3f}  "
                  f"op {operating_points[k]:.4f}{'' if trained[k] else '  (ships untrained)'}", flush=True)

    seconds = time.time() - run_started
    print(f"training and export of {', '.join(members)} took {seconds / 60:.1f} min", flush=True)
    if args.stage == "all":
        assemble(args.data, args.pack, members, terms, run_started)


def assemble(data_dir, pack_dir, members, terms, run_started):
    """The pack's ensemble.json and training.json from the members' records (DATA/trained-ID.json),
    with the majority vote's validation figures beside each member's."""
    records = {}
    for member_id in members:
        path = os.path.join(data_dir, f"trained-{member_id}.json")
        if not os.path.exists(path):
            raise SystemExit(f"{path} is missing: train that member first (--stage members --members {member_id})")
        with open(path) as f:
            records[member_id] = json.load(f)
    first = records[members[0]]
    report = {**first["report"], "members": {m: records[m]["member"] for m in members}}
    report["command"] = " + ".join(records[m]["report"]["command"] for m in members) + " + assemble"
    if len(members) > 1:
        y = np.asarray(first["validationLabels"]).astype(bool)
        val_logits = {m: np.asarray(records[m]["validationLogits"], dtype=np.float64) for m in members}
        thresholds = {m: records[m]["thresholds"] for m in members}
        # As the product votes: untrained heads never vote; a finding is positive when a strict
        # majority of the members that cover it call it; one that no member covers is never called.
        trained = {m: np.asarray(trained_heads(records[m]["member"]["validation"], terms))[None, :] for m in members}
        votes = sum(((val_logits[m] >= np.asarray(thresholds[m])[None, :]) & trained[m]).astype(int) for m in members)
        covering = sum(trained[m].astype(int) for m in members)
        majority = (votes * 2 > covering) & (covering > 0)
        f1, tp, fp, fn = micro_f1(y, majority)
        # Mean calibrated probability, as the product reports it (the operating point maps to 0.5).
        def calibrated(m):
            p = sigmoid(val_logits[m])
            t = sigmoid(np.asarray(thresholds[m]))[None, :]
            return np.where(p < t, p / (2 * t), 1 - (1 - p) / (2 * (1 - t)))
        # The mean over the members that cover each label (none: no probability, no AUC).
        total = sum(np.where(trained[m], calibrated(m), 0.0) for m in members)
        mean_probability = np.where(covering > 0, total / np.maximum(covering, 1), np.nan)
        aucs = {term: (auc(y[:, k], mean_probability[:, k]) if covering[0, k] > 0 else None) for k, term in enumerate(terms)}
        # Each member's micro-F1 with its untrained heads masked, as the product runs it.
        for m in members:
            called = (val_logits[m] >= np.asarray(thresholds[m])[None, :]) & trained[m]
            report["members"][m]["validationShippedMicroF1"] = micro_f1(y, called)[0]
        report["ensembleValidation"] = {"microF1": f1, "tp": tp, "fp": fp, "fn": fn, "perLabelAuc": aucs,
                                        "meanAuc": float(np.mean([a for a in aucs.values() if a is not None])),
                                        "untrained": [t for k, t in enumerate(terms) if covering[0, k] == 0],
                                        "minTrainedAuc": MIN_TRAINED_AUC}
        masked = report["ensembleValidation"]["untrained"]
        print(f"[ensemble] validation: majority-vote micro-F1 {f1:.4f}, mean AUC (mean calibrated probability) "
              f"{report['ensembleValidation']['meanAuc']:.4f}; members: "
              + ", ".join(f"{m} {report['members'][m]['validationShippedMicroF1']:.4f}" for m in members)
              + (f" (heads below validation AUC {MIN_TRAINED_AUC} masked; no member covers {', '.join(masked)}: its "
                 f"positives count as missed)" if masked else ""), flush=True)
        write_json(os.path.join(pack_dir, "ensemble.json"), {
            "schemaVersion": 1,
            "id": "demo",
            "name": "Demonstration ensemble trained on synthetic phantoms (not for clinical use)",
            "version": "1.0.0",
            "members": members,
            "rule": {"kind": "majority"},
            "demo": True,
        })
    report["totalSeconds"] = round(time.time() - run_started, 1)
    write_json(os.path.join(pack_dir, "training.json"), report)


if __name__ == "__main__":
    main()
