#!/usr/bin/env python3
"""Exact Ward linkage and the micro-cluster mode: segmint against fastcluster.

Usage (from the repository root, after `cargo build --release` and
`bash benches/compare/cluster.sh --measures lloyd` has made the data and the
environment):

    benches/compare/.venv-cluster/bin/python benches/compare/hierarchical.py

For n = 20,000 and 50,000 users x 3 features (the first n rows of
data/points_1000000x3.csv), times fastcluster's `linkage_vector(X, "ward")`
(the tree alone, data in memory) and segmint's whole command (`fit --method
hierarchical --micro-clusters 0`: reading the CSV, the exact tree, the cut
at K = 8, writing scores.csv), both on 2 threads at most, REPEAT times each;
prints medians. Then the micro-cluster mode on all 1,000,000 users (the
whole `fit`), and its agreement with the exact tree on the 20,000-user
sample (adjusted Rand index of the cuts at K = 8).
"""

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
import fastcluster  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "benches/compare/data/points_1000000x3.csv"
SEGMINT = ROOT / "target/release/segmint"
REPEAT = 3


def segmint_fit(table, out, micro, k=8):
    cmd = [str(SEGMINT), "--device", "cpu", "--threads", "2", "-q", "fit",
           "--method", "hierarchical", "--micro-clusters", str(micro),
           "--k", str(k), "--silhouette", "none", "--scale", "none",
           "--features-input", str(table), "-o", str(out), "--format", "json"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def segments(path):
    with open(path) as f:
        return [row["segment"] for row in csv.DictReader(f)]


def main():
    if not SEGMINT.exists() or not DATA.exists():
        sys.exit("build segmint (cargo build --release) and make the data first")
    rows = np.loadtxt(DATA, delimiter=",", skiprows=1, usecols=(1, 2, 3))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines = DATA.read_text().splitlines(keepends=True)
        for n in (20_000, 50_000):
            table = tmp / f"p{n}.csv"
            table.write_text("".join(lines[: n + 1]))
            x = rows[:n]
            peer = []
            for _ in range(REPEAT):
                start = time.perf_counter()
                fastcluster.linkage_vector(x, method="ward")
                peer.append(time.perf_counter() - start)
            ours = [segmint_fit(table, tmp / "s.csv", 0) for _ in range(REPEAT)]
            print(json.dumps({
                "n": n, "fastcluster_linkage_vector_s": statistics.median(peer),
                "segmint_fit_exact_s": statistics.median(ours),
                "ratio": statistics.median(peer) / statistics.median(ours),
            }))
        whole = [segmint_fit(DATA, tmp / "m.csv", 1000) for _ in range(REPEAT)]
        print(json.dumps({"n": 1_000_000, "segmint_fit_micro_1000_s": statistics.median(whole)}))
        table = tmp / "p20000.csv"
        table.write_text("".join(lines[:20_001]))
        segmint_fit(table, tmp / "exact.csv", 0)
        for m in (250, 500, 1000):
            segmint_fit(table, tmp / f"m{m}.csv", m)
            ari = adjusted_rand_score(segments(tmp / "exact.csv"), segments(tmp / f"m{m}.csv"))
            print(json.dumps({"n": 20_000, "micro_clusters": m, "ari_vs_exact_k8": ari}))


if __name__ == "__main__":
    main()
