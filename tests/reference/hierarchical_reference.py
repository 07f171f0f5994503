#!/usr/bin/env python3
"""Independent SciPy reference for segmint's hierarchical clustering.

What it produces
    For every linkage (ward, average, complete, single) and every case in
    CASES, tests/fixtures/hierarchical/<case>_<linkage>.json holding:

    generator, scipy_version, numpy_version, linkage,
    points   (n x d, every value a float32 number so that segmint, which
              stores points as float32, reads exactly them),
    merges   (SciPy's linkage matrix, (n - 1) x 4: the two clusters merged,
              the height, the size; `linkage(points, method)` on the
              points as float64),
    cuts     ({"k": [labels]} for K in KS: fcluster(Z, K, "maxclust") - 1).

    Checks made before anything is written (the script stops on failure):
    no two merge heights within 1e-9 relative of each other (so the merge
    order has no tie for the test to resolve), and every cut has exactly K
    clusters.

Determinism
    Each case draws from numpy.random.default_rng(seed); reruns give
    byte-identical files with the versions pinned in
    tests/reference/requirements-cluster.txt.
"""

import json
from pathlib import Path

import numpy as np
import scipy
from scipy.cluster.hierarchy import fcluster, linkage

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "hierarchical"
LINKAGES = ["ward", "average", "complete", "single"]
KS = [2, 3, 4, 5, 6, 8]


def blobs(rng, n, d, groups, spread):
    centres = rng.uniform(-6, 6, size=(groups, d))
    which = rng.integers(0, groups, size=n)
    return centres[which] + rng.normal(0, spread, size=(n, d))


CASES = {
    # Well-separated groups: the top of every tree is clear.
    "blobs": lambda rng: blobs(rng, 400, 3, 5, 0.7),
    # Overlapping groups on two features: every merge is a close call.
    "overlap": lambda rng: blobs(rng, 300, 2, 4, 2.5),
}
SEEDS = {"blobs": 20, "overlap": 21}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for case, draw in CASES.items():
        rng = np.random.default_rng(SEEDS[case])
        points = draw(rng).astype(np.float32)
        x = points.astype(np.float64)
        for method in LINKAGES:
            z = linkage(x, method=method)
            heights = np.sort(z[:, 2])
            gaps = np.diff(heights) / np.maximum(heights[1:], 1e-300)
            if np.any(gaps < 1e-9):
                raise SystemExit(f"{case} {method}: two merge heights tie")
            cuts = {}
            for k in KS:
                labels = fcluster(z, k, criterion="maxclust") - 1
                if len(set(labels.tolist())) != k:
                    raise SystemExit(f"{case} {method}: cut at {k} is not {k} clusters")
                cuts[str(k)] = labels.tolist()
            fixture = {
                "generator": "tests/reference/hierarchical_reference.py",
                "scipy_version": scipy.__version__,
                "numpy_version": np.__version__,
                "linkage": method,
                "points": [[float(v) for v in row] for row in points],
                "merges": [[int(r[0]), int(r[1]), float(r[2]), int(r[3])] for r in z],
                "cuts": cuts,
            }
            path = OUT / f"{case}_{method}.json"
            path.write_text(json.dumps(fixture) + "\n")
            print(f"wrote {path.relative_to(OUT.parent.parent.parent)}")


if __name__ == "__main__":
    main()
