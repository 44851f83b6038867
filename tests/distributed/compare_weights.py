#!/usr/bin/env python3
"""Compares two model.safetensors files written by lowbit (float32 tensors, same names).

    compare_weights.py A B [--max-rel R]

Prints the largest relative difference over the tensors, max|a - b| / max|b| per tensor, and
exits 1 when it exceeds R (default: any difference) or the names/shapes differ. Standard
library only, so the MPI tests need no numpy."""
import json
import struct
import sys
from array import array


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: {name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        a = array("f")
        a.frombytes(body[begin:end])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = (info["shape"], a)
    return out


def main():
    args = sys.argv[1:]
    limit = 0.0
    if "--max-rel" in args:
        i = args.index("--max-rel")
        limit = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    a, b = load(args[0]), load(args[1])
    if a.keys() != b.keys():
        sys.exit(f"tensor names differ: {sorted(a.keys() ^ b.keys())}")
    worst, worst_name = 0.0, ""
    for name in sorted(a):
        (sa, va), (sb, vb) = a[name], b[name]
        if sa != sb:
            sys.exit(f"{name}: shape {sa} vs {sb}")
        scale = max((abs(x) for x in vb), default=0.0)
        diff = max((abs(x - y) for x, y in zip(va, vb)), default=0.0)
        rel = diff / scale if scale > 0 else diff
        if rel > worst:
            worst, worst_name = rel, name
    print(f"max relative difference {worst:.3e}" + (f" ({worst_name})" if worst_name else ""))
    sys.exit(0 if worst <= limit else 1)


if __name__ == "__main__":
    main()
