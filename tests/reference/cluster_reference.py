#!/usr/bin/env python3
"""Independent scikit-learn reference for segmint's clustering (K-Means + metrics).

What it produces
    For every case in CASES below, a directory tests/fixtures/cluster/<case>/ with

    * features.csv   -- the raw per-user table: header `user_id,<col>,...`,
                        user ids u0000, u0001, ... (byte order == file order),
                        every value written as repr(float) (full float64
                        precision), no quoting.
    * expected.json  -- one JSON object holding, in this order:
        generator, sklearn_version, numpy_version,
        features   (feature specs as the CLI takes them: a plain name is the
                    column as is, "log1p:NAME" is log1p(max(x, 0))),
        k, max_iter, tol,
        mean, std  (of the transformed columns; std is the population std,
                    ddof=0; a constant column has std 0),
        scaled     (n x d, (x - mean) / std; a column with std == 0 is all 0.0),
        init       (k x d initial centres in scaled space),
        one_step   (ONE Lloyd step from `init` in plain numpy float64, not
                    sklearn: labels = argmin of the squared distance to the
                    init centres, lowest index on ties; inertia = sum of those
                    minimum squared distances; centres = mean of the assigned
                    points. Present only when no cluster is empty after the
                    step, so it is absent from the `empty_cluster` case),
        kmeans     (sklearn KMeans(n_clusters=k, init=init, n_init=1,
                    max_iter=max_iter, tol=tol, algorithm="lloyd")
                    .fit(scaled) on float64: labels, centres, inertia, n_iter),
        silhouette, silhouette_samples        (Euclidean),
        silhouette_sqeuclidean                (metric="sqeuclidean"),
        calinski_harabasz, davies_bouldin     (all on the final sklearn labels).
    All floats are written with Python's repr (shortest round-trip float64).

    Note that sklearn's `tol` is relative: KMeans stops when the summed squared
    centre shift is <= tol * mean(per-column variance of the data it is given),
    i.e. tol * 1.0 for z-scored data, tol * (d - c) / d when c of the d columns
    are constant. Empty clusters are re-seeded inside an iteration from the
    points farthest from their (old) assigned centre.

Checks made before anything is written (the script stops on failure)
    * no duplicated points in `scaled`;
    * sklearn's fit uses all k clusters and every metric is finite;
    * a plain-numpy re-run of sklearn's Lloyd loop (same relocation rule, same
      relative tol, same final E-step) reproduces sklearn's labels and n_iter
      exactly and its centres/inertia to 1e-9;
    * no assignment is near a tie: in every E-step of that run, and in
      one_step, the gap between a point's nearest and second-nearest squared
      distance is >= MIN_MARGIN (so a float32 implementation walks the same
      path);
    * in `empty_cluster` one init centre really gets no point in the first
      step, and sklearn's result still has k non-empty clusters.

Determinism
    Every case draws from its own numpy.random.default_rng(seed) (and
    make_blobs random_state) with a fixed seed; reruns give byte-identical files
    for the pinned versions in tests/reference/requirements-cluster.txt.

How to run (from the repository root)
    python3 -m venv tests/reference/.venv
    tests/reference/.venv/bin/pip install -r tests/reference/requirements-cluster.txt
    tests/reference/.venv/bin/python tests/reference/cluster_reference.py

    Check that the committed fixtures are current (exit status 1 if not):
    tests/reference/.venv/bin/python tests/reference/cluster_reference.py --check

    Only some cases:
    tests/reference/.venv/bin/python tests/reference/cluster_reference.py blobs wide
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import sklearn
from threadpoolctl import threadpool_limits
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)

GENERATOR = "tests/reference/cluster_reference.py"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "cluster")

MAX_ITER = 300
TOL = 1e-4
# Smallest accepted gap between a point's nearest and second-nearest squared
# distance (scaled space) in any E-step of the reference run.
MIN_MARGIN = 1e-3


# --------------------------------------------------------------------------
# Cases: each returns (columns, raw matrix n x c, feature specs, k, init_fn)
# init_fn(scaled) -> k x d array of initial centres in scaled space.
# --------------------------------------------------------------------------


def random_rows_init(seed, k):
    def init(scaled):
        rng = np.random.default_rng(seed)
        idx = rng.choice(scaled.shape[0], size=k, replace=False)
        return scaled[np.sort(idx)].copy()

    return init


def case_blobs():
    x, _ = make_blobs(
        n_samples=240, n_features=3, centers=4, cluster_std=1.5, random_state=9
    )
    # put the columns on different scales/offsets so the z-score matters
    x = x * np.array([1.0, 12.5, 0.2]) + np.array([3.0, -40.0, 100.0])
    cols = ["x1", "x2", "x3"]
    return cols, x, list(cols), 4, random_rows_init(101, 4)


def case_wide():
    x, _ = make_blobs(
        n_samples=400,
        n_features=8,
        centers=6,
        cluster_std=2.2,
        center_box=(-6.0, 6.0),
        random_state=27,
    )
    scales = np.array([1.0, 2.0, 0.5, 10.0, 1.0, 0.1, 3.0, 1.0])
    offsets = np.array([0.0, 5.0, -3.0, 50.0, 1.0, 0.0, -20.0, 7.0])
    x = x * scales + offsets
    cols = ["f%d" % (i + 1) for i in range(8)]
    return cols, x, list(cols), 6, random_rows_init(202, 6)


def case_one_dim():
    rng = np.random.default_rng(36)
    sizes = [60, 50, 40]
    centres = [-4.0, 0.5, 5.0]
    x = np.concatenate(
        [rng.normal(c, 1.3, size=s) for c, s in zip(centres, sizes)]
    )
    x = x[rng.permutation(x.shape[0])] * 10.0 + 50.0
    return ["score"], x.reshape(-1, 1), ["score"], 3, random_rows_init(303, 3)


def case_empty_cluster():
    x, _ = make_blobs(
        n_samples=120, n_features=2, centers=3, cluster_std=1.2, random_state=44
    )
    cols = ["x", "y"]

    def init(scaled):
        rng = np.random.default_rng(404)
        idx = np.sort(rng.choice(scaled.shape[0], size=2, replace=False))
        return np.vstack([scaled[idx], np.array([[40.0, 40.0]])])

    return cols, x, list(cols), 3, init


def case_log1p_features():
    rng = np.random.default_rng(55)
    n = 200
    # three latent behaviours: casual / loyal / power
    seg = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    freq_mu = np.array([0.7, 2.0, 3.5])[seg]
    freq_sigma = np.array([0.6, 0.5, 0.6])[seg]
    frequency = np.maximum(1.0, np.round(rng.lognormal(freq_mu, freq_sigma)))
    spend = rng.lognormal(np.array([0.8, 1.2, 1.6])[seg], 0.5)
    monetary = np.round(frequency * spend, 2)
    # a few refunds/chargebacks: negative totals, clipped to 0 before log1p
    neg = rng.choice(n, size=8, replace=False)
    monetary[neg] = -np.round(rng.uniform(0.5, 40.0, size=8), 2)
    lo = np.array([1, 20, 50])[seg]
    hi = np.array([20, 70, 91])[seg]
    active_days = rng.integers(lo, hi + 1).astype(float)
    x = np.column_stack([frequency, monetary, active_days])
    cols = ["frequency", "monetary", "active_days"]
    feats = ["log1p:frequency", "log1p:monetary", "active_days"]
    return cols, x, feats, 3, random_rows_init(505, 3)


def case_constant_column():
    rng = np.random.default_rng(66)
    n = 100
    g = rng.permutation(np.repeat([0, 1], [55, 45]))
    a = np.where(g == 0, rng.normal(2.0, 1.0, n), rng.normal(5.5, 1.2, n))
    b = np.where(g == 0, rng.normal(-1.0, 0.8, n), rng.normal(1.5, 1.0, n))
    x = np.column_stack([a, np.full(n, 7.5), b * 4.0])
    cols = ["alpha", "constant", "beta"]
    return cols, x, list(cols), 2, random_rows_init(606, 2)


CASES = {
    "blobs": case_blobs,
    "wide": case_wide,
    "one_dim": case_one_dim,
    "empty_cluster": case_empty_cluster,
    "log1p_features": case_log1p_features,
    "constant_column": case_constant_column,
}


# --------------------------------------------------------------------------
# Plain-numpy pieces
# --------------------------------------------------------------------------


def transform(cols, raw, specs):
    out = []
    for spec in specs:
        if spec.startswith("log1p:"):
            v = raw[:, cols.index(spec[len("log1p:"):])]
            out.append(np.log1p(np.maximum(v, 0.0)))
        else:
            out.append(raw[:, cols.index(spec)].astype(np.float64))
    return np.column_stack(out)


def zscore(x):
    mean = x.mean(axis=0)
    std = x.std(axis=0)  # ddof=0
    for j in range(x.shape[1]):
        if np.all(x[:, j] == x[0, j]):
            std[j] = 0.0
    scaled = np.zeros_like(x)
    for j in range(x.shape[1]):
        if std[j] != 0.0:
            scaled[:, j] = (x[:, j] - mean[j]) / std[j]
    return mean, std, scaled


def sqdist(x, c):
    return ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)


def assign(x, c):
    """labels (lowest index on ties), min squared distances, min margin."""
    d2 = sqdist(x, c)
    labels = np.argmin(d2, axis=1)
    best = d2[np.arange(x.shape[0]), labels]
    if c.shape[0] > 1:
        part = np.partition(d2, 1, axis=1)
        margin = float((part[:, 1] - part[:, 0]).min())
    else:
        margin = math.inf
    return labels, best, margin


def one_lloyd_step(x, init):
    labels, best, margin = assign(x, init)
    k = init.shape[0]
    counts = np.bincount(labels, minlength=k)
    if np.any(counts == 0):
        return None, margin, counts
    centres = np.vstack([x[labels == j].mean(axis=0) for j in range(k)])
    return {"labels": labels, "inertia": float(best.sum()), "centres": centres}, margin, counts


def numpy_lloyd_like_sklearn(x, init, max_iter, tol):
    """Re-run of sklearn's _kmeans_single_lloyd in numpy, tracking margins."""
    tol_abs = float(np.mean(np.var(x, axis=0))) * tol if tol != 0 else 0.0
    k = init.shape[0]
    centres = init.copy()
    labels_old = np.full(x.shape[0], -1)
    min_margin = math.inf
    strict = False
    for i in range(max_iter):
        labels, _, margin = assign(x, centres)
        min_margin = min(min_margin, margin)
        sums = np.zeros_like(centres)
        weights = np.zeros(k)
        for j in range(k):
            sums[j] = x[labels == j].sum(axis=0)
            weights[j] = np.count_nonzero(labels == j)
        empty = np.where(weights == 0)[0]
        if empty.size:
            dist = ((x - centres[labels]) ** 2).sum(axis=1)
            far = np.argpartition(dist, -empty.size)[: -empty.size - 1 : -1]
            for new_id, far_idx in zip(empty, far):
                old_id = labels[far_idx]
                sums[old_id] -= x[far_idx]
                sums[new_id] = x[far_idx]
                weights[new_id] = 1.0
                weights[old_id] -= 1.0
        new_centres = sums / weights[:, None]
        shift = float(((new_centres - centres) ** 2).sum())
        centres = new_centres
        if np.array_equal(labels, labels_old):
            strict = True
            break
        if shift <= tol_abs:
            break
        labels_old = labels
    if not strict:
        labels, _, margin = assign(x, centres)
        min_margin = min(min_margin, margin)
    inertia = float(((x - centres[labels]) ** 2).sum())
    return labels, centres, inertia, i + 1, min_margin


