#!/usr/bin/env python3
"""PyTorch reference for bench/engine_bench: the same nets, timed the same way.

Run with Debian's python (the first python3 on PATH may not see python3-torch):
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_reference.py --threads 2 \
        [--nets mlp,lenet5,vgg_small,vgg_small_bnn]
Prints one JSON line per net: {"net": ..., "images_per_second": ...}, then one for a large
float matmul ("net": "sgemm") at the same thread count.

VGG-small FP and BNN are built from experiments/cifar10/vgg_small.json and
vgg_small_bnn.json, so both sides always train the same network. Their inputs are random
pixels of CIFAR-10's shape: the data here is JPEG and Debian's python3-torch comes without an
image decoder; the work of a training step does not depend on the pixel values.
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


class SteSign(torch.autograd.Function):
    """sign with the straight-through estimator, gradient cancelled where |x| > clip."""

    @staticmethod
    def forward(ctx, x, clip):
        ctx.save_for_backward(x)
        ctx.clip = clip
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.clip is None:
            return g, None
        return g * (x.abs() <= ctx.clip).to(g.dtype), None


class QuantLayer(nn.Module):
    """lowbit's quant_conv2d / quant_linear with ste_sign inputs and binary_connect weights."""

    def __init__(self, inner, spec):
        super().__init__()
        self.inner = inner
        self.sign_input = spec.get("input_quantizer") == "ste_sign"
        self.binary_weight = spec.get("weight_quantizer") == "binary_connect"
        self.clip_latent = spec.get("clip_latent")

    def forward(self, x):
        if self.sign_input:
            x = SteSign.apply(x, 1.0)
        w = SteSign.apply(self.inner.weight, None) if self.binary_weight else self.inner.weight
        if isinstance(self.inner, nn.Conv2d):
            return nn.functional.conv2d(x, w, self.inner.bias, self.inner.stride, self.inner.padding)
        return nn.functional.linear(x, w, self.inner.bias)

    def after_step(self):
        if self.clip_latent is not None:
            with torch.no_grad():
                self.inner.weight.clamp_(-self.clip_latent, self.clip_latent)


def from_experiment(name):
    """The network of experiments/cifar10/<name>.json as a torch Sequential."""
    path = os.path.join(os.path.dirname(__file__), "..", "experiments", "cifar10", name + ".json")
    with open(path) as f:
        specs = json.load(f)["model"]["layers"]
    layers = []
    for s in specs:
        t = s["type"]
        if t in ("conv2d", "quant_conv2d"):
            conv = nn.Conv2d(s["in_channels"], s["out_channels"], s["kernel_size"],
                             stride=s.get("stride", 1), padding=s.get("padding", 0),
                             bias=s.get("bias", True))
            layers.append(QuantLayer(conv, s) if t == "quant_conv2d" else conv)
        elif t in ("linear", "quant_linear"):
            lin = nn.Linear(s["in_features"], s["out_features"], bias=s.get("bias", True))
            layers.append(QuantLayer(lin, s) if t == "quant_linear" else lin)
        elif t == "batch_norm2d":
            layers.append(nn.BatchNorm2d(s["num_features"], eps=s.get("eps", 1e-5)))
        elif t == "batch_norm1d":
            layers.append(nn.BatchNorm1d(s["num_features"], eps=s.get("eps", 1e-5)))
        elif t == "relu":
            layers.append(nn.ReLU())
        elif t == "max_pool2d":
            layers.append(nn.MaxPool2d(s["kernel_size"]))
        elif t == "flatten":
            layers.append(nn.Flatten())
        else:
            raise SystemExit(f"torch_reference: {path}: layer type {t} has no PyTorch twin here")
    return nn.Sequential(*layers)


def random_cifar10(n=10000):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g)
    return images.float() / 255.0, labels


def matmul_gflops(n=1024):
    a, b = torch.full((n, n), 0.5), torch.full((n, n), 0.25)
    torch.mm(a, b)
    best, until = 0.0, time.perf_counter() + 1.5
    for rep in range(50):
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2.0 * n ** 3 / (time.perf_counter() - start) / 1e9)
        if rep >= 2 and time.perf_counter() > until:
            break
    return best


def time_net(model, images, labels, batch, steps, warmup):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    quant_layers = [m for m in model.modules() if isinstance(m, QuantLayer)]
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step(i):
        j = (i * batch) % (images.shape[0] - batch)
        x, y = images[j:j + batch], labels[j:j + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        for m in quant_layers:
            m.after_step()

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
    ap.add_argument("--nets", default="mlp,lenet5,vgg_small,vgg_small_bnn")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    makers = {"mlp": mlp, "lenet5": lenet5,
              "vgg_small": lambda: from_experiment("vgg_small"),
              "vgg_small_bnn": lambda: from_experiment("vgg_small_bnn")}
    data = {}
    for name in args.nets.split(","):
        if name not in makers:
            raise SystemExit(f"torch_reference: unknown net {name} ({', '.join(makers)})")
        cifar = name.startswith("vgg")
        if cifar not in data:
            if cifar:
                data[cifar] = random_cifar10()
            else:
                images, labels = load_mnist(args.data)
                data[cifar] = (images[:10000], labels[:10000])
        images, labels = data[cifar]
        ips = time_net(makers[name](), images, labels, args.batch, args.steps, args.warmup)
        print(json.dumps({"net": name, "framework": "pytorch " + torch.__version__,
                          "threads": args.threads, "batch": args.batch,
                          "images_per_second": round(ips, 1)}), flush=True)
    print(json.dumps({"net": "sgemm", "framework": "pytorch " + torch.__version__,
                      "threads": args.threads, "shape": "1024x1024x1024",
                      "gflops": round(matmul_gflops(), 1)}), flush=True)


if __name__ == "__main__":
    main()
