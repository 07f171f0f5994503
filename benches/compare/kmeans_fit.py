#!/usr/bin/env python3
"""Whole K-Means fits to convergence: segmint (Lloyd and Hamerly) against
scikit-learn (its `lloyd` and `elkan`), every engine from the same
k-means++ start, 2 threads each. Started by benches/compare/kmeans_fit.sh.

Per dataset and K: the start is scikit-learn's `kmeans_plusplus` (seed 0)
on the float32 points, written as CSV for segmint with 9 significant
digits (float32 values round-trip exactly). Each engine fits to its own
convergence rule with tol = 1e-4 (both scale it by the mean feature
variance) and max_iter = 300. segmint is timed by `segmint bench fit`
(algorithm time, data loading excluded, as for the peers); the labels of
`segmint fit` with `--algorithm lloyd` and `--algorithm hamerly` are
compared point by point, and with scikit-learn's after matching segments.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def log(msg: str) -> None:
    print(f"[kmeans-fit] {msg}", file=sys.stderr, flush=True)


def uniform(data: Path, n: int, d: int, seed: int) -> Path:
    """Points without cluster structure (the hard case for bounds)."""
    import numpy as np

    stem = data / f"uniform_{n}x{d}"
    if not stem.with_suffix(".csv").exists():
        rng = np.random.default_rng(seed)
        x = np.round(rng.uniform(-1.0, 1.0, size=(n, d)), 6)
        with stem.with_suffix(".csv").open("w") as f:
            f.write("user_id," + ",".join(f"f{j}" for j in range(d)) + "\n")
            for i, row in enumerate(x):
                f.write(f"u{i:07d}," + ",".join(f"{v:.6f}" for v in row) + "\n")
        np.save(stem.with_suffix(".npy"), x.astype(np.float32))
    return stem


def start(stem: Path, k: int, out: Path) -> Path:
    import numpy as np
    from sklearn.cluster import kmeans_plusplus

    x = np.load(stem.with_suffix(".npy"))
    centres, _ = kmeans_plusplus(x, n_clusters=k, random_state=0)
    path = out / f"{stem.name}_init{k}.csv"
    with path.open("w") as f:
        f.write(",".join(f"f{j}" for j in range(x.shape[1])) + "\n")
        for row in centres.astype(np.float32):
            f.write(",".join(f"{float(v):.9g}" for v in row) + "\n")
    np.save(path.with_suffix(".npy"), centres.astype(np.float32))
    return path


def sklearn_fit(stem: Path, init: Path, algorithm: str, repeat: int) -> dict:
    import numpy as np
    from sklearn.cluster import KMeans

    x = np.load(stem.with_suffix(".npy"))
    c = np.load(init.with_suffix(".npy"))
    times, km = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        km = KMeans(n_clusters=c.shape[0], init=c, n_init=1, tol=1e-4, max_iter=300,
                    algorithm=algorithm).fit(x)
        times.append(time.perf_counter() - t0)
    return {"times": times, "n_iter": int(km.n_iter_), "inertia": float(km.inertia_),
            "labels": km.labels_.astype(int).tolist()}


def segmint_fit(seg: str, threads: int, stem: Path, init: Path, algorithm: str,
                repeat: int) -> dict:
    cmd = [seg, "--device", "cpu", "--threads", str(threads), "bench", "fit",
           "--features-input", str(stem.with_suffix(".csv")), "--init", str(init),
           "--scale", "none", "--algorithm", algorithm, "--repeat", str(repeat),
           "--format", "json"]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = json.loads(run.stdout)
    note = [l for l in run.stderr.splitlines() if "fit:" in l]
    return {"times": out["times_s"], "note": note[-1] if note else "", "command": " ".join(cmd)}


def segmint_labels(seg: str, threads: int, stem: Path, init: Path, k: int, algorithm: str,
                   out: Path) -> list[int]:
    scores = out / f"{stem.name}_k{k}_{algorithm}.csv"
    subprocess.run([seg, "--device", "cpu", "--threads", str(threads), "fit",
                    "--features-input", str(stem.with_suffix(".csv")), "--k", str(k),
                    "--init", str(init), "--scale", "none", "--silhouette", "none",
                    "--algorithm", algorithm, "-o", str(scores), "-q"], check=True)
    with scores.open() as f:
        header = f.readline().rstrip("\n").split(",")
        col = header.index("segment")
        return [int(line.split(",")[col]) for line in f]


def agreement(a: list[int], b: list[int]) -> float:
    """Share of points whose segment in `a` maps to theirs in `b` under the
    best one-to-one matching by overlap (greedy; exact for equal labelings)."""
    from collections import Counter

    pairs = Counter(zip(a, b))
    used_a, used_b, same = set(), set(), 0
    for (x, y), count in pairs.most_common():
        if x not in used_a and y not in used_b:
            used_a.add(x)
            used_b.add(y)
            same += count
    return same / len(a)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--segmint", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--ks", default="8,64")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    work = args.data / "kmeans_fit"
    work.mkdir(parents=True, exist_ok=True)
    datasets = [("blobs 1M x 8", args.data / "points_1000000x8"),
                ("blobs 1M x 3", args.data / "points_1000000x3"),
                ("uniform 1M x 8", uniform(args.data, 1_000_000, 8, 7))]
    rows = []
    for name, stem in datasets:
        for k in ks:
            init = start(stem, k, work)
            log(f"{name}, K = {k}")
            seg = {a: segmint_fit(args.segmint, args.threads, stem, init, a, args.repeat)
                   for a in ("lloyd", "hamerly", "auto")}
            sk = {a: sklearn_fit(stem, init, a, args.repeat) for a in ("lloyd", "elkan")}
            lab = {a: segmint_labels(args.segmint, args.threads, stem, init, k, a, work)
                   for a in ("lloyd", "hamerly")}
            best_peer = min(sk, key=lambda a: statistics.median(sk[a]["times"]))
            rows.append({
                "dataset": name, "k": k,
                "segmint": {a: {"median_s": statistics.median(v["times"]), "note": v["note"],
                                "command": v["command"]} for a, v in seg.items()},
                "sklearn": {a: {"median_s": statistics.median(v["times"]), "n_iter": v["n_iter"],
                                "inertia": v["inertia"]} for a, v in sk.items()},
                "best_peer": best_peer,
                "hamerly_labels_equal_lloyd": lab["lloyd"] == lab["hamerly"],
                "agreement_with_sklearn_lloyd": agreement(lab["lloyd"], sk["lloyd"]["labels"]),
            })
            r = rows[-1]
            log(json.dumps({key: r[key] for key in ("dataset", "k", "best_peer",
                                                     "hamerly_labels_equal_lloyd",
                                                     "agreement_with_sklearn_lloyd")}))
            for a in ("lloyd", "hamerly", "auto"):
                log(f"  segmint {a}: {r['segmint'][a]['median_s']:.3f} s ({r['segmint'][a]['note']})")
            for a in ("lloyd", "elkan"):
                s = r["sklearn"][a]
                log(f"  scikit-learn {a}: {s['median_s']:.3f} s, {s['n_iter']} iterations, inertia {s['inertia']:.6e}")
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
