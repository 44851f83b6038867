#!/usr/bin/env python3
"""Projects data-parallel step time to N processes with a ring-allreduce cost model.

  step(N) = B/N · t_img  +  allreduce(4·P bytes)  +  k · allreduce(8·2·C bytes per BN layer)
  allreduce(s) = 2(N−1)·α + 2(N−1)/N · s / bw                     (ring: reduce-scatter + allgather)

t_img (seconds per training image on one core) and P (parameters) are measured on this
machine (bench/distributed_bench.sh, 2 processes × 1 thread); bw is the link (10 or
100 Gbit/s); α, the per-message latency, is an assumption stated in the output (it cannot be
measured without such a network). Each process keeps a slice of 100 images (the global
`train.batch_size` grows with N, B = 100·N: weak scaling, how clusters are used), one core per
process; efficiency = throughput / (N × one process's throughput).
  /usr/bin/python3 bench/distributed_projection.py
"""
import sys

# name, one-core seconds per image (from 2 processes × 1 thread img/s: 2 / rate), parameters,
# batch-norm layers, global batch. Filled from results/distributed.md's measured table.
NETS = [
    ("MLP 784-512-512-10", 2 / float(sys.argv[1]) if len(sys.argv) > 1 else None, 671_754, 2, 100),
    ("LeNet-5", 2 / float(sys.argv[2]) if len(sys.argv) > 2 else None, 582_026, 0, 100),
    ("VGG-small", 2 / float(sys.argv[3]) if len(sys.argv) > 3 else None, 814_826, 7, 100),
]
LINKS = [("10 Gbit/s, α = 20 µs", 10e9 / 8, 20e-6), ("100 Gbit/s, α = 5 µs", 100e9 / 8, 5e-6)]


def allreduce(n, size, bw, alpha):
    return 0.0 if n == 1 else 2 * (n - 1) * alpha + 2 * (n - 1) / n * size / bw


print("| net | link | N = 1 img/s | N = 8: img/s, efficiency | N = 32 | N = 128 |")
print("|---|---|---|---|---|---|")
for name, t_img, params, bn_layers, batch in NETS:
    if t_img is None:
        continue
    for link, bw, alpha in LINKS:
        cells = []
        for n in (1, 8, 32, 128):
            # per BN layer: forward sums (2 passes) and backward sums, ~2·C doubles each; C small:
            # latency-bound, so the byte term is negligible and counted as 3 messages of 1 KiB.
            step = batch * t_img + allreduce(n, 4 * params, bw, alpha) + \
                3 * bn_layers * allreduce(n, 1024, bw, alpha)
            rate = n * batch / step
            cells.append((rate, rate / (n / t_img)))
        row = f"| {name} | {link} | {cells[0][0]:,.0f} |"
        row += "".join(f" {r:,.0f}, {100 * e:.0f} % |" for r, e in cells[1:])
        print(row)
