"""Which segmentation method finds the known groups: K-Means, the Gaussian
mixture, hierarchical Ward and deep embedding clustering (DEC), each run as
users run it (`segmint fit`), scored against the known labels by the
adjusted Rand index and normalised mutual information (scikit-learn's),
with the silhouette segmint reports and the wall time of the whole
command. Driven by methods.sh; see benches/compare/README.md.

  methods.py gen   --data DIR --seed S
  methods.py bench --segmint BIN --data DIR --labelled DIR --repeat R --out FILE
  methods.py large --segmint BIN --data DIR --repeat R

`large` times whole fits of 1M users x 8 features (cluster.sh's blobs,
K = 8) with each method; DEC twice: with its defaults, and with --tol 0,
which runs every refinement step the defaults allow (--max-iter 5000).
"""

import argparse
import csv
import datetime
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

# Each method as `segmint fit` runs it; every run fixes --seed 0 and
# computes the exact silhouette.
METHODS = {
    "kmeans": ["--method", "kmeans", "--n-init", "10"],
    "gmm": ["--method", "gmm", "--n-init", "3"],
    "ward": ["--method", "hierarchical", "--linkage", "ward"],
    "dec": ["--method", "dec"],
}


def write_table(path, labels_path, rows, labels, prefix):
    d = len(rows[0])
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id"] + [f"x{j}" for j in range(d)])
        for i, row in enumerate(rows):
            w.writerow([f"{prefix}{i:05d}"] + [repr(float(v)) for v in row])
    with open(labels_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id", "label"])
        for i, label in enumerate(labels):
            w.writerow([f"{prefix}{i:05d}", int(label)])


def planted_log(path, labels_path, seed, users=3000, days=180):
    """A transaction log (dates without times, no channel or status) of
    three planted behaviours: frequent small buyers, monthly large buyers,
    and buyers who lapsed after their first month."""
    rng = random.Random(seed)
    start = datetime.date(2025, 1, 1)
    rows, labels = [], []
    for u in range(users):
        group = u % 3
        user = f"c{u:05d}"
        labels.append((user, group))
        if group == 0:
            gap, amount, until = (1.5, 6.0, days)
        elif group == 1:
            gap, amount, until = (30.0, 180.0, days)
        else:
            gap, amount, until = (4.0, 40.0, 35)
        t = rng.uniform(0, gap)
        while t < until:
            price = max(0.5, rng.lognormvariate(math.log(amount), 0.35))
            rows.append((user, start + datetime.timedelta(days=int(t)), price))
            t += rng.expovariate(1.0 / gap)
    rows.sort(key=lambda r: (r[1], r[0]))
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id", "created_at", "total_price"])
        for user, day, price in rows:
            w.writerow([user, day.isoformat(), f"{price:.2f}"])
    with open(labels_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id", "label"])
        w.writerows(labels)


def gen(args):
    import numpy as np
    from sklearn import datasets

    os.makedirs(args.data, exist_ok=True)
    seed = args.seed
    x, y = datasets.make_moons(n_samples=1000, noise=0.06, random_state=seed)
    write_table(f"{args.data}/moons.csv", f"{args.data}/moons.labels.csv", x, y, "m")
    x, y = datasets.make_circles(n_samples=1000, factor=0.45, noise=0.05, random_state=seed)
    write_table(f"{args.data}/circles.csv", f"{args.data}/circles.labels.csv", x, y, "c")
    # Nested blobs: a tight group inside a wide one, same centre (K-Means
    # cannot split them by construction; their spreads tell them apart).
    rng = np.random.default_rng(seed)
    tight = rng.normal(0.0, 0.3, size=(500, 2))
    wide = rng.normal(0.0, 2.0, size=(500, 2))
    x = np.vstack([tight, wide])
    y = np.array([0] * 500 + [1] * 500)
    write_table(f"{args.data}/nested.csv", f"{args.data}/nested.labels.csv", x, y, "n")
    planted_log(f"{args.data}/planted_log.csv", f"{args.data}/planted_log.labels.csv", seed)


def labels_of(path):
    with open(path) as f:
        return {row["user_id"]: int(row["label"]) for row in csv.DictReader(f)}


def run_fit(segmint, data_args, method, k, out_dir):
    scores = os.path.join(out_dir, "scores.csv")
    model = os.path.join(out_dir, "model.json")
    cmd = [segmint, "fit", *data_args, *METHODS[method], "--k", str(k), "--device", "cpu",
           "--silhouette", "exact", "--seed", "0", "-q", "-o", scores, "--model", model]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}")
    with open(scores) as f:
        segments = {row["user_id"]: int(row["segment"]) for row in csv.DictReader(f)}
    with open(model) as f:
        silhouette = json.load(f).get("silhouette")
    return seconds, segments, silhouette


def bench(args):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    sets = [
        ("iris", ["--features-input", f"{args.labelled}/iris.csv"], f"{args.labelled}/iris.labels.csv"),
        ("wine", ["--features-input", f"{args.labelled}/wine.csv"], f"{args.labelled}/wine.labels.csv"),
        ("breast cancer", ["--features-input", f"{args.labelled}/breast_cancer.csv"],
         f"{args.labelled}/breast_cancer.labels.csv"),
        ("moons", ["--features-input", f"{args.data}/moons.csv"], f"{args.data}/moons.labels.csv"),
        ("circles", ["--features-input", f"{args.data}/circles.csv"], f"{args.data}/circles.labels.csv"),
        ("nested blobs", ["--features-input", f"{args.data}/nested.csv"], f"{args.data}/nested.labels.csv"),
        ("planted log", [f"{args.data}/planted_log.csv"], f"{args.data}/planted_log.labels.csv"),
    ]
    results = []
    for name, data_args, labels_path in sets:
        truth = labels_of(labels_path)
        k = len(set(truth.values()))
        for method in args.methods.split():
            times = []
            with tempfile.TemporaryDirectory() as out:
                for _ in range(args.repeat):
                    seconds, segments, silhouette = run_fit(args.segmint, data_args, method, k, out)
                    times.append(seconds)
            users = sorted(segments)
            missing = [u for u in users if u not in truth]
            if missing:
                sys.exit(f"{name}: users without a label: {missing[:5]}")
            a = [truth[u] for u in users]
            b = [segments[u] for u in users]
            row = {
                "data": name, "users": len(users), "k": k, "method": method,
                "ari": adjusted_rand_score(a, b), "nmi": normalized_mutual_info_score(a, b),
                "silhouette": silhouette, "seconds": statistics.median(times),
            }
            results.append(row)
            print(f"{name:14s} {method:7s} ARI {row['ari']:.3f} NMI {row['nmi']:.3f} "
                  f"silhouette {silhouette if silhouette is None else round(silhouette, 3)} "
                  f"{row['seconds']:.3f} s", flush=True)
    lines = [
        "| data | users | K | method | ARI | NMI | silhouette | seconds |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        sil = "-" if r["silhouette"] is None else f"{r['silhouette']:.3f}"
        lines.append(f"| {r['data']} | {r['users']} | {r['k']} | {r['method']} | "
                     f"{r['ari']:.3f} | {r['nmi']:.3f} | {sil} | {r['seconds']:.3f} |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out.replace(".md", ".json"), "w") as f:
        json.dump(results, f, indent=1)
    print("\n".join(lines))


def large(args):
    """Whole `segmint fit` runs on 1M x 8 blobs: wall time (median) and
    the clustering stage's share, per method."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cluster
    from pathlib import Path

    os.makedirs(args.data, exist_ok=True)
    n, d = 1_000_000, 8
    cluster.gen_points(Path(args.data), n, d, 42)
    table = os.path.join(args.data, f"{cluster.points_name(n, d)}.csv")
    runs = [("kmeans", []), ("gmm", []), ("dec", []), ("dec --tol 0", ["--tol", "0"])]
    results = []
    with tempfile.TemporaryDirectory() as out:
        for label, extra in runs:
            method = label.split()[0]
            times, clustering = [], []
            for _ in range(args.repeat):
                cmd = [args.segmint, "fit", "--features-input", table, *METHODS[method], *extra,
                       "--k", "8", "--seed", "0", "--device", "cpu", "--timings", "-q",
                       "-o", os.path.join(out, "s.csv"), "--model", os.path.join(out, "m.json")]
                started = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True)
                times.append(time.perf_counter() - started)
                if done.returncode != 0:
                    sys.exit(f"{' '.join(cmd)} failed: {done.stderr}")
                for line in done.stderr.splitlines():
                    if line.startswith("clustering"):
                        clustering.append(float(line.split()[1]))
            with open(os.path.join(out, "m.json")) as f:
                m = json.load(f)["method"]
            row = {"run": label, "seconds": statistics.median(times),
                   "clustering": statistics.median(clustering) if clustering else None,
                   "steps": m.get("steps"), "pretrain_epochs": m.get("pretrain_epochs")}
            results.append(row)
            print(json.dumps(row), flush=True)
    with open(os.path.join(args.data, "results-methods-large.json"), "w") as f:
        json.dump(results, f, indent=1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--data", required=True)
    g.add_argument("--seed", type=int, default=42)
    b = sub.add_parser("bench")
    b.add_argument("--segmint", required=True)
    b.add_argument("--data", required=True)
    b.add_argument("--labelled", required=True)
    b.add_argument("--repeat", type=int, default=3)
    b.add_argument("--methods", default=" ".join(METHODS))
    b.add_argument("--out", required=True)
    big = sub.add_parser("large")
    big.add_argument("--segmint", required=True)
    big.add_argument("--data", required=True)
    big.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    {"gen": gen, "bench": bench, "large": large}[args.cmd](args)


if __name__ == "__main__":
    main()
