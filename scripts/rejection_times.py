#!/usr/bin/env python3
"""How long `lowbit train` takes to reject each class of bad experiment file (issue 14: under
0.5 s on every data set, because everything is validated before data is read).

    /usr/bin/python3 scripts/rejection_times.py [--lowbit build/lowbit] [--repeat 3]

For each data set (MNIST, Fashion-MNIST, CIFAR-10 from its binary batches and from the JPEG
image folder) it takes an experiment file of experiments/, breaks it in one way per class,
runs `lowbit train BAD.json --out DIR` and times it until it exits. A rejection must exit
with status 1, say `lowbit: error:` and leave no DIR. CIFAR-10's binary batches are
written as a full-size synthetic set (50,000 + 10,000 records) into a temporary folder when
data/cifar10 has none; the JPEG folder is data/cifar10/cifar10-jpeg (scripts/get_data.sh).
Prints a Markdown table, per data set and class, of the median wall time of --repeat runs and
the largest CPU time (user + system) of one, in seconds, and one message per class. On a
loaded machine the wall time includes waiting for a core; the CPU time does not. Exits 1 when
a rejection is wrong or a median wall time is 0.5 s or more.
"""
import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cifar10_binary_root(tmp):
    """A folder holding cifar-10-batches-bin/ (the real one when present)."""
    if os.path.exists(os.path.join(REPO, "data/cifar10/cifar-10-batches-bin/data_batch_1.bin")):
        return os.path.join(REPO, "data/cifar10")
    root = os.path.join(tmp, "cifar10-binary")
    os.makedirs(os.path.join(root, "cifar-10-batches-bin"))
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        records = bytearray(os.urandom(10000 * 3073))
        records[0::3073] = bytes(i % 10 for i in range(10000))  # labels in [0, 10)
        with open(os.path.join(root, "cifar-10-batches-bin", name), "wb") as f:
            f.write(records)
    return root


# Each class: a function from the experiment (a dict) to the bad file's text.
def dump(cfg):
    return json.dumps(cfg, indent=2)


def bad_model(cfg):
    cfg["model"]["layers"][0]["type"] = "conv3d"  # no such layer
    return dump(cfg)


def bad_quantizer(cfg):
    layer = cfg["model"]["layers"][0]
    layer["type"] = "quant_conv2d"
    layer["weight_quantizer"] = "twm"  # typo of twn
    return dump(cfg)


def typo_key(cfg):
    cfg["train"]["bach_size"] = cfg["train"].pop("batch_size", 100)
    return dump(cfg)


def batch_too_big(cfg):
    cfg["train"]["batch_size"] = 60001  # more than any of these training sets holds
    return dump(cfg)


def empty_root(cfg):
    cfg["data"]["root"] = ""
    return dump(cfg)


def duplicate_key(cfg):
    text = dump(cfg)
    return text.replace('"epochs":', '"epochs": 1, "epochs":', 1)


def deep_nesting(cfg):
    cfg["seed"] = "__DEEP__"
    return dump(cfg).replace('"__DEEP__"', "[" * 100000 + "1" + "]" * 100000)


def number_out_of_range(cfg):
    cfg["train"]["optimizer"]["lr"] = "__BIG__"
    return dump(cfg).replace('"__BIG__"', "1e309")


def wrong_outputs(cfg):
    cfg["model"]["layers"][-1]["out_features"] = 5  # 10 classes
    return dump(cfg)


CLASSES = [
    ("bad model (unknown layer type)", bad_model),
    ("bad quantizer (unknown name)", bad_quantizer),
    ("typo'd key (train.bach_size)", typo_key),
    ("train.batch_size 60001", batch_too_big),
    ("empty data.root", empty_root),
    ("duplicate key (train.epochs)", duplicate_key),
    ("value nested 100,000 deep", deep_nesting),
    ("number 1e309", number_out_of_range),
    ("5 outputs for 10 classes", wrong_outputs),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lowbit", default=os.path.join(REPO, "build/lowbit"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", LOWBIT_NUM_THREADS="2")
    with tempfile.TemporaryDirectory() as tmp:
        sets = [
            ("MNIST", "experiments/mnist/lenet5.json", None),
            ("Fashion-MNIST", "experiments/fashion_mnist/lenet5.json", None),
            ("CIFAR-10 binary", "experiments/cifar10/vgg_small.json", cifar10_binary_root(tmp)),
            ("CIFAR-10 JPEG folder", "experiments/cifar10/vgg_small.json",
             os.path.join(REPO, "data/cifar10")),
        ]
        times = {}
        messages = {}
        failures = []
        for set_name, path, root in sets:
            with open(os.path.join(REPO, path)) as f:
                base = json.load(f)
            if root:
                base["data"]["root"] = root
            for cls, make in CLASSES:
                bad = os.path.join(tmp, "bad.json")
                with open(bad, "w") as f:
                    f.write(make(copy.deepcopy(base)))
                out = os.path.join(tmp, "run")
                walls, cpu = [], 0.0
                for _ in range(args.repeat):
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    start = time.monotonic()
                    p = subprocess.run([args.lowbit, "train", bad, "--out", out], cwd=REPO, env=env,
                                       capture_output=True, text=True)
                    walls.append(time.monotonic() - start)
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = max(cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                    if p.returncode != 1 or "lowbit: error:" not in p.stderr or os.path.exists(out):
                        failures.append(f"{set_name}, {cls}: status {p.returncode}, "
                                        f"run folder left: {os.path.exists(out)}: {p.stderr.strip()[:300]}")
                times[(set_name, cls)] = (statistics.median(walls), cpu)
                messages.setdefault(cls, p.stderr.strip().splitlines()[-1][:160] if p.stderr.strip() else "")
        print("| bad input (wall median / CPU max, s) | " + " | ".join(s for s, _, _ in sets) + " |")
        print("|---|" + "---:|" * len(sets))
        for cls, _ in CLASSES:
            print(f"| {cls} | " + " | ".join(
                f"{times[(s, cls)][0]:.2f} / {times[(s, cls)][1]:.2f}" for s, _, _ in sets) + " |")
        print()
        for cls, _ in CLASSES:
            print(f"- {cls}: `{messages[cls]}`")
        slowest = max(wall for wall, _ in times.values())
        print(f"\nslowest median wall time: {slowest:.2f} s; "
              f"most CPU time: {max(c for _, c in times.values()):.2f} s")
        for f in failures:
            print("FAIL:", f, file=sys.stderr)
        return 1 if failures or slowest >= 0.5 else 0


if __name__ == "__main__":
    sys.exit(main())
