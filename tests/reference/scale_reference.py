#!/usr/bin/env python3
"""Independent scikit-learn reference for `segmint fit --scale none` on data
that are hard for float32: exact ties, large common offsets, huge and tiny
magnitudes. The tests run the segmint binary on each features.csv and hold
what it *writes* (the labels of scores.csv and the metrics it reports) to
these values.

What it produces
    For every case in CASES, tests/fixtures/scale/<case>/ with

    * features.csv   -- header `user_id,<col>,...`, ids u0000, u0001, ...,
                        values as repr(float) (full float64).
    * expected.json  -- generator, sklearn_version, numpy_version, k, and
        labellings: a list of the fits a correct run may write, each
            groups       (lists of user indices, each group sorted, groups
                          sorted by their first index: the partition without
                          numbering),
            centres      (the K-Means centres of that fit, in group order;
                          for most cases as sklearn found them),
            inertia      (sum of squared distances to those centres),
            distances    (each user's distance to its group's centre),
            silhouette, silhouette_samples, calinski_harabasz, davies_bouldin
                         (sklearn's, on that partition).
        Most cases have one labelling (well-separated groups: any good fit
        finds it). The `tie` case has the two Lloyd fixed points of its six
        values, and the partition K-Means writes when the users tied between
        the first one's centres move to the other centre; their metrics
        differ, and segmint must report the metrics of the one it writes.

All computations in float64 on the raw values (no scaling), as `--scale none`
asks. sklearn's KMeans centres the data itself before fitting.

How to run (from the repository root; the same pinned environment as
cluster_reference.py)
    tests/reference/.venv/bin/python tests/reference/scale_reference.py
    tests/reference/.venv/bin/python tests/reference/scale_reference.py --check
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)
from threadpoolctl import threadpool_limits

GENERATOR = "tests/reference/scale_reference.py"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "scale")


def case_tie():
    # Two Lloyd fixed points: {-3, -3, 1, 1 | 3, 3} with centres -1 and 3,
    # where users 2 and 3 sit exactly half-way between the centres, and
    # {-3, -3 | 1, 1, 3, 3} with centres -3 and 2. Moving the tied users of
    # the first gives the second partition with the first's centres.
    x = np.array([-3.0, -3.0, 1.0, 1.0, 3.0, 3.0]).reshape(-1, 1)
    fits = [
        ([[0, 1, 2, 3], [4, 5]], [[-1.0], [3.0]]),
        ([[0, 1], [2, 3, 4, 5]], [[-1.0], [3.0]]),
        ([[0, 1], [2, 3, 4, 5]], [[-3.0], [2.0]]),
    ]
    return ["f0"], x, 2, fits


def case_offset():
    # Two groups a few units apart at 1e6: float32 holds 1e6 only to 1/16.
    rng = np.random.default_rng(71)
    a = 1e6 + rng.uniform(0.0, 1.0, 60)
    b = 1e6 + 5.0 + rng.uniform(0.0, 1.0, 40)
    x = np.concatenate([a, b])[rng.permutation(100)].reshape(-1, 1)
    return ["f0"], x, 2, None


def case_offset_1e7():
    rng = np.random.default_rng(72)
    x, _ = make_blobs(n_samples=150, n_features=2, centers=3, cluster_std=0.6,
                      center_box=(-8.0, 8.0), random_state=73)
    x = x + 1e7
    return ["f0", "f1"], x, 3, None


def case_huge():
    # Differences past 1.8e19 overflow float32 when squared.
    x, _ = make_blobs(n_samples=200, n_features=2, centers=2, cluster_std=1.0,
                      center_box=(-10.0, 10.0), random_state=74)
    return ["f0", "f1"], x * 1e22, 2, None


def case_tiny():
    # Squared differences below about 1e-45 vanish in float32.
    x, _ = make_blobs(n_samples=200, n_features=2, centers=2, cluster_std=1.0,
                      center_box=(-10.0, 10.0), random_state=75)
    return ["f0", "f1"], x * 1e-27, 2, None


CASES = {
    "tie": case_tie,
    "offset": case_offset,
    "offset_1e7": case_offset_1e7,
    "huge": case_huge,
    "tiny": case_tiny,
}


def groups_of(labels):
    groups = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def labelling(x, groups, centres):
    n = x.shape[0]
    labels = np.empty(n, dtype=np.int64)
    for g, members in enumerate(groups):
        labels[members] = g
    distances = np.sqrt(((x - centres[labels]) ** 2).sum(axis=1))
    # The metrics do not change when the data move, and scikit-learn's
    # pairwise distances (|x|^2 - 2 x.y + |y|^2) lose digits to |x|^2 at a
    # large offset (1e-4 on a silhouette at 1e6): centred first, in float64.
    xc = x - x.mean(axis=0)
    return {
        "groups": groups,
        "centres": centres,
        "inertia": float((distances ** 2).sum()),
        "distances": distances,
        "silhouette": silhouette_score(xc, labels),
        "silhouette_samples": silhouette_samples(xc, labels),
        "calinski_harabasz": calinski_harabasz_score(xc, labels),
        "davies_bouldin": davies_bouldin_score(xc, labels),
    }


def build(name):
    cols, x, k, fits = CASES[name]()
    x = np.asarray(x, dtype=np.float64)
    if fits is not None:
        found = [labelling(x, g, np.asarray(c, dtype=np.float64)) for g, c in fits]
    else:
        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x)
        groups = groups_of(km.labels_)
        order = [int(km.labels_[g[0]]) for g in groups]
        found = [labelling(x, groups, km.cluster_centers_[order])]
        for f in found:
            if not all(math.isfinite(float(v)) for v in
                       [f["inertia"], f["silhouette"], f["calinski_harabasz"], f["davies_bouldin"]]):
                raise SystemExit(f"{name}: a non-finite metric")
    doc = {
        "generator": GENERATOR,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "k": k,
        "labellings": found,
    }
    return cols, x, doc


def jnum(v):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("non-finite number")
    return repr(f)


def jval(v, indent):
    pad = "  " * indent
    if isinstance(v, dict):
        items = [f'{pad}  {json.dumps(key)}: {jval(val, indent + 1)}' for key, val in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return "[\n" + ",\n".join(pad + "  " + jval(e, indent + 1) for e in v) + "\n" + pad + "]"
    if isinstance(v, list) and v and isinstance(v[0], list):
        return "[" + ", ".join(jval(e, indent) for e in v) + "]"
    if isinstance(v, (list, tuple, np.ndarray)):
        a = np.asarray(v)
        if a.ndim == 1:
            return "[" + ", ".join(jnum(e) for e in a.tolist()) + "]"
        if a.ndim == 2:
            return "[" + ", ".join("[" + ", ".join(jnum(e) for e in r) + "]" for r in a.tolist()) + "]"
        raise ValueError("array of rank > 2")
    return jnum(v)


def features_csv(cols, x):
    lines = ["user_id," + ",".join(cols)]
    for i, row in enumerate(x.tolist()):
        lines.append("u%04d," % i + ",".join(repr(float(v)) for v in row))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--check", action="store_true",
                    help="compare with the files on disk; exit 1 if stale")
    args = ap.parse_args()
    stale = []
    for name in args.cases or list(CASES):
        with threadpool_limits(limits=1):
            cols, x, doc = build(name)
        texts = {"features.csv": features_csv(cols, x), "expected.json": jval(doc, 0) + "\n"}
        json.loads(texts["expected.json"])
        case_dir = os.path.join(OUT_DIR, name)
        for fname, text in texts.items():
            path = os.path.join(case_dir, fname)
            if args.check:
                try:
                    with open(path, encoding="utf-8") as fh:
                        if fh.read() != text:
                            stale.append(path)
                except FileNotFoundError:
                    stale.append(path)
            else:
                os.makedirs(case_dir, exist_ok=True)
                with open(path, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
        first = doc["labellings"][0]
        print(f"{name}: n={x.shape[0]} k={doc['k']} labellings={len(doc['labellings'])} "
              f"inertia={first['inertia']!r} silhouette={first['silhouette']!r}")
    if args.check:
        if stale:
            print("stale or missing:\n  " + "\n  ".join(os.path.relpath(p, ROOT) for p in stale))
            return 1
        print("all scale fixtures are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
