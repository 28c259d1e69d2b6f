"""A CPU learnability probe for nodules (not the pack): a small CNN trained from scratch to say
nodule present or absent on prepare-dataset.ts tensors, its AUC on a held-out set. Run once on
standard phantoms and once on `--nodules visible` phantoms of the same seeds to compare how much
of the nodule a network can learn on a CPU in minutes.

Two inputs:
- whole images: prepare-dataset.ts outputs at the members' 224 x 224 input (made with
  --split validation --count N --seed S -- --nodules standard|visible), label: nodule present;
- lung patches (--patches): nodule-patches.ts outputs, 48 x 48 stored pixels at the generator's
  600-pixel size, a patch on a nodule against a nodule-free lung patch of the same image.

usage: python3 models/training/nodule_probe.py --train PREFIX --test PREFIX [--patches]
           [--epochs 6] [--threads 1] [--seed 0]

where PREFIX.x.f32, PREFIX.y.f32 and PREFIX.json are the tensors. Prints one JSON line: the AUC
(scikit-learn), the counts, the seconds.
"""

import argparse
import json
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

NODULE = 3  # the label's column in config.json's order


def load(prefix, patches):
    meta = json.load(open(f"{prefix}.json"))
    n, c, h, w = meta["shape"]
    x = np.fromfile(f"{prefix}.x.f32", dtype="<f4").reshape(n, c, h, w)
    if patches:
        y = np.fromfile(f"{prefix}.y.f32", dtype="<f4")
    else:
        x = x / 1024.0
        y = np.fromfile(f"{prefix}.y.f32", dtype="<f4").reshape(n, -1)[:, NODULE]
    return torch.from_numpy(x.copy()), torch.from_numpy(y.copy())


def patch_network():
    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    # 48 -> 6, then the mean: the patch's centre region carries the nodule when there is one.
    return nn.Sequential(block(1, 16), block(16, 32), block(32, 32), nn.Conv2d(32, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def network():
    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    # 224 -> 14: cells of 16 pixels (about 6 mm at 224 of a 35 cm field); max pooling over the
    # image, since a nodule is small and anywhere.
    return nn.Sequential(
        block(1, 16), block(16, 32), block(32, 48), block(48, 64), nn.Conv2d(64, 1, 1), nn.AdaptiveMaxPool2d(1), nn.Flatten()
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patches", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.time()
    x, y = load(args.train, args.patches)
    tx, ty = load(args.test, args.patches)
    model = patch_network() if args.patches else network()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    weight = torch.tensor((len(y) - y.sum().item()) / max(1.0, y.sum().item()))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for k in range(0, len(y), 32):
            batch = order[k : k + 32]
            inputs = x[batch]
            if torch.rand(1, generator=generator).item() < 0.5:
                inputs = inputs.flip(3)  # left-right: nodules lie in either lung
            loss = loss_fn(model(inputs).squeeze(1), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        print(f"epoch {epoch + 1}: loss {total / len(y):.4f} ({time.time() - started:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        scores = torch.cat([model(tx[k : k + 64]).squeeze(1) for k in range(0, len(ty), 64)]).numpy()
    print(
        json.dumps(
            {
                "input": "lung patches" if args.patches else "whole image",
                "train": args.train,
                "test": args.test,
                "trainImages": len(y),
                "trainPositives": int(y.sum().item()),
                "testImages": len(ty),
                "testPositives": int(ty.sum().item()),
                "epochs": args.epochs,
                "auc": round(float(roc_auc_score(ty.numpy(), scores)), 4),
                "seconds": round(time.time() - started),
            }
        )
    )


if __name__ == "__main__":
    main()
