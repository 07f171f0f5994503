#!/usr/bin/env python3
"""Independent python-igraph / leidenalg reference for segmint's graph community
detection (Leiden; Traag, Waltman & van Eck 2019).

Every expected value written here is computed by leidenalg / python-igraph (and
scikit-learn for NMI) or by plain Python formulas that are asserted to agree with
them. Nothing is taken from segmint.

How to rerun (from the repository root; about 20-60 s on 2 cores):
    python3 -m venv tests/reference/.venv
    tests/reference/.venv/bin/pip install -r tests/reference/requirements-graph.txt
    tests/reference/.venv/bin/python tests/reference/graph_reference.py
The graphs are generated with numpy.random.default_rng(fixed seed), so rerunning
with the pinned versions rewrites identical files.

What it produces, in tests/fixtures/graph/, for every fixture NAME:

* NAME.edges.csv  -- header `src,dst,weight`; one undirected edge per row; node
                     ids are `n0` .. `n{N-1}`; no self loops, no duplicate
                     (unordered) pairs; every node has degree >= 1; rows are
                     shuffled and each row's endpoint order is random (fixed
                     seed). Weights are `1` for unweighted graphs, otherwise
                     decimals with at most 3 digits after the point.
                     The references are computed on the graph READ BACK from
                     this file, so the file is exactly the reference graph.
* NAME.truth.csv  -- planted graphs only: header `user_id,block`, one row per
                     node in id order.
* NAME.json       -- one object:
    nodes, edges, total_weight (sum of edge weights, each edge once),
    connected_components, component_sizes (descending),
    modularity     { resolution: 1.0,
                     seeds [0..4], per_seed (Q of each seed),
                     best_of_5: max over seeds s in 0..4 of
                        g.modularity(m_s, weights="weight", resolution=1) where
                        m_s = leidenalg.find_partition(g,
                        ModularityVertexPartition, weights="weight",
                        n_iterations=-1, seed=s).membership (ties: lowest seed),
                     best_seed, communities_of_best,
                     membership_of_best (list; entry i is node n{i}'s community),
                     igraph_community_leiden: Q of g.community_leiden(
                        objective_function="modularity", weights="weight",
                        resolution=1, n_iterations=-1) after random.seed(42)
                        (python-igraph draws from Python's `random`),
                     igraph_community_leiden_communities,
                     nmi_truth_of_best (planted only; sklearn
                        normalized_mutual_info_score, arithmetic average),
                     formula }
    modularity_r05 same structure at resolution 0.5: leidenalg
                   RBConfigurationVertexPartition(resolution_parameter=0.5),
                   scored with g.modularity(..., resolution=0.5);
                   igraph_community_leiden uses resolution=0.5.
    cpm            { resolution r, seeds, per_seed, best_of_5 = max over seeds of
                     leidenalg CPMVertexPartition(weights="weight",
                     resolution_parameter=r, n_iterations=-1, seed=s).quality(),
                     best_seed, communities_of_best, membership_of_best,
                     nmi_truth_of_best (planted only), formula }
    truth_modularity (planted only): g.modularity(truth, weights="weight"),
    truth_cpm (planted only): the CPM quality (same formula, same r) of truth,
    generator  (how the graph was made, incl. realised inter-block edge share),
    versions   { python-igraph, leidenalg, numpy, scikit-learn, python }.

Formulas (all checked by assertions against igraph / leidenalg below):
    W   = total edge weight; d_i = weighted degree; w_c = total weight of edges
          with both ends in community c; d_c = sum of d_i over c; n_c = |c|.
    modularity(gamma) = sum_c ( w_c / W - gamma * (d_c / (2 W))^2 )
    CPM quality (leidenalg, undirected, unit node sizes)
                      = sum_c ( 2 w_c - r * n_c * (n_c - 1) )
                      = 2 * sum_c ( w_c - r * n_c * (n_c - 1) / 2 )
      i.e. leidenalg reports TWICE the textbook CPM value.

Checks made before anything is written (the script stops on failure): the
plain-Python modularity / CPM values match igraph / leidenalg to 1e-9 relative,
ModularityVertexPartition.quality() equals g.modularity(weighted), every
community of every reported partition is connected, and (fixture
`components`) no community spans two connected components.

Caveat found while writing this: leidenalg's `partition.modularity` property is
inherited from igraph's VertexClustering and is computed WITHOUT edge weights,
so it is not used; g.modularity(..., weights="weight") is.
"""

