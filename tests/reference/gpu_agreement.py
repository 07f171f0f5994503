#!/usr/bin/env python3
"""How far the GPU and CPU backends' fits are apart, through the binary.

For a grid of seeded datasets (separated and overlapping Gaussian blobs;
n, d and K varied), `segmint fit --features-input ... --silhouette exact`
runs on `--device cpu` and `--device gpu`, and this prints, per dataset,
whether the written labels are identical, and if not how many users and
iterations apart the fits ended and how far their metrics are. The README's
statement of agreement quotes its summary.

The GPU sums in compensated f32 where the CPU sums in f64: the two walk the
same Lloyd path until some user sits within rounding of a tie between two
centres; after that they may end in two different local optima.

Usage (from the repository root, after `cargo build --release`; numpy from
tests/reference/requirements-cluster.txt):
    tests/reference/.venv/bin/python tests/reference/gpu_agreement.py [--quick]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, "target", "release", "segmint")
METRICS = ["inertia", "silhouette", "calinski_harabasz", "davies_bouldin"]


def dataset(seed, n, d, k, spread):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-5.0, 5.0, size=(k, d))
    labels = rng.integers(0, k, size=n)
    return centres[labels] + rng.normal(0.0, spread, size=(n, d))


def fit(device, table, k, seed, out):
    cmd = [BINARY, "--device", device, "fit", "--features-input", table, "--k", str(k),
           "--seed", str(seed), "--silhouette", "exact", "--format", "json", "-o", out]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout)
    with open(out, newline="") as fh:
        segments = [int(row["segment"]) for row in csv.DictReader(fh)]
    return summary, segments


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a third of the grid")
    args = ap.parse_args()
    grid = [
        (n, d, k, spread)
        for n in (2_000, 8_000, 20_000)
        for d in (2, 3, 8)
        for k in (3, 5, 8)
        for spread in (0.6, 2.5)
    ]
    if args.quick:
        grid = grid[::3]
    env = dict(os.environ)
    env.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
    os.environ.update(env)
    identical, apart = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (n, d, k, spread) in enumerate(grid):
            x = dataset(1000 + i, n, d, k, spread)
            table = os.path.join(tmp, "t.csv")
            with open(table, "w") as fh:
                fh.write("user_id," + ",".join(f"f{j}" for j in range(d)) + "\n")
                for u, row in enumerate(x):
                    fh.write(f"u{u:06}," + ",".join(repr(float(v)) for v in row) + "\n")
            cpu, cpu_labels = fit("cpu", table, k, i, os.path.join(tmp, "c.csv"))
            gpu, gpu_labels = fit("gpu", table, k, i, os.path.join(tmp, "g.csv"))
            moved = sum(a != b for a, b in zip(cpu_labels, gpu_labels))
            gaps = {m: abs(gpu[m] - cpu[m]) / abs(cpu[m]) for m in METRICS if cpu[m]}
            worst = max(gaps.values())
            line = (f"n={n:6} d={d} k={k} spread={spread}: "
                    f"iterations {cpu['n_iter']}/{gpu['n_iter']}, ")
            if moved == 0:
                identical += 1
                print(line + f"identical labels, metrics within {worst:.1e}")
            else:
                apart.append((moved, n, abs(cpu["n_iter"] - gpu["n_iter"]), worst))
                print(line + f"{moved} labels apart, metrics within {worst:.1e}")
    print(f"\n{identical} of {len(grid)} fits identical; apart:",
          ", ".join(f"{m} of {n} users, {it} iterations, metrics {w:.1e}" for m, n, it, w in apart)
          or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
