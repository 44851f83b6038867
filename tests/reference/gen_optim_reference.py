#!/usr/bin/python3
"""Golden values for tests/optim: PyTorch's optimizers and lr schedulers on a fixed problem.

Run from the repository root with the Debian PyTorch (python3-torch):

    /usr/bin/python3 tests/reference/gen_optim_reference.py

writes tests/reference/optim_golden.json (committed; tests/optim/optim_test.cpp reads it).

Problem: two float32 parameters (shapes (5,) and (2, 3)) with fixed initial values and a
fixed sequence of gradients (one per step, set directly on .grad, so no model is involved).
For each optimizer case the file holds the parameters after every step and the final
optimizer state under lowbit's state names. A case with "lr_scales" uses one PyTorch
param group per parameter with lr = lr * scale (lowbit's per-parameter lr scale).
Schedules: PyTorch's schedulers stepped once per epoch, the lr of each epoch; the
"lr_end" exponential form has no PyTorch class and is computed from its formula.
"""
import json
import math
import os
import sys

import torch

STEPS = 6
SHAPES = [(5,), (2, 3)]

OPTIMIZERS = [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.1, "weight_decay": 0.05},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"name": "adam", "lr": 0.01},
    {"name": "adam", "lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1},
    {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
    {"name": "adamax", "lr": 0.02},
    {"name": "adamax", "lr": 0.02, "beta1": 0.85, "beta2": 0.995, "weight_decay": 0.05},
]
# Per-parameter lr scales (BinaryNet's Glorot scale) on top of some of the cases above.
SCALED = [
    ({"name": "sgd", "lr": 0.05, "momentum": 0.9}, [1.0, 0.25]),
    ({"name": "adam", "lr": 0.01}, [2.5, 0.5]),
    ({"name": "adamax", "lr": 0.02}, [0.5, 3.0]),
]

STATE_NAMES = {"momentum_buffer": "momentum_buffer", "exp_avg": "exp_avg",
               "exp_avg_sq": "exp_avg_sq", "exp_inf": "exp_inf"}


def make_torch_optimizer(spec, params, scales):
    lr = spec["lr"]
    groups = [{"params": [p], "lr": lr * s} for p, s in zip(params, scales)]
    name = spec["name"]
    wd = spec.get("weight_decay", 0.0)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=spec.get("momentum", 0.0),
                               nesterov=spec.get("nesterov", False), weight_decay=wd)
    betas = (spec.get("beta1", 0.9), spec.get("beta2", 0.999))
    eps = spec.get("eps", 1e-8)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if name == "adamax":
        return torch.optim.Adamax(groups, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    raise ValueError(name)


def flat(t):
    return t.detach().reshape(-1).tolist()  # float32 -> exact Python floats


def run_case(spec, scales, init, grads):
    params = [torch.tensor(v, dtype=torch.float32).reshape(s).requires_grad_()
              for v, s in zip(init, SHAPES)]
    opt = make_torch_optimizer(spec, params, scales)
    after = []
    for step_grads in grads:
        for p, g, s in zip(params, step_grads, SHAPES):
            p.grad = torch.tensor(g, dtype=torch.float32).reshape(s)
        opt.step()
        after.append([flat(p) for p in params])
    state = {}
    for i, p in enumerate(params):
        st = opt.state[p]
        for k, v in st.items():
            if k in STATE_NAMES and v is not None:
                state[f"{i}.{STATE_NAMES[k]}"] = flat(v)
    return {"optimizer": spec, "lr_scales": scales, "after_step": after, "final_state": state}


def run_schedule(spec, lr_start, epochs):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr_start)
    name = spec["name"]
    if name == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=spec["step_size"],
                                                gamma=spec.get("gamma", 0.1))
    elif name == "multistep":
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=spec["milestones"],
                                                     gamma=spec.get("gamma", 0.1))
    elif name == "exponential" and "gamma" in spec:
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=spec["gamma"])
    elif name == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs,
                                                           eta_min=spec.get("lr_min", 0.0))
    elif name == "exponential":
        # lowbit's BinaryNet form: lr_start · (lr_end/lr_start)^(e/(epochs−1)).
        end = spec["lr_end"]
        return [lr_start * (end / lr_start) ** (e / (epochs - 1)) for e in range(epochs)]
    else:
        raise ValueError(name)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


SCHEDULES = [
    ({"name": "step", "step_size": 3, "gamma": 0.5}, 0.1, 10),
    ({"name": "multistep", "milestones": [2, 5, 7], "gamma": 0.1}, 0.1, 10),
    ({"name": "exponential", "gamma": 0.9}, 0.01, 8),
    ({"name": "exponential", "lr_end": 3e-7}, 0.003, 40),
    ({"name": "cosine"}, 0.1, 10),
    ({"name": "cosine", "lr_min": 0.001}, 0.05, 7),
]


def main():
    torch.manual_seed(0)
    init = [flat(torch.randn(s)) for s in SHAPES]
    grads = []
    for step in range(STEPS):
        # Mixed magnitudes, and one exact zero so eps-handling paths are exercised.
        gs = [torch.randn(s) * (0.1 + step * 0.3) for s in SHAPES]
        gs[0][2] = 0.0
        grads.append([flat(g) for g in gs])
    cases = [run_case(spec, [1.0, 1.0], init, grads) for spec in OPTIMIZERS]
    cases += [run_case(spec, scales, init, grads) for spec, scales in SCALED]
    schedules = [{"schedule": spec, "lr_start": lr, "epochs": n, "lr": run_schedule(spec, lr, n)}
                 for spec, lr, n in SCHEDULES]
    out = {
        "generator": "tests/reference/gen_optim_reference.py",
        "torch_version": torch.__version__,
        "shapes": [list(s) for s in SHAPES],
        "init": init,
        "grads": grads,
        "cases": cases,
        "schedules": schedules,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(cases)} optimizer cases, {len(schedules)} schedules",
          file=sys.stderr)


if __name__ == "__main__":
    main()
