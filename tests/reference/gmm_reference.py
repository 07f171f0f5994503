#!/usr/bin/env python3
"""Independent scikit-learn reference for segmint's Gaussian mixtures (EM).

What it produces
    For every covariance type (full, tied, diag, spherical) and every case in
    CASES, tests/fixtures/gmm/<case>_<type>.json holding, in this order:

    generator, sklearn_version, numpy_version,
    covariance_type, k, reg_covar,
    points      (n x d: the fitted points, every value a float32 number so
                 that segmint, which stores points as float32, reads exactly
                 them),
    held_back   (m x d: other points of the same draw, float32 too),
    weights_init, means_init, precisions_init
                (the start: sklearn's `weights_init`, `means_init` and
                 `precisions_init`, in sklearn's shapes per covariance type),
    lower_bounds
                (sklearn's `lower_bound_` after 1, 2, ..., ITERATIONS
                 iterations: GaussianMixture(tol=0, max_iter=i) from the same
                 start; the mean log-likelihood per point each E-step found),
    weights, means, covariances
                (sklearn's parameters after ITERATIONS iterations),
    score, bic, aic
                (sklearn's score(points), bic(points), aic(points) for them),
    labels      (predict(points)),
    label_margins
                (per point, the log density of its label less the next),
    predict_proba_held_back
                (predict_proba(held_back), m x k).

    Checks made before anything is written (the script stops on failure):
    the lower bounds never decrease; the parameters are finite; most points'
    most probable component leads the second by MIN_MARGIN in log density
    (`label_margins` gives each point's lead: a test compares the labels
    of the points clear of a tie).

Determinism
    Each case draws from numpy.random.default_rng(seed); reruns give
    byte-identical files with the versions pinned in
    tests/reference/requirements-cluster.txt.

How to run (from the repository root)
    python3 -m venv tests/reference/.venv
    tests/reference/.venv/bin/pip install -r tests/reference/requirements-cluster.txt
    tests/reference/.venv/bin/python tests/reference/gmm_reference.py
"""

import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "gmm")
TYPES = ["full", "tied", "diag", "spherical"]
ITERATIONS = 12
MIN_MARGIN = 1e-3


def draw(seed, n, m, centres, scales):
    """n + m points around `centres`, each a float32 number."""
    rng = np.random.default_rng(seed)
    k, d = centres.shape
    comp = rng.integers(0, k, size=n + m)
    mix = rng.normal(size=(k, d, d)) * 0.4 + np.eye(d)
    x = centres[comp] + np.einsum("nd,nde->ne", rng.normal(size=(n + m, d)), mix[comp]) * scales[comp, None]
    x = x.astype(np.float32).astype(np.float64)
    return x[:n], x[n:]


CASES = {
    # Three overlapping groups in three features: soft memberships matter.
    "overlap": dict(
        seed=11,
        n=400,
        m=40,
        centres=np.array([[0.0, 0.0, 0.0], [2.0, 1.0, -1.0], [-1.5, 2.5, 1.0]]),
        scales=np.array([1.0, 0.7, 0.5]),
        k=3,
        reg_covar=1e-6,
    ),
    # Four groups in five features, one tight: K = 4, a larger reg_covar.
    "wide": dict(
        seed=23,
        n=500,
        m=40,
        centres=np.array(
            [
                [0.0, 0.0, 0.0, 0.0, 0.0],
                [3.0, 0.0, 1.0, -1.0, 0.5],
                [0.0, 3.0, -1.0, 1.0, 0.0],
                [-2.0, -2.0, 2.0, 0.0, -1.0],
            ]
        ),
        scales=np.array([1.0, 0.8, 0.6, 0.1]),
        k=4,
        reg_covar=1e-3,
    ),
}


def start(x, k, kind, rng):
    """A start that is not sklearn's own: weights, means and precisions from
    a perturbed random split of the points."""
    n, d = x.shape
    split = rng.integers(0, k, size=n)
    weights = np.array([(split == c).mean() for c in range(k)])
    means = np.array([x[split == c].mean(0) for c in range(k)]) + rng.normal(size=(k, d)) * 0.5
    covs = np.array([np.cov(x[split == c].T, bias=True) + 0.1 * np.eye(d) for c in range(k)])
    if kind == "full":
        prec = np.array([np.linalg.inv(c) for c in covs])
    elif kind == "tied":
        prec = np.linalg.inv(covs.mean(0))
    elif kind == "diag":
        prec = 1.0 / np.array([np.diag(c) for c in covs])
    else:
        prec = 1.0 / np.array([np.diag(c).mean() for c in covs])
    return weights, means, prec


def gmm(kind, k, reg, init, iterations):
    weights, means, prec = init
    return GaussianMixture(
        n_components=k,
        covariance_type=kind,
        tol=0.0,
        reg_covar=reg,
        max_iter=iterations,
        weights_init=weights,
        means_init=means,
        precisions_init=prec,
        random_state=0,
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, case in CASES.items():
        x, held = draw(case["seed"], case["n"], case["m"], case["centres"], case["scales"])
        for kind in TYPES:
            rng = np.random.default_rng(case["seed"] + 1000)
            init = start(x, case["k"], kind, rng)
            bounds = []
            for i in range(1, ITERATIONS + 1):
                g = gmm(kind, case["k"], case["reg_covar"], init, i).fit(x)
                bounds.append(g.lower_bound_)
            assert all(b >= a - 1e-12 for a, b in zip(bounds, bounds[1:])), (name, kind, bounds)
            log_resp = g._estimate_weighted_log_prob(x)
            top = np.sort(log_resp, axis=1)
            margins = top[:, -1] - top[:, -2]
            assert (margins > MIN_MARGIN).mean() > 0.95, (name, kind)
            for v in (g.weights_, g.means_, g.covariances_):
                assert np.isfinite(v).all()
            out = {
                "generator": "tests/reference/gmm_reference.py",
                "sklearn_version": sklearn.__version__,
                "numpy_version": np.__version__,
                "covariance_type": kind,
                "k": case["k"],
                "reg_covar": case["reg_covar"],
                "points": x.tolist(),
                "held_back": held.tolist(),
                "weights_init": init[0].tolist(),
                "means_init": init[1].tolist(),
                "precisions_init": np.asarray(init[2]).tolist(),
                "lower_bounds": bounds,
                "weights": g.weights_.tolist(),
                "means": g.means_.tolist(),
                "covariances": np.asarray(g.covariances_).tolist(),
                "score": g.score(x),
                "bic": g.bic(x),
                "aic": g.aic(x),
                "labels": g.predict(x).tolist(),
                "label_margins": margins.tolist(),
                "predict_proba_held_back": g.predict_proba(held).tolist(),
            }
            path = os.path.join(OUT, f"{name}_{kind}.json")
            with open(path, "w") as f:
                json.dump(out, f, indent=1)
                f.write("\n")
            print(f"{path}: lower bound {bounds[-1]:.6f}, bic {out['bic']:.3f}")


if __name__ == "__main__":
    main()
