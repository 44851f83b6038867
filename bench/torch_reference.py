#!/usr/bin/env python3
"""PyTorch reference for bench/engine_bench: the same two nets, timed the same way.

Run with Debian's python (the first python3 on PATH may not see python3-torch):
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_reference.py --threads 2
Prints one JSON line per net: {"net": ..., "images_per_second": ...}.
"""
import argparse
import glob
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(root, pattern):
    paths = sorted(glob.glob(os.path.join(root, pattern)))
    if not paths:
        raise SystemExit(f"torch_reference: no {pattern} file under {root}; run scripts/get_data.sh")
    opener = gzip.open if paths[0].endswith(".gz") else open
    with opener(paths[0], "rb") as f:
        return f.read()


def load_mnist(root):
    data = read_idx(root, "train-images*idx3*")
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)
    labels = np.frombuffer(read_idx(root, "train-labels*idx1*"), dtype=np.uint8, offset=8)
    return (torch.from_numpy(images.astype(np.float32) / 255.0),
            torch.from_numpy(labels.astype(np.int64)))


def mlp():
    layers, width = [nn.Flatten()], 784
    for _ in range(3):
        layers += [nn.Linear(width, 2048), nn.BatchNorm1d(2048), nn.ReLU()]
        width = 2048
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1024, 512), nn.ReLU(), nn.Linear(512, 10))


def time_net(model, images, labels, batch, steps, warmup):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step(i):
        j = (i * batch) % (images.shape[0] - batch)
        x, y = images[j:j + batch], labels[j:j + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(steps):
        step(warmup + i)
    seconds = time.perf_counter() - start
    return steps * batch / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "data", "mnist"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images, labels = load_mnist(args.data)
    images, labels = images[:10000], labels[:10000]
    for name, make in (("mlp", mlp), ("lenet5", lenet5)):
        ips = time_net(make(), images, labels, args.batch, args.steps, args.warmup)
        print(json.dumps({"net": name, "framework": "pytorch " + torch.__version__,
                          "threads": args.threads, "batch": args.batch,
                          "images_per_second": round(ips, 1)}), flush=True)


if __name__ == "__main__":
    main()