# --------------------------------------------------------------------------
# Build one case
# --------------------------------------------------------------------------


class CheckError(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckError(msg)


def build(name):
    cols, raw, specs, k, init_fn = CASES[name]()
    raw = np.asarray(raw, dtype=np.float64)
    x = transform(cols, raw, specs)
    mean, std, scaled = zscore(x)
    n, d = scaled.shape
    check(np.unique(scaled, axis=0).shape[0] == n, f"{name}: duplicated points")
    init = np.asarray(init_fn(scaled), dtype=np.float64)
    check(init.shape == (k, d), f"{name}: init shape {init.shape}")

    step, step_margin, step_counts = one_lloyd_step(scaled, init)
    if name == "empty_cluster":
        check(step is None, f"{name}: expected an empty cluster after one step")
    else:
        check(step is not None, f"{name}: empty cluster after one step {step_counts}")
        check(step_margin >= MIN_MARGIN, f"{name}: one_step near-tie {step_margin}")

    km = KMeans(
        n_clusters=k,
        init=init.copy(),
        n_init=1,
        max_iter=MAX_ITER,
        tol=TOL,
        algorithm="lloyd",
    ).fit(scaled.copy())
    labels = km.labels_.astype(np.int64)
    check(np.unique(labels).size == k, f"{name}: sklearn used {np.unique(labels).size} of {k} clusters")

    ref_labels, ref_centres, ref_inertia, ref_n_iter, margin = numpy_lloyd_like_sklearn(
        scaled, init, MAX_ITER, TOL
    )
    check(np.array_equal(ref_labels, labels), f"{name}: numpy re-run labels differ from sklearn")
    check(ref_n_iter == km.n_iter_, f"{name}: n_iter {ref_n_iter} vs sklearn {km.n_iter_}")
    check(np.allclose(ref_centres, km.cluster_centers_, rtol=1e-9, atol=1e-9), f"{name}: centres differ")
    check(math.isclose(ref_inertia, km.inertia_, rel_tol=1e-9), f"{name}: inertia differs")
    check(margin >= MIN_MARGIN, f"{name}: near-tie in the Lloyd run, margin {margin}")
    check(km.n_iter_ < MAX_ITER, f"{name}: did not converge")

    sil = silhouette_score(scaled, labels)
    sil_s = silhouette_samples(scaled, labels)
    sil_sq = silhouette_score(scaled, labels, metric="sqeuclidean")
    ch = calinski_harabasz_score(scaled, labels)
    db = davies_bouldin_score(scaled, labels)
    for v in [sil, sil_sq, ch, db, km.inertia_, *sil_s]:
        check(math.isfinite(float(v)), f"{name}: non-finite metric")

    doc = {
        "generator": GENERATOR,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "features": specs,
        "k": k,
        "max_iter": MAX_ITER,
        "tol": TOL,
        "mean": mean,
        "std": std,
        "scaled": scaled,
        "init": init,
    }
    if step is not None:
        doc["one_step"] = {
            "labels": step["labels"],
            "inertia": step["inertia"],
            "centres": step["centres"],
        }
    doc["kmeans"] = {
        "labels": labels,
        "centres": km.cluster_centers_,
        "inertia": km.inertia_,
        "n_iter": int(km.n_iter_),
    }
    doc["silhouette"] = sil
    doc["silhouette_samples"] = sil_s
    doc["silhouette_sqeuclidean"] = sil_sq
    doc["calinski_harabasz"] = ch
    doc["davies_bouldin"] = db

    summary = {
        "n": n,
        "d": d,
        "k": k,
        "n_iter": int(km.n_iter_),
        "inertia": float(km.inertia_),
        "silhouette": float(sil),
        "sizes": np.bincount(labels, minlength=k).tolist(),
        "min_margin": min(margin, step_margin),
    }
    return cols, raw, doc, summary


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def jnum(v):
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("bool in numeric data")
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("non-finite number")
    return repr(f)


def jval(v, indent):
    """JSON text: scalars via repr, 1-D arrays on one line, 2-D one row a line."""
    pad = "  " * indent
    if isinstance(v, dict):
        items = [f'{pad}  {json.dumps(key)}: {jval(val, indent + 1)}' for key, val in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)) and all(isinstance(e, str) for e in v):
        return "[" + ", ".join(json.dumps(e) for e in v) + "]"
    if isinstance(v, (list, tuple, np.ndarray)):
        a = np.asarray(v)
        if a.ndim == 1:
            return "[" + ", ".join(jnum(e) for e in a.tolist()) + "]"
        if a.ndim == 2:
            rows = [pad + "  [" + ", ".join(jnum(e) for e in r) + "]" for r in a.tolist()]
            return "[\n" + ",\n".join(rows) + "\n" + pad + "]"
        raise ValueError("array of rank > 2")
    return jnum(v)