import csv
import json
import math
import os
import platform
import random
import sys
from collections import Counter, defaultdict

import igraph as ig
import leidenalg as la
import numpy as np
import sklearn
from sklearn.metrics import normalized_mutual_info_score

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "graph")
SEEDS = [0, 1, 2, 3, 4]
IGRAPH_SEED = 42
TOL = 1e-9


# --------------------------------------------------------------------------
# generators (numpy only; return edge list as int pairs + weights, truth)
# --------------------------------------------------------------------------

def canonical(u, v, w=None):
    """Drop self loops and duplicate unordered pairs (first occurrence kept)."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    keep = u != v
    a, b = np.minimum(u, v)[keep], np.maximum(u, v)[keep]
    ww = None if w is None else np.asarray(w)[keep]
    key = a * (1 << 32) + b
    _, first = np.unique(key, return_index=True)
    first.sort()
    return a[first], b[first], (None if ww is None else ww[first])


def fix_isolated(rng, n, a, b, blocks):
    """Give every degree-0 node one edge to a random node of its own block."""
    deg = np.bincount(np.concatenate([a, b]), minlength=n)
    extra_u, extra_v = [], []
    for i in np.flatnonzero(deg == 0):
        same = np.flatnonzero(blocks == blocks[i])
        same = same[same != i]
        extra_u.append(i)
        extra_v.append(int(rng.choice(same)))
    return extra_u, extra_v


def dcsbm(rng, sizes, expected_degree, mu):
    """Degree-corrected SBM by endpoint sampling.

    Intra-block edges of block b: Poisson((1 - mu) * K_b / 2) edges, both ends
    drawn from b with probability proportional to expected degree. Inter-block
    edges: Poisson(mu * K / 2) edges, ends drawn over all nodes proportional to
    expected degree, pairs inside one block redrawn. Then self loops / multi
    edges are dropped and isolated nodes get one intra-block edge.
    Block labels are assigned to node ids in a random order.
    """
    n = int(sum(sizes))
    blocks = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    k = np.asarray(expected_degree, dtype=float)
    us, vs, inside = [], [], []
    for b in range(len(sizes)):
        idx = np.flatnonzero(blocks == b)
        p = k[idx] / k[idx].sum()
        m = rng.poisson((1 - mu) * k[idx].sum() / 2)
        us.append(rng.choice(idx, m, p=p))
        vs.append(rng.choice(idx, m, p=p))
        inside.append(np.ones(m, dtype=bool))
    m = rng.poisson(mu * k.sum() / 2)
    p = k / k.sum()
    xu, xv = rng.choice(n, m, p=p), rng.choice(n, m, p=p)
    while True:
        bad = blocks[xu] == blocks[xv]
        if not bad.any():
            break
        xv[bad] = rng.choice(n, int(bad.sum()), p=p)
    us.append(xu)
    vs.append(xv)
    inside.append(np.zeros(m, dtype=bool))
    a, b, ins = canonical(np.concatenate(us), np.concatenate(vs), np.concatenate(inside))
    eu, ev = fix_isolated(rng, n, a, b, blocks)
    if eu:
        a, b, ins = canonical(np.concatenate([a, eu]), np.concatenate([b, ev]),
                              np.concatenate([ins, np.ones(len(eu), dtype=bool)]))
    return n, a, b, blocks, len(eu)


def gen_planted(rng):
    sizes = [500] * 6
    n, a, b, blocks, fixed = dcsbm(rng, sizes, np.full(3000, 12.0), 0.2)
    gen = {"model": "SBM (degree-corrected generator with equal expected degrees)",
           "block_sizes": sizes, "expected_degree": 12, "target_inter_share": 0.2,
           "isolated_fixed": fixed}
    return n, a, b, None, blocks, gen


def gen_undetectable(rng):
    # Erdos-Renyi G(n, p) with p = 8 / (n - 1); the 4 "blocks" are a random
    # labelling that is independent of the graph, so carries no signal.
    n, sizes = 2000, [500] * 4
    p = 8.0 / (n - 1)
    iu, ju = np.triu_indices(n, 1)
    keep = rng.random(iu.size) < p
    a, b = iu[keep].astype(np.int64), ju[keep].astype(np.int64)
    blocks = rng.permutation(np.repeat(np.arange(4), sizes))
    deg = np.bincount(np.concatenate([a, b]), minlength=n)
    eu, ev = [], []
    for i in np.flatnonzero(deg == 0):  # connect to any node (no block bias)
        j = int(rng.integers(n - 1))
        eu.append(i)
        ev.append(j if j < i else j + 1)
    if eu:
        a, b, _ = canonical(np.concatenate([a, eu]), np.concatenate([b, ev]))
    gen = {"model": "Erdos-Renyi G(n,p), p = 8/(n-1); labels random, independent of edges",
           "block_sizes": sizes, "p": p, "isolated_fixed": len(eu)}
    return n, a, b, None, blocks, gen


def gen_weighted(rng):
    sizes = [100, 200, 400, 500, 800]
    n, a, b, blocks, fixed = dcsbm(rng, sizes, np.full(2000, 10.0), 0.35)
    inside = blocks[a] == blocks[b]
    w = np.where(inside, rng.uniform(1.0, 5.0, a.size), rng.uniform(0.1, 1.0, a.size))
    w = np.round(w, 3)
    gen = {"model": "SBM (degree-corrected generator with equal expected degrees)",
           "block_sizes": sizes, "expected_degree": 10, "target_inter_share": 0.35,
           "weights": "inside blocks uniform(1,5), between uniform(0.1,1), rounded to 3 decimals",
           "isolated_fixed": fixed}
    return n, a, b, w, blocks, gen


def gen_heterogeneous(rng):
    n, sizes = 5000, [625] * 8
    alpha, kmin, kmax = 1.32, 3.0, 200.0
    k = np.minimum(kmin * (1.0 + rng.pareto(alpha, n)), kmax)
    n, a, b, blocks, fixed = dcsbm(rng, sizes, k, 0.3)
    gen = {"model": "degree-corrected SBM",
           "block_sizes": sizes,
           "expected_degrees": "min(3 * (1 + numpy pareto(1.32)), 200)",
           "mean_expected_degree": float(k.mean()), "max_expected_degree": float(k.max()),
           "target_inter_share": 0.3, "isolated_fixed": fixed}
    return n, a, b, None, blocks, gen


def gen_components(rng):
    # piece A: nodes 0..49, G(50, 0.3); piece B: 50..99, G(50, 0.3);
    # piece C: 100..129, a ring. Ids are then permuted at random.
    us, vs = [], []
    for off in (0, 50):
        while True:
            iu, ju = np.triu_indices(50, 1)
            keep = rng.random(iu.size) < 0.3
            g = ig.Graph(n=50, edges=list(zip(iu[keep].tolist(), ju[keep].tolist())))
            if g.is_connected():
                break
        us.append(iu[keep] + off)
        vs.append(ju[keep] + off)
    ring = np.arange(30)
    us.append(100 + ring)
    vs.append(100 + (ring + 1) % 30)
    perm = rng.permutation(130)
    a, b, _ = canonical(perm[np.concatenate(us)], perm[np.concatenate(vs)])
    gen = {"model": "two G(50, 0.3) pieces (resampled until connected) + ring of 30; ids permuted"}
    return 130, a, b, None, None, gen


def gen_karate(rng):
    g = ig.Graph.Famous("Zachary")
    e = np.array(g.get_edgelist(), dtype=np.int64)
    a, b, _ = canonical(e[:, 0], e[:, 1])
    return g.vcount(), a, b, None, None, {"model": 'igraph Graph.Famous("Zachary")'}


FIXTURES = [
    # name, generator, numpy seed, CPM resolution
    ("karate", gen_karate, 0, 0.1),
    ("planted", gen_planted, 1001, 0.005),
    ("undetectable", gen_undetectable, 1002, 0.004),
    ("weighted", gen_weighted, 1003, 0.008),
    ("heterogeneous", gen_heterogeneous, 1004, 0.001),
    ("components", gen_components, 1005, 0.1),
]


# --------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------

def fmt_w(w):
    if w is None:
        return "1"
    s = repr(float(w))
    return s[:-2] if s.endswith(".0") else s


def write_edges(path, rng, a, b, w):
    order = rng.permutation(a.size)
    flip = rng.random(a.size) < 0.5
    with open(path, "w", newline="") as f:
        f.write("src,dst,weight\n")
        for i in order:
            u, v = (b[i], a[i]) if flip[i] else (a[i], b[i])
            f.write(f"n{u},n{v},{fmt_w(None if w is None else w[i])}\n")


def read_graph(path, n):
    edges, weights, seen = [], [], set()
    with open(path, newline="") as f:
        r = csv.reader(f)
        assert next(r) == ["src", "dst", "weight"]
        for src, dst, wt in r:
            u, v = int(src[1:]), int(dst[1:])
            assert src == f"n{u}" and dst == f"n{v}" and u != v
            key = (min(u, v), max(u, v))
            assert key not in seen, key
            seen.add(key)
            edges.append((u, v))
            weights.append(float(wt))
    g = ig.Graph(n=n, edges=edges)
    g.es["weight"] = weights
    assert min(g.degree()) >= 1, "isolated node"
    assert g.is_simple()
    return g


# --------------------------------------------------------------------------
# plain-Python quality functions (the formulas the Rust side implements)
# --------------------------------------------------------------------------

def community_stats(g, membership):
    w_in, d, n_c = defaultdict(float), defaultdict(float), Counter(membership)
    for e in g.es:
        u, v = e.tuple
        wt = e["weight"]
        d[membership[u]] += wt
        d[membership[v]] += wt
        if membership[u] == membership[v]:
            w_in[membership[u]] += wt
    return w_in, d, n_c


def modularity_py(g, membership, gamma):
    W = sum(g.es["weight"])
    w_in, d, n_c = community_stats(g, membership)
    return sum(w_in[c] / W - gamma * (d[c] / (2 * W)) ** 2 for c in n_c)


def cpm_py(g, membership, r):
    w_in, _, n_c = community_stats(g, membership)
    return sum(2 * w_in[c] - r * n_c[c] * (n_c[c] - 1) for c in n_c)


def close(x, y):
    return math.isclose(x, y, rel_tol=TOL, abs_tol=TOL)


def check_connected_communities(g, membership, comp):
    groups = defaultdict(list)
    for i, c in enumerate(membership):
        groups[c].append(i)
    for c, nodes in groups.items():
        assert g.induced_subgraph(nodes).is_connected(), f"community {c} not connected"
        assert len({comp[i] for i in nodes}) == 1, f"community {c} spans components"


def renumber(membership):
    """Communities numbered 0.. in order of first appearance over node ids."""
    ids = {}
    return [ids.setdefault(c, len(ids)) for c in membership]


def nmi(truth, membership):
    return float(normalized_mutual_info_score(truth, membership, average_method="arithmetic"))


# --------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------

def modularity_entry(g, gamma, truth, comp):
    W = sum(g.es["weight"])
    per_seed, memberships = [], []
    for s in SEEDS:
        if gamma == 1.0:
            p = la.find_partition(g, la.ModularityVertexPartition, weights="weight",
                                  n_iterations=-1, seed=s)
            assert close(p.quality(), g.modularity(p.membership, weights="weight"))
        else:
            p = la.find_partition(g, la.RBConfigurationVertexPartition, weights="weight",
                                  resolution_parameter=gamma, n_iterations=-1, seed=s)
            # RB quality is the unnormalised sum; divided by 2W it is modularity(gamma)
            assert close(p.quality() / (2 * W),
                         g.modularity(p.membership, weights="weight", resolution=gamma))
        q = g.modularity(p.membership, weights="weight", resolution=gamma)
        assert close(q, modularity_py(g, p.membership, gamma))
        check_connected_communities(g, p.membership, comp)
        per_seed.append(q)
        memberships.append(renumber(p.membership))
    best = int(np.argmax(per_seed))  # first maximum = lowest seed on ties
    random.seed(IGRAPH_SEED)
    cl = g.community_leiden(objective_function="modularity", weights="weight",
                            resolution=gamma, n_iterations=-1)
    q_ig = g.modularity(cl.membership, weights="weight", resolution=gamma)
    assert close(q_ig, modularity_py(g, cl.membership, gamma))
    entry = {
        "resolution": gamma,
        "seeds": SEEDS,
        "per_seed": per_seed,
        "best_of_5": per_seed[best],
        "best_seed": SEEDS[best],
        "communities_of_best": len(set(memberships[best])),
        "igraph_community_leiden": q_ig,
        "igraph_community_leiden_communities": len(set(cl.membership)),
        "igraph_seed": IGRAPH_SEED,
        "formula": "sum_c (w_c / W - resolution * (d_c / (2 W))^2), W = total edge weight, "
                   "w_c = weight of edges inside c, d_c = sum of weighted degrees in c",
    }
    if truth is not None:
        entry["nmi_truth_of_best"] = nmi(truth, memberships[best])
        entry["nmi_truth_igraph_community_leiden"] = nmi(truth, cl.membership)
    entry["membership_of_best"] = memberships[best]
    return entry


def cpm_entry(g, r, truth, comp):
    per_seed, memberships = [], []
    for s in SEEDS:
        p = la.find_partition(g, la.CPMVertexPartition, weights="weight",
                              resolution_parameter=r, n_iterations=-1, seed=s)
        q = p.quality()
        assert close(q, cpm_py(g, p.membership, r)), (q, cpm_py(g, p.membership, r))
        check_connected_communities(g, p.membership, comp)
        per_seed.append(q)
        memberships.append(renumber(p.membership))
    best = int(np.argmax(per_seed))
    entry = {
        "resolution": r,
        "seeds": SEEDS,
        "per_seed": per_seed,
        "best_of_5": per_seed[best],
        "best_seed": SEEDS[best],
        "communities_of_best": len(set(memberships[best])),
        "formula": "sum_c (2 * w_c - r * n_c * (n_c - 1)) "
                   "[= 2 * sum_c (w_c - r * n_c * (n_c - 1) / 2)], "
                   "w_c = total weight of edges with both ends in c (each edge once), "
                   "n_c = number of nodes in c; leidenalg CPMVertexPartition.quality(), "
                   "undirected, unit node sizes",
    }
    if truth is not None:
        entry["nmi_truth_of_best"] = nmi(truth, memberships[best])
    entry["membership_of_best"] = memberships[best]
    return entry


def dump_json(obj):
    """Indented JSON, but every list of numbers on one line (keeps files small)."""
    inline = {}

    def swap(o):
        if isinstance(o, dict):
            return {k: swap(v) for k, v in o.items()}
        if isinstance(o, list) and all(isinstance(x, (int, float)) for x in o):
            key = f"@@LIST{len(inline)}@@"
            inline[key] = json.dumps(o, separators=(",", ":"))
            return key
        return o

    text = json.dumps(swap(obj), indent=1)
    for key, val in inline.items():
        text = text.replace(f'"{key}"', val)
    assert json.loads(text) == obj
    return text + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    versions = {
        "python-igraph": ig.__version__,
        "leidenalg": la.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }
    rows = []
    for name, gen, seed, r_cpm in FIXTURES:
        rng = np.random.default_rng(seed)
        n, a, b, w, truth, meta = gen(rng)
        epath = os.path.join(OUT, f"{name}.edges.csv")
        write_edges(epath, rng, a, b, w)
        g = read_graph(epath, n)  # references are computed on the file as written
        assert g.ecount() == a.size
        if truth is not None:
            truth = [int(x) for x in truth]
            with open(os.path.join(OUT, f"{name}.truth.csv"), "w", newline="") as f:
                f.write("user_id,block\n")
                for i, t in enumerate(truth):
                    f.write(f"n{i},{t}\n")
            inter = sum(1 for e in g.es if truth[e.source] != truth[e.target])
            meta["realised_inter_share"] = inter / g.ecount()
        comps = g.connected_components()
        comp = comps.membership
        meta["realised_mean_degree"] = 2 * g.ecount() / n
        meta["realised_max_degree"] = max(g.degree())
        meta["numpy_seed"] = seed

        out = {
            "nodes": n,
            "edges": g.ecount(),
            "total_weight": sum(g.es["weight"]),
            "connected_components": len(comps),
            "component_sizes": sorted(comps.sizes(), reverse=True),
        }
        mod = modularity_entry(g, 1.0, truth, comp)
        mod05 = modularity_entry(g, 0.5, truth, comp)
        cpm = cpm_entry(g, r_cpm, truth, comp)
        out["modularity"] = mod
        out["modularity_r05"] = mod05
        out["cpm"] = cpm
        if truth is not None:
            out["truth_modularity"] = g.modularity(truth, weights="weight", resolution=1)
            assert close(out["truth_modularity"], modularity_py(g, truth, 1.0))
            out["truth_cpm"] = cpm_py(g, truth, r_cpm)
        out["generator"] = meta
        out["versions"] = versions
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            f.write(dump_json(out))
        rows.append((name, n, g.ecount(), out["total_weight"], len(comps), mod["best_of_5"],
                     mod["communities_of_best"], mod["igraph_community_leiden"],
                     mod.get("nmi_truth_of_best"), out.get("truth_modularity"),
                     mod05["best_of_5"], mod05["communities_of_best"],
                     cpm["resolution"], cpm["best_of_5"], cpm["communities_of_best"],
                     cpm.get("nmi_truth_of_best")))

    f = lambda x, d=4: "-" if x is None else f"{x:.{d}f}"
    print(f"{'fixture':14} {'nodes':>5} {'edges':>6} {'W':>9} {'cc':>2} | {'Q best':>7} {'k':>3} "
          f"{'Q igr':>7} {'NMI':>6} {'Q truth':>7} | {'Q.5':>7} {'k':>3} | {'r':>6} {'CPM':>10} "
          f"{'k':>4} {'NMI':>6}")
    for (name, n, m, W, cc, q, k, qig, nm, qt, q5, k5, r, cq, ck, cn) in rows:
        print(f"{name:14} {n:5d} {m:6d} {W:9.3f} {cc:2d} | {f(q)} {k:3d} {f(qig)} {f(nm)} "
              f"{f(qt):>7} | {f(q5)} {k5:3d} | {r:6.3f} {cq:10.3f} {ck:4d} {f(cn):>6}")
    print("versions:", versions)


if __name__ == "__main__":
    sys.exit(main())