def features_csv(cols, raw):
    lines = ["user_id," + ",".join(cols)]
    for i, row in enumerate(raw.tolist()):
        lines.append("u%04d," % i + ",".join(repr(float(v)) for v in row))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--check", action="store_true",
                    help="compare with the files on disk instead of writing; exit 1 if stale")
    args = ap.parse_args()
    names = args.cases or list(CASES)
    for nm in names:
        if nm not in CASES:
            ap.error(f"unknown case {nm!r}; known: {', '.join(CASES)}")

    stale = []
    for nm in names:
        # one thread: OpenMP reductions inside sklearn then run in a fixed
        # order, so reruns are bit-for-bit identical
        with threadpool_limits(limits=1):
            cols, raw, doc, s = build(nm)
        texts = {
            "features.csv": features_csv(cols, raw),
            "expected.json": jval(doc, 0) + "\n",
        }
        parsed = json.loads(texts["expected.json"])  # must parse, and round-trip
        assert parsed["kmeans"]["labels"] == doc["kmeans"]["labels"].tolist()
        assert parsed["scaled"] == doc["scaled"].tolist()
        case_dir = os.path.join(OUT_DIR, nm)
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
        print(
            f"{nm}: n={s['n']} d={s['d']} k={s['k']} n_iter={s['n_iter']} "
            f"inertia={s['inertia']!r} silhouette={s['silhouette']!r} "
            f"sizes={s['sizes']} min_margin={s['min_margin']:.3g}"
        )
    if args.check:
        if stale:
            print("stale or missing:\n  " + "\n  ".join(os.path.relpath(p, ROOT) for p in stale))
            return 1
        print("all cluster fixtures are current")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as e:
        print(f"check failed: {e}", file=sys.stderr)
        sys.exit(2)
