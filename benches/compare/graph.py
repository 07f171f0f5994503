#!/usr/bin/env python3
"""Graph community detection: segmint's Leiden vs python-igraph, leidenalg, networkit.

Usage (from the repository root; graph.sh makes the venv and passes every
argument on to this script):

    bash benches/compare/graph.sh                        # peers, graphs easy/large/hard, 3 runs each
    bash benches/compare/graph.sh --segmint target/release/segmint              # + segmint
    bash benches/compare/graph.sh --segmint target/release/segmint --log-bench  # + graph from a 50M-row log
    bash benches/compare/graph.sh --datasets easy --repeat 1                     # smoke test, ~3 min
    bash benches/compare/graph.sh --help

Graphs (made once with numpy, fixed seed, kept in benches/compare/data/):
planted partitions written as CSV edge lists `src,dst` (ids `u0`, `u1`, ...;
undirected, no self loops, no duplicate edges, nodes without an edge left
out), with the planted blocks in `user_id,block`:

    easy   100,000 nodes, 10 equal blocks, 1M edges, 80% of the edges inside blocks
    large  1,000,000 nodes, 10 equal blocks, 10M edges, 80% inside (the headline case)
    hard   ~1,000,000 nodes, 50 blocks of unequal sizes (20x from smallest to
           largest), degree-corrected (Pareto node weights, exponent 2.5), 10M
           edges, 55% inside

Tools, each run in its own process (peak RSS from wait4's rusage of that
process), --repeat times, the median reported; a tool whose first run takes
longer than --slow-s seconds is run once:

    igraph-leiden          python-igraph Graph.community_leiden(objective_function="modularity",
                           n_iterations=2) (its default number of iterations)
    igraph-leiden-stable   the same with n_iterations=-1 (until an iteration improves nothing)
    leidenalg              leidenalg.find_partition(g, ModularityVertexPartition) (its default
                           n_iterations=2)
    igraph-multilevel      Graph.community_multilevel() (Louvain)
    networkit-plm          networkit PLM (parallel Louvain; refine=False, the default of
                           networkit.community.detectCommunities), --threads threads
    networkit-leiden       networkit ParallelLeiden (defaults: 3 iterations), --threads threads
    segmint                `segmint fit --method leiden --edges-input EDGES.csv -o scores.csv
                           --format json --silhouette none --quiet`, when --segmint is given;
                           on easy (--single-thread-on) also once with --threads 1, and the
                           communities of the two runs are compared (determinism)

leidenalg and igraph-multilevel run on easy only (--easy-only): leidenalg
takes ~35 s there, and igraph's multilevel time grows about as n² on these
graphs (~60 s at 100k nodes).

"whole s" is the job a user runs. Peers: read the CSV (pandas.read_csv;
pandas 3 keeps the strings in pyarrow arrays), number the node ids
(pandas.factorize), build the graph, run the
algorithm, timed inside the process (interpreter start and imports are left
out; the notes give the process's wall time). segmint: the wall time of the
process (it also writes scores.csv). "algorithm s" is the algorithm call
alone (segmint: `communities.seconds_leiden` from its JSON summary).

Quality is computed the same way for every tool, outside the timed runs:
igraph's Graph.modularity(membership) (resolution 1) on the graph of the
edge list, the number of communities, and the NMI with the planted blocks
(scikit-learn normalized_mutual_info_score). For segmint, the membership is
read from scores.csv (the `community` column when there is one, see
--communities-col, else `segment`).

--log-bench (needs --segmint, ~5 GB of disk, minutes): `segmint generate
--users 1000000 --rows 50000000 --blocks 10 --p-in 0.8` writes a transaction
log with a peer_id column (kept in data/); then `segmint features` on it is
timed against `segmint fit --method leiden --peer-col peer_id`, whose
`communities.seconds_graph` is the graph build from the log.

Results: a Markdown table per graph on stdout and in
benches/compare/results-graph.md; every run's raw numbers in
benches/compare/data/results-graph.json.

Internal sub-commands: `graph.py gen [--datasets ...]` writes the graphs
only; `graph.py worker TOOL ...` is one peer run (started by the driver).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

THIS = Path(__file__).resolve()
ROOT = THIS.parents[2]
HERE = THIS.parent

# Bump when the generator changes: graphs made by another version are rebuilt.
GEN_VERSION = 1
DEFAULT_SEED = 42

DATASETS = {
    "easy": {"nodes": 100_000, "blocks": 10, "edges": 1_000_000, "p_in": 0.8,
             "sizes": "equal", "degrees": "equal"},
    "large": {"nodes": 1_000_000, "blocks": 10, "edges": 10_000_000, "p_in": 0.8,
              "sizes": "equal", "degrees": "equal"},
    "hard": {"nodes": 1_000_000, "blocks": 50, "edges": 10_000_000, "p_in": 0.55,
             "sizes": "geometric 1:20", "degrees": "pareto 2.5 cap 200"},
}
# hard: block sizes proportional to a geometric series from 1 to SIZE_RATIO;
# node weights theta = Pareto(xm=1, alpha=THETA_GAMMA - 1), capped at THETA_CAP.
SIZE_RATIO = 20.0
THETA_GAMMA = 2.5
THETA_CAP = 200.0

TOOLS = ["igraph-leiden", "igraph-leiden-stable", "leidenalg", "igraph-multilevel",
         "networkit-plm", "networkit-leiden", "segmint"]
PEERS = TOOLS[:-1]
LABELS = {
    "igraph-leiden": "igraph community_leiden (n_iterations=2)",
    "igraph-leiden-stable": "igraph community_leiden (n_iterations=-1)",
    "leidenalg": "leidenalg ModularityVertexPartition",
    "igraph-multilevel": "igraph community_multilevel (Louvain)",
    "networkit-plm": "networkit PLM (parallel Louvain)",
    "networkit-leiden": "networkit ParallelLeiden",
    "segmint": "segmint fit --method leiden",
    "segmint-t1": "segmint fit --method leiden --threads 1",
}
BASELINE = "igraph-leiden"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")
# Cores' worth of CPU used by other processes above which the results are flagged.
BUSY_LIMIT = 0.3

LOG_USERS, LOG_ROWS, LOG_BLOCKS, LOG_P_IN = 1_000_000, 50_000_000, 10, 0.8
LOG_FILE, LOG_TRUTH = "log_50m_peers.csv", "log_50m_truth.csv"


def log(msg: str) -> None:
    print(f"[graph] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# gen: planted-partition graphs
# --------------------------------------------------------------------------


def block_sizes(spec: dict):
    import numpy as np

    n, k = spec["nodes"], spec["blocks"]
    if spec["sizes"] == "equal":
        w = np.ones(k)
    else:
        w = np.geomspace(1.0, SIZE_RATIO, k)
    sizes = np.floor(n * w / w.sum()).astype(np.int64)
    sizes[np.argsort(-w, kind="stable")[: n - sizes.sum()]] += 1
    return sizes


def draw_edges(spec: dict, seed: int):
    """(src, dst, block) of a planted partition, node ids 0..n-1, before
    nodes without an edge are dropped."""
    import numpy as np

    n, k, m = spec["nodes"], spec["blocks"], spec["edges"]
    rng = np.random.default_rng([seed, GEN_VERSION, n, k, m, int(spec["p_in"] * 1000)])
    sizes = block_sizes(spec)
    block = np.repeat(np.arange(k, dtype=np.int32), sizes)
    rng.shuffle(block)  # node i's block: random, so ids say nothing about blocks
    if spec["degrees"] == "equal":
        theta = np.ones(n)
    else:
        theta = np.minimum(rng.pareto(THETA_GAMMA - 1.0, n) + 1.0, THETA_CAP)
    order = np.argsort(block, kind="stable")  # nodes grouped by block
    start = np.concatenate([[0], np.cumsum(sizes)])
    cw = np.cumsum(theta[order])  # cumulative weight in block order
    total = cw[-1]
    wstart = np.concatenate([[0.0], cw[start[1:] - 1]])

    def pick(lo, hi, first, last):
        # a node of order[first..last] with probability proportional to theta
        r = lo + rng.random(len(lo)) * (hi - lo)
        idx = np.searchsorted(cw, r, side="right")
        return order[np.clip(idx, first, last)]

    def draw_global(c):
        zeros = np.zeros(c)
        return pick(zeros, zeros + total, 0, n - 1)

    def draw_inside(c):
        u = draw_global(c)
        b = block[u]
        return u, pick(wstart[b], wstart[b + 1], start[b], start[b + 1] - 1)

    def draw_across(c):
        u, v = draw_global(c), draw_global(c)
        while True:
            same = np.flatnonzero(block[u] == block[v])
            if len(same) == 0:
                return u, v
            v[same] = draw_global(len(same))

    def distinct(draw, want):
        keys = np.empty(0, dtype=np.int64)
        while len(keys) < want:
            c = int((want - len(keys)) * 1.05) + 1000
            u, v = draw(c)
            ok = u != v
            u, v = u[ok].astype(np.int64), v[ok].astype(np.int64)
            keys = np.unique(np.concatenate([keys, np.minimum(u, v) * n + np.maximum(u, v)]))
        keys = keys[rng.permutation(len(keys))[:want]]
        return keys // n, keys % n

    m_in = int(round(m * spec["p_in"]))
    a1, b1 = distinct(draw_inside, m_in)
    a2, b2 = distinct(draw_across, m - m_in)
    src, dst = np.concatenate([a1, a2]), np.concatenate([b1, b2])
    perm = rng.permutation(m)
    src, dst = src[perm], dst[perm]
    swap = rng.random(m) < 0.5  # random orientation
    src[swap], dst[swap] = dst[swap], src[swap]
    return src, dst, block


def planted_modularity(src, dst, block, k: int) -> float:
    import numpy as np

    m = len(src)
    inside = np.bincount(block[src][block[src] == block[dst]], minlength=k)
    vol = np.bincount(block[src], minlength=k) + np.bincount(block[dst], minlength=k)
    return float((inside / m - (vol / (2.0 * m)) ** 2).sum())


def write_lines(path: Path, header: str, a, b, fmt: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    chunk = 1_000_000
    with open(tmp, "w", newline="\n") as f:
        f.write(header + "\n")
        for s in range(0, len(a), chunk):
            f.write("\n".join(map(fmt.__mod__, zip(a[s:s + chunk].tolist(), b[s:s + chunk].tolist()))))
            f.write("\n")
    tmp.replace(path)


def dataset_paths(data: Path, name: str) -> dict:
    return {"edges": data / f"graph_{name}_edges.csv", "truth": data / f"graph_{name}_truth.csv",
            "npz": data / f"graph_{name}.npz", "meta": data / f"graph_{name}.json"}


def gen_dataset(data: Path, name: str, seed: int) -> dict:
    """Write (or reuse) one graph; returns its metadata."""
    import numpy as np

    spec = DATASETS[name]
    p = dataset_paths(data, name)
    want = {"name": name, **spec, "seed": seed, "gen_version": GEN_VERSION}
    try:
        have = json.loads(p["meta"].read_text())
    except (OSError, ValueError):
        have = None
    if (have and {k: have.get(k) for k in want} == want
            and all(p[k].is_file() for k in ("edges", "truth", "npz"))):
        log(f"data: reusing {p['edges'].name} ({have['n_nodes']:,} nodes, {have['n_edges']:,} edges)")
        return have
    data.mkdir(parents=True, exist_ok=True)
    p["meta"].unlink(missing_ok=True)
    log(f"data: generating {name} ({spec['nodes']:,} nodes, {spec['blocks']} blocks, "
        f"{spec['edges']:,} edges, {spec['p_in']:.0%} inside)")
    t0 = time.perf_counter()
    src, dst, block = draw_edges(spec, seed)
    # Drop nodes without an edge and renumber the others 0..n'-1 (in id order).
    present = np.zeros(spec["nodes"], dtype=bool)
    present[src] = True
    present[dst] = True
    new_id = np.cumsum(present) - 1
    src, dst = new_id[src].astype(np.int32), new_id[dst].astype(np.int32)
    block = block[present]
    n = len(block)
    inside = float(np.mean(block[src] == block[dst]))
    deg = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    sizes = np.bincount(block, minlength=spec["blocks"])
    t1 = time.perf_counter()
    write_lines(p["edges"], "src,dst", src, dst, "u%d,u%d")
    write_lines(p["truth"], "user_id,block", np.arange(n), block, "u%d,%d")
    tmp = p["npz"].with_name(p["npz"].name + ".partial.npz")
    np.savez(tmp, src=src, dst=dst, block=block.astype(np.int32))
    tmp.replace(p["npz"])
    meta = {**want, "n_nodes": n, "n_edges": int(len(src)), "inside_fraction": inside,
            "planted_modularity": planted_modularity(src, dst, block, spec["blocks"]),
            "block_size_min": int(sizes.min()), "block_size_max": int(sizes.max()),
            "degree_min": int(deg.min()), "degree_median": float(np.median(deg)),
            "degree_max": int(deg.max()), "csv_bytes": p["edges"].stat().st_size}
    p["meta"].write_text(json.dumps(meta, indent=1) + "\n")
    log(f"data: wrote {p['edges'].name} ({meta['csv_bytes'] / 1e6:.0f} MB; {n:,} nodes, "
        f"{len(src):,} edges, {inside:.1%} inside, planted modularity "
        f"{meta['planted_modularity']:.4f}, degrees {meta['degree_min']}..{meta['degree_max']}) "
        f"in {t1 - t0:.1f} s + {time.perf_counter() - t1:.1f} s writing")
    return meta


def cmd_gen(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="graph.py gen", description="write the graphs that are missing")
    ap.add_argument("--data", default=str(HERE / "data"))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    for name in args.datasets:
        gen_dataset(Path(args.data), name, args.seed)
    return 0


# --------------------------------------------------------------------------
# worker: one peer run in this process
# --------------------------------------------------------------------------


def cmd_worker(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="graph.py worker", description="one peer run")
    ap.add_argument("tool", choices=PEERS)
    ap.add_argument("--edges", required=True, help="edge list CSV (src,dst)")
    ap.add_argument("--membership", required=True, help=".npy to write, community of node u<i> at i")
    ap.add_argument("--report", required=True, help="JSON file to write")
    ap.add_argument("--threads", type=int, default=2, help="networkit threads")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    import random

    import numpy as np
    import pandas as pd

    tool = args.tool
    if tool.startswith("networkit"):
        import networkit as nk

        nk.setNumberOfThreads(args.threads)
        nk.setSeed(args.seed, True)
        version = f"networkit {nk.__version__}"
        if nk.getMaxNumberOfThreads() != args.threads:
            print(f"networkit runs {nk.getMaxNumberOfThreads()} threads, not {args.threads}", file=sys.stderr)
            return 3
    else:
        import igraph as ig

        random.seed(args.seed)  # python-igraph's default random number generator
        version = f"igraph {ig.__version__}"
        if tool == "leidenalg":
            import leidenalg as la

            version += f", leidenalg {la.version}"

    # --- the user's job: read the CSV, number the ids, build the graph, run ---
    t0 = time.perf_counter()
    df = pd.read_csv(args.edges)
    t1 = time.perf_counter()
    m = len(df)
    codes, names = pd.factorize(pd.concat([df["src"], df["dst"]], ignore_index=True))
    del df
    n = len(names)
    codes = codes.astype(np.int64 if tool.startswith("igraph") or tool == "leidenalg" else np.uint64)
    if tool.startswith("networkit"):
        g = nk.Graph(n, weighted=False, directed=False)
        g.addEdges((codes[:m], codes[m:]))
    else:
        g = ig.Graph(n=n, directed=False)
        g.add_edges(np.stack([codes[:m], codes[m:]], axis=1))
    del codes
    t2 = time.perf_counter()
    quality = None
    if tool == "igraph-leiden":
        cl = g.community_leiden(objective_function="modularity", n_iterations=2)
        membership, quality = cl.membership, cl.quality
    elif tool == "igraph-leiden-stable":
        cl = g.community_leiden(objective_function="modularity", n_iterations=-1)
        membership, quality = cl.membership, cl.quality
    elif tool == "leidenalg":
        part = la.find_partition(g, la.ModularityVertexPartition, seed=args.seed)
        membership, quality = part.membership, part.modularity
    elif tool == "igraph-multilevel":
        membership = g.community_multilevel().membership
    elif tool == "networkit-plm":
        algo = nk.community.PLM(g)  # refine=False: networkit.community.detectCommunities' default
        algo.run()
        membership = algo.getPartition().getVector()
    else:  # networkit-leiden
        algo = nk.community.ParallelLeiden(g)
        algo.run()
        membership = algo.getPartition().getVector()
    t3 = time.perf_counter()

    # --- outside the timing: membership by node number (u<i> -> i) ---
    membership = np.asarray(membership, dtype=np.int64)
    ids = pd.Series(names).str.slice(1).astype(np.int64).to_numpy()
    out = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
    out[ids] = membership
    np.save(args.membership, out)
    Path(args.report).write_text(json.dumps({
        "read_s": t1 - t0, "build_s": t2 - t1, "algo_s": t3 - t2, "whole_s": t3 - t0,
        "imports_s": t0 - t_start, "n_nodes": n, "n_edges": m, "quality": quality,
        "n_communities": int(len(np.unique(membership))), "version": version,
        "threads": args.threads if tool.startswith("networkit") else 1,
    }))
    return 0


# --------------------------------------------------------------------------
# running one process: wall time, peak RSS (wait4), timeout
# --------------------------------------------------------------------------


def run_process(cmd: list[str], env: dict, stdout: Path, stderr: Path, timeout_s: float) -> dict:
    """Run cmd; wall time, exit status and the peak RSS of that process
    (ru_maxrss from wait4, KiB on Linux)."""
    with open(stdout, "wb") as of, open(stderr, "wb") as ef:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=of, stderr=ef, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
        timed_out = False
        try:
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid == p.pid:
                    break
                if time.perf_counter() - t0 > timeout_s:
                    timed_out = True
                    p.kill()
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                time.sleep(0.02)
        except BaseException:
            p.kill()
            os.wait4(p.pid, 0)
            raise
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall_s": wall, "rss_kib": int(ru.ru_maxrss), "timed_out": timed_out}


def tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def last_line(path: Path) -> str:
    try:
        text = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return text[-1] if text else ""


def parse_json_summary(text: str):
    """The JSON object segmint prints on stdout (whole text, or the last
    line that parses, or the last object that starts a line)."""
    text = text.strip()
    try:
        obj = json.loads(text)
        if isinstance(obj, dict):
            return obj
    except ValueError:
        pass
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].lstrip().startswith("{"):
            try:
                obj, _ = json.JSONDecoder().raw_decode("\n".join(lines[i:]).lstrip())
                if isinstance(obj, dict):
                    return obj
            except ValueError:
                continue
    return None


def busy_cores(seconds: float = 0.5) -> float | None:
    """CPU in use by other processes (in cores), sampled from /proc/stat
    between two runs, when none of ours is running."""

    def sample():
        vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(vals[:8]), vals[3] + (vals[4] if len(vals) > 4 else 0)

    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if t1 <= t0:
        return None
    return (1 - (i1 - i0) / (t1 - t0)) * (os.cpu_count() or 1)


def rel(path: Path | str) -> str:
    try:
        return str(Path(os.path.abspath(path)).relative_to(ROOT))
    except ValueError:
        return str(path)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------
# bench: the runs
# --------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out_dir).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update({k: str(args.threads) for k in THREAD_VARS})
        self.busy: list[str] = []
        self.warnings: list[str] = []
        self.failures = 0

    def check_load(self, label: str) -> float | None:
        other = busy_cores()
        if other is not None and other > BUSY_LIMIT:
            self.busy.append(f"{label} ({other:.1f})")
        return other

    # --- peers ---------------------------------------------------------

    def peer_runs(self, name: str, tool: str, edges: Path) -> dict:
        a = self.args
        label = f"{name} | {tool}"
        memb = self.out / f"{name}_{tool}.membership.npy"
        report = self.out / f"{name}_{tool}.report.json"
        cmd = [sys.executable, str(THIS), "worker", tool, "--edges", str(edges),
               "--membership", str(memb), "--report", str(report), "--threads", str(a.threads)]
        shown = [rel(sys.executable), rel(THIS), "worker", tool, "--edges", rel(edges),
                 "--membership", f"OUT/{memb.name}", "--report", f"OUT/{report.name}",
                 "--threads", str(a.threads)]
        res: dict = {"tool": tool, "runs": [], "ok": False,
                     "command": " ".join(f"{k}={a.threads}" for k in THREAD_VARS) + " " + shlex.join(shown)}
        for i in range(a.repeat):
            report.unlink(missing_ok=True)
            load = self.check_load(label)
            proc = run_process(cmd, self.env, self.out / "stdout.txt", self.out / "stderr.txt", a.timeout_s)
            run = {**proc, "other_load_cores": load}
            if proc["timed_out"]:
                res["error"] = f"stopped after the --timeout-s limit of {a.timeout_s:.0f} s"
                log(f"{label}: run {i + 1} {res['error']}")
                break
            if proc["rc"] != 0 or not report.is_file():
                res["error"] = f"exit status {proc['rc']}: {last_line(self.out / 'stderr.txt') or 'no output'}"
                res["log"] = tail(self.out / "stderr.txt")
                log(f"{label}: run {i + 1} FAILED ({res['error']})")
                if res["log"]:
                    print(res["log"], file=sys.stderr)
                break
            run.update(json.loads(report.read_text()))
            res["runs"].append(run)
            log(f"{label}: run {i + 1}: whole {run['whole_s']:.2f} s (read {run['read_s']:.2f}, build "
                f"{run['build_s']:.2f}, algorithm {run['algo_s']:.2f}), process {proc['wall_s']:.1f} s, "
                f"{proc['rss_kib'] / 1024:,.0f} MiB, {run['n_communities']} communities")
            if run["whole_s"] > a.slow_s and i + 1 < a.repeat:
                log(f"{label}: slower than --slow-s {a.slow_s:.0f} s: one run only")
                break
        report.unlink(missing_ok=True)
        if res["runs"]:
            runs = res["runs"]
            res.update(ok="error" not in res, whole_s=statistics.median(r["whole_s"] for r in runs),
                       algo_s=statistics.median(r["algo_s"] for r in runs),
                       load_s=statistics.median(r["read_s"] + r["build_s"] for r in runs),
                       process_s=statistics.median(r["wall_s"] for r in runs),
                       imports_s=statistics.median(r["imports_s"] for r in runs),
                       rss_kib=max(r["rss_kib"] for r in runs), version=runs[-1]["version"],
                       own_quality=runs[-1]["quality"], membership_file=str(memb))
            if "error" in res:  # a later run failed: keep the numbers, flag the row
                res["ok"] = True
                res["partial"] = res.pop("error")
        if not res["ok"]:
            self.failures += 1
        return res

    # --- segmint -------------------------------------------------------

    def segmint_cmd(self, edges: Path, scores: Path, threads1: bool) -> tuple[list[str], str]:
        a = self.args
        tail_args = ["fit", "--method", "leiden", "--edges-input", str(edges), "-o", str(scores),
                     "--format", "json", "--silhouette", "none", "--quiet"]
        shown = ["fit", "--method", "leiden", "--edges-input", rel(edges), "-o", "OUT/scores.csv",
                 "--format", "json", "--silhouette", "none", "--quiet"]
        if threads1:
            tail_args += ["--threads", "1"]
            shown += ["--threads", "1"]
        return [a.segmint, *tail_args], f"RAYON_NUM_THREADS={a.threads} " + shlex.join([a.segmint_shown, *shown])

    def segmint_once(self, cmd: list[str], label: str, scores: Path) -> dict:
        scores.unlink(missing_ok=True)
        load = self.check_load(label)
        proc = run_process(cmd, self.env, self.out / "stdout.txt", self.out / "stderr.txt", self.args.timeout_s)
        run = {**proc, "other_load_cores": load}
        if proc["timed_out"]:
            run["error"] = f"stopped after the --timeout-s limit of {self.args.timeout_s:.0f} s"
            return run
        if proc["rc"] != 0:
            run["error"] = (f"exit status {proc['rc']}: "
                            f"{last_line(self.out / 'stderr.txt') or last_line(self.out / 'stdout.txt') or 'no output'}")
            run["log"] = tail(self.out / "stderr.txt")
            return run
        summary = parse_json_summary((self.out / "stdout.txt").read_text(errors="replace"))
        if summary is None:
            run["error"] = f"no JSON object on stdout: {last_line(self.out / 'stdout.txt') or 'empty'}"
            run["log"] = tail(self.out / "stdout.txt")
            return run
        if not scores.is_file():
            run["error"] = f"{scores.name} was not written"
            return run
        run["json"] = summary
        com = summary.get("communities") if isinstance(summary.get("communities"), dict) else {}
        for key in ("count", "modularity", "seconds_graph", "seconds_leiden"):
            run[key] = com.get(key)
        run["seconds"] = summary.get("seconds")
        run["digest"] = file_digest(scores)
        return run

    def segmint_runs(self, name: str, edges: Path, threads1: bool = False, repeat: int | None = None) -> dict:
        a = self.args
        tool = "segmint-t1" if threads1 else "segmint"
        label = f"{name} | {tool}"
        scores = self.out / f"{name}_{tool}.scores.csv"
        cmd, shown = self.segmint_cmd(edges, scores, threads1)
        res: dict = {"tool": tool, "runs": [], "ok": False, "command": shown}
        if a.segmint_error:
            res["error"] = a.segmint_error
            self.failures += 1
            return res
        log(f"{label}: {shown}")
        keep = self.out / f"{name}_{tool}.kept.csv"
        for i in range(repeat or a.repeat):
            run = self.segmint_once(cmd, label, scores)
            if "error" in run:
                res["error"] = run["error"]
                if run.get("log"):
                    print(run["log"], file=sys.stderr)
                log(f"{label}: run {i + 1} FAILED ({run['error']})")
                break
            res["runs"].append(run)
            shutil.copyfile(scores, keep)
            missing = [k for k in ("count", "modularity", "seconds_graph", "seconds_leiden", "seconds")
                       if not isinstance(run.get(k), (int, float))]
            if missing:
                self.warnings.append(f"{label}: the JSON summary lacks {', '.join(missing)}")
            log(f"{label}: run {i + 1}: process {run['wall_s']:.2f} s (graph {fmt_opt(run['seconds_graph'])} s, "
                f"leiden {fmt_opt(run['seconds_leiden'])} s), {run['rss_kib'] / 1024:,.0f} MiB, "
                f"{run['count']} communities, modularity {fmt_opt(run['modularity'], 4)}")
            if run["wall_s"] > a.slow_s and i + 1 < (repeat or a.repeat):
                log(f"{label}: slower than --slow-s {a.slow_s:.0f} s: one run only")
                break
        scores.unlink(missing_ok=True)
        if res["runs"]:
            runs = res["runs"]

            def med(key):
                vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
                return statistics.median(vals) if vals else None

            res.update(ok=True, whole_s=med("wall_s"), algo_s=med("seconds_leiden"),
                       load_s=med("seconds_graph"), json_seconds=med("seconds"),
                       rss_kib=max(r["rss_kib"] for r in runs), own_modularity=runs[-1]["modularity"],
                       own_count=runs[-1]["count"], scores_file=str(keep),
                       same_output=len({r["digest"] for r in runs}) == 1)
            if "error" in res:
                res["partial"] = res.pop("error")
        if not res["ok"]:
            self.failures += 1
        return res


def fmt_opt(x, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) else "?"


# --------------------------------------------------------------------------
# quality: the same measures for every tool
# --------------------------------------------------------------------------


def read_scores(path: Path, n: int, prefer: str) -> tuple:
    """Community labels by node number from segmint's scores CSV: the
    `prefer` column (default `community`) if there is one, else `segment`.
    Returns (labels as strings or None per node, column used, problems)."""
    labels: list = [None] * n
    problems = []
    bad_ids = outside = 0
    with open(path, newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        if "user_id" not in header:
            raise ValueError(f"{path.name} has no user_id column (header: {','.join(header)})")
        col = prefer if prefer in header else "segment"
        if col not in header:
            raise ValueError(f"{path.name} has neither a {prefer} nor a segment column")
        iu, ic = header.index("user_id"), header.index(col)
        for row in rd:
            uid = row[iu]
            if len(uid) < 2 or uid[0] != "u" or not uid[1:].isdigit():
                bad_ids += 1
                continue
            i = int(uid[1:])
            if i >= n:
                outside += 1
                continue
            labels[i] = row[ic]
    if bad_ids:
        problems.append(f"{bad_ids:,} user_id(s) not of the form u<number>")
    if outside:
        problems.append(f"{outside:,} user_id(s) not in the graph")
    return labels, col, problems


def labels_to_membership(labels: list) -> tuple:
    """Strings (None = node absent from the output) -> integer membership;
    absent nodes become singletons. Returns (membership ndarray, absent count)."""
    import numpy as np

    codes: dict = {}
    out = np.empty(len(labels), dtype=np.int64)
    absent = 0
    for i, lab in enumerate(labels):
        if lab is None:
            absent += 1
            lab = ("absent", i)
        out[i] = codes.setdefault(lab, len(codes))
    return out, absent


def evaluate(meta: dict, data: Path, results: list[dict], prefer_col: str, warnings: list[str]) -> None:
    """Modularity (igraph, resolution 1), communities and NMI of every
    result's membership, on the graph of the edge list."""
    import igraph as ig
    import numpy as np
    from sklearn.metrics import normalized_mutual_info_score

    p = dataset_paths(data, meta["name"])
    z = np.load(p["npz"])
    truth = z["block"]
    n = len(truth)
    g = ig.Graph(n=n, directed=False)
    g.add_edges(np.stack([z["src"], z["dst"]], axis=1).astype(np.int64))
    for res in results:
        if not res.get("ok"):
            continue
        try:
            if "membership_file" in res:
                memb = np.load(res["membership_file"])
                absent = int(np.sum(memb < 0)) + max(0, n - len(memb))
                memb = np.concatenate([memb[:n], np.full(max(0, n - len(memb)), -1)])
                lone = np.flatnonzero(memb < 0)
                memb[lone] = memb.max() + 1 + np.arange(len(lone))
                Path(res["membership_file"]).unlink(missing_ok=True)
            else:
                labels, col, problems = read_scores(Path(res["scores_file"]), n, prefer_col)
                res["labels_column"] = col
                memb, absent = labels_to_membership(labels)
                res["labels"] = labels
                for pr in problems:
                    warnings.append(f"{meta['name']} | {res['tool']}: {pr}")
            if absent:
                warnings.append(f"{meta['name']} | {res['tool']}: {absent:,} node(s) of the edge list have no "
                                "community in the output (counted as singletons)")
            res["absent_nodes"] = absent
            res["modularity"] = float(g.modularity(memb.tolist(), resolution=1.0))
            res["communities"] = int(len(np.unique(memb)))
            res["nmi"] = float(normalized_mutual_info_score(truth, memb))
        except (OSError, ValueError, KeyError) as e:
            res["eval_error"] = f"{type(e).__name__}: {e}"
            warnings.append(f"{meta['name']} | {res['tool']}: could not evaluate: {res['eval_error']}")


def compare_partitions(a: list, b: list) -> str:
    """Same labels, same partition under other numbers, or different."""
    if a == b:
        return "identical"
    import numpy as np
    from sklearn.metrics import normalized_mutual_info_score

    ma, _ = labels_to_membership(a)
    mb, _ = labels_to_membership(b)
    # same partition <=> the pairs (label a, label b) are as many as the labels of each
    pairs = len(set(zip(ma.tolist(), mb.tolist())))
    if pairs == len(np.unique(ma)) == len(np.unique(mb)):
        return "same partition, different community numbers"
    diff = sum(x != y for x, y in zip(a, b))
    return (f"DIFFERENT ({diff:,} nodes with another label; NMI between the two "
            f"{normalized_mutual_info_score(ma, mb):.6f})")


# --------------------------------------------------------------------------
# --log-bench: the graph built from a transaction log
# --------------------------------------------------------------------------


def read_map(path: Path, want: tuple[str, ...]) -> tuple[dict, str]:
    """user_id -> the first of the `want` columns present (else the second column)."""
    with open(path, newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        if "user_id" not in header:
            raise ValueError(f"{path.name} has no user_id column (header: {','.join(header)})")
        col = next((c for c in want if c in header), None)
        if col is None:
            others = [c for c in header if c != "user_id"]
            if not others:
                raise ValueError(f"{path.name} has only a user_id column")
            col = others[0]
        iu, ic = header.index("user_id"), header.index(col)
        return {row[iu]: row[ic] for row in rd if len(row) > max(iu, ic)}, col


def nmi_of_maps(truth: dict, found: dict) -> tuple[float, int, int]:
    from sklearn.metrics import normalized_mutual_info_score

    common = [u for u in truth if u in found]
    return (float(normalized_mutual_info_score([truth[u] for u in common], [found[u] for u in common])),
            len(common), len(truth) - len(common))


def run_log_bench(b: Bench) -> dict:
    a = b.args
    data = Path(a.data).resolve()
    logf, truth = data / LOG_FILE, data / LOG_TRUTH
    seg, shown_seg = a.segmint, a.segmint_shown
    gen_args = ["generate", "--users", str(LOG_USERS), "--rows", str(LOG_ROWS), "--blocks", str(LOG_BLOCKS),
                "--p-in", str(LOG_P_IN)]
    res: dict = {"ok": False, "generate_command": shlex.join(
        [shown_seg, *gen_args, "-o", rel(logf), "--truth-out", rel(truth)])}
    if a.segmint_error:
        res["error"] = a.segmint_error
        b.failures += 1
        return res
    if logf.is_file() and logf.stat().st_size > 0 and truth.is_file() and truth.stat().st_size > 0:
        log(f"log: reusing {logf.name} ({logf.stat().st_size / 1e9:.2f} GB)")
    else:
        free = shutil.disk_usage(data).free
        if free < 6e9:
            b.warnings.append(f"--log-bench: only {free / 1e9:.1f} GB free in {rel(data)}; the log needs ~5 GB")
        tmp_log, tmp_truth = Path(f"{logf}.partial"), Path(f"{truth}.partial")
        log(f"log: generating {logf.name} ({LOG_ROWS:,} rows, {LOG_USERS:,} users; minutes): "
            f"{res['generate_command']}")
        proc = run_process([seg, "--quiet", *gen_args, "-o", str(tmp_log), "--truth-out", str(tmp_truth)],
                           b.env, b.out / "stdout.txt", b.out / "stderr.txt", max(a.timeout_s, 3600))
        if proc["rc"] != 0 or proc["timed_out"] or not tmp_log.is_file() or not tmp_truth.is_file():
            res["error"] = (f"segmint generate failed (exit status {proc['rc']}): "
                            f"{last_line(b.out / 'stderr.txt') or 'no output'}")
            print(tail(b.out / "stderr.txt"), file=sys.stderr)
            tmp_log.unlink(missing_ok=True)
            tmp_truth.unlink(missing_ok=True)
            b.failures += 1
            return res
        tmp_log.replace(logf)
        tmp_truth.replace(truth)
        res["generate_s"] = proc["wall_s"]
        log(f"log: wrote {logf.name} ({logf.stat().st_size / 1e9:.2f} GB) in {proc['wall_s']:.0f} s")
    res["log_bytes"] = logf.stat().st_size
    if res["log_bytes"] < 1e9:  # ~55-100 bytes a row: 50M rows is several GB
        b.warnings.append(f"--log-bench: {logf.name} is only {res['log_bytes'] / 1e6:.0f} MB, not the ~5 GB of "
                          f"{LOG_ROWS:,} rows: delete {rel(logf)} and {rel(truth)} to regenerate")

    feats = b.out / "log_features.csv"
    scores = b.out / "log_scores.csv"
    f_cmd = [seg, "features", str(logf), "-o", str(feats), "--quiet"]
    g_cmd = [seg, "fit", "--method", "leiden", "--peer-col", "peer_id", str(logf), "-o", str(scores),
             "--format", "json", "--silhouette", "none", "--quiet"]
    envs = f"RAYON_NUM_THREADS={a.threads} "
    res["features_command"] = envs + shlex.join([shown_seg, "features", rel(logf), "-o", "OUT/features.csv",
                                                 "--quiet"])
    res["fit_command"] = envs + shlex.join([shown_seg, "fit", "--method", "leiden", "--peer-col", "peer_id",
                                            rel(logf), "-o", "OUT/scores.csv", "--format", "json",
                                            "--silhouette", "none", "--quiet"])
    res["features_runs"], res["fit_runs"] = [], []
    keep = b.out / "log_scores.kept.csv"
    for i in range(a.repeat):  # the two commands in turn, so that drift hits both
        feats.unlink(missing_ok=True)
        load = b.check_load("log | features")
        proc = run_process(f_cmd, b.env, b.out / "stdout.txt", b.out / "stderr.txt", a.timeout_s)
        feats.unlink(missing_ok=True)
        if proc["rc"] != 0 or proc["timed_out"]:
            res["error"] = (f"segmint features: exit status {proc['rc']}: "
                            f"{last_line(b.out / 'stderr.txt') or 'no output'}")
            break
        res["features_runs"].append({**proc, "other_load_cores": load})
        log(f"log | features: run {i + 1}: {proc['wall_s']:.2f} s, {proc['rss_kib'] / 1024:,.0f} MiB")
        run = b.segmint_once(g_cmd, "log | fit leiden", scores)
        if "error" in run:
            res["error"] = f"segmint fit --peer-col: {run['error']}"
            if run.get("log"):
                print(run["log"], file=sys.stderr)
            break
        shutil.copyfile(scores, keep)
        scores.unlink(missing_ok=True)
        res["fit_runs"].append(run)
        log(f"log | fit leiden: run {i + 1}: {run['wall_s']:.2f} s (graph {fmt_opt(run['seconds_graph'])} s, "
            f"leiden {fmt_opt(run['seconds_leiden'])} s), {run['rss_kib'] / 1024:,.0f} MiB, "
            f"{run['count']} communities")
    if res["features_runs"] and res["fit_runs"]:
        fr, gr = res["features_runs"], res["fit_runs"]

        def med(runs, key):
            vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
            return statistics.median(vals) if vals else None

        res.update(ok=True, features_s=med(fr, "wall_s"), features_rss_kib=max(r["rss_kib"] for r in fr),
                   fit_s=med(gr, "wall_s"), graph_s=med(gr, "seconds_graph"), leiden_s=med(gr, "seconds_leiden"),
                   fit_rss_kib=max(r["rss_kib"] for r in gr), count=gr[-1]["count"],
                   modularity=gr[-1]["modularity"], runs=len(gr))
        try:
            t, tcol = read_map(truth, ("block", "community", "segment"))
            f, fcol = read_map(keep, (a.communities_col, "segment"))
            res["nmi"], res["nmi_users"], res["nmi_missing"] = nmi_of_maps(t, f)
            res["truth_col"], res["labels_column"] = tcol, fcol
        except (OSError, ValueError, StopIteration) as e:
            b.warnings.append(f"--log-bench: no NMI: {type(e).__name__}: {e}")
    if "error" in res:
        log(f"log: FAILED ({res['error']})")
        if res.get("ok"):
            res["partial"] = res.pop("error")
        else:
            b.failures += 1
    keep.unlink(missing_ok=True)
    return res


# --------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------


def machine() -> dict:
    info = {"model": "unknown", "cpus": str(os.cpu_count() or "?"), "mem": "unknown"}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "Model name":
                info["model"] = val.strip()
            elif key.strip() == "CPU(s)":
                info["cpus"] = val.strip()
    except (OSError, subprocess.CalledProcessError):
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.lower().startswith("model name"):
                    info["model"] = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["mem"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return info


def pkg_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def segmint_version(a) -> str:
    if not a.segmint:
        return "segmint not run (no --segmint)"
    try:
        v = subprocess.run([a.segmint, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        v = ""
    v = v or "segmint ?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        v += f" (git {commit}{', uncommitted changes' if dirty else ''})"
    except (OSError, subprocess.CalledProcessError):
        pass
    return v


def fmt_s(x) -> str:
    """Seconds, 3 significant digits or so (always seconds: the columns say s)."""
    if not isinstance(x, (int, float)):
        return "–"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def row_notes(r: dict, base: dict | None) -> str:
    bits = []
    t = r["tool"]
    if t.startswith("segmint"):
        if isinstance(r.get("own_modularity"), (int, float)):
            bits.append(f"segmint's own modularity {r['own_modularity']:.4f}, count {r.get('own_count')}")
        if r.get("labels_column"):
            bits.append(f"communities from the `{r['labels_column']}` column")
        if isinstance(r.get("json_seconds"), (int, float)):
            bits.append(f"JSON `seconds` {r['json_seconds']:.2f}")
        bits.append("load = `communities.seconds_graph`")
        if len(r["runs"]) > 1:
            bits.append("same scores.csv in every run" if r.get("same_output")
                        else "**scores.csv differs between runs**")
    else:
        bits.append(f"process {r['process_s']:.2f} s incl. {r['imports_s']:.2f} s interpreter start + imports")
        if isinstance(r.get("own_quality"), (int, float)):
            bits.append(f"own quality {r['own_quality']:.4f}")
        if t.startswith("networkit"):
            bits.append(f"{r['runs'][-1].get('threads')} threads")
        else:
            bits.append("single-threaded")
    if r.get("partial"):
        bits.append(f"a later run failed: {r['partial']}")
    return "; ".join(bits)


def render_dataset(meta: dict, results: list[dict], det: str | None) -> list[str]:
    out = [f"### {meta['name']}: {meta['n_nodes']:,} nodes, {meta['n_edges']:,} edges, {meta['blocks']} blocks",
           "",
           f"Blocks of {meta['block_size_min']:,}..{meta['block_size_max']:,} nodes ({meta['sizes']}), "
           f"{meta['inside_fraction']:.1%} of the edges inside blocks, degrees {meta['degree_min']}.."
           f"{meta['degree_max']} (median {meta['degree_median']:g}; node weights: {meta['degrees']}); "
           f"modularity of the planted blocks {meta['planted_modularity']:.4f}. Edge list "
           f"`{rel(dataset_paths(HERE / 'data', meta['name'])['edges'])}` "
           f"({meta['csv_bytes'] / 1e6:.0f} MB).", ""]
    head = ["tool", "whole s", "load s", "algorithm s", "modularity", "communities", "NMI",
            "peak RSS MiB", "whole ×", "algorithm ×", "runs", "notes"]
    out += ["| " + " | ".join(head) + " |", "|" + "|".join([":---"] + ["---:"] * 10 + [":---"]) + "|"]
    base = next((r for r in results if r["tool"] == BASELINE and r.get("ok")), None)
    for r in results:
        name = LABELS[r["tool"]]
        if not r.get("ok"):
            out.append("| " + " | ".join([name, "FAILED"] + ["–"] * 9 + [md_cell(r.get("error", "failed")[:300])])
                       + " |")
            continue

        def ratio(key):
            if base and isinstance(r.get(key), (int, float)) and r[key] > 0 and isinstance(base.get(key), (int, float)):
                return f"{base[key] / r[key]:.2f}"
            return "–"

        q = lambda k, d: f"{r[k]:.{d}f}" if isinstance(r.get(k), (int, float)) else "?"  # noqa: E731
        out.append("| " + " | ".join([
            name, fmt_s(r.get("whole_s")), fmt_s(r.get("load_s")), fmt_s(r.get("algo_s")), q("modularity", 4),
            f"{r['communities']:,}" if "communities" in r else "?", q("nmi", 4),
            f"{r['rss_kib'] / 1024:,.0f}", ratio("whole_s"), ratio("algo_s"), str(len(r["runs"])),
            md_cell(row_notes(r, base))]) + " |")
    out.append("| planted blocks (truth) | – | – | – | "
               f"{meta['planted_modularity']:.4f} | {meta['blocks']} | 1.0000 | – | – | – | – | reference |")
    out.append("")
    if det:
        out += [det, ""]
    out.append("Commands (OUT = the scratch folder):")
    out.append("")
    for r in results:
        if r.get("command"):
            out.append(f"- {LABELS[r['tool']]}: `{r['command']}`")
    out.append("")
    return out


def render_log(res: dict) -> list[str]:
    out = ["### Graph from a transaction log (segmint only, `--log-bench`)", ""]
    out.append(f"Log: `{res['generate_command']}`"
               + (f" ({res['log_bytes'] / 1e9:.2f} GB)" if "log_bytes" in res else "") + ".")
    out.append("")
    if not res.get("ok"):
        out += [f"FAILED: {md_cell(res.get('error', 'failed'))}", ""]
        return out
    ratio = (f"{res['graph_s'] / res['features_s']:.2f}"
             if isinstance(res.get("graph_s"), (int, float)) and res["features_s"] else "–")
    nmi = (f"NMI with the planted blocks {res['nmi']:.4f} ({res['nmi_users']:,} users; truth column "
           f"`{res['truth_col']}`, communities from `{res['labels_column']}`)" if "nmi" in res else "no NMI")
    out += ["| step | median s | peak RSS MiB | notes |", "|:---|---:|---:|:---|",
            f"| `segmint features` (whole process) | {fmt_s(res['features_s'])} | "
            f"{res['features_rss_kib'] / 1024:,.0f} | per-user feature table |",
            f"| `segmint fit --method leiden --peer-col peer_id` (whole process) | {fmt_s(res['fit_s'])} | "
            f"{res['fit_rss_kib'] / 1024:,.0f} | {res['count']} communities, segmint's modularity "
            f"{fmt_opt(res['modularity'], 4)}; {md_cell(nmi)} |",
            f"| of which the graph build (`communities.seconds_graph`) | {fmt_s(res['graph_s'])} | – | "
            f"{ratio} × the `features` time |",
            f"| of which Leiden (`communities.seconds_leiden`) | {fmt_s(res['leiden_s'])} | – | |",
            "", f"{res['runs']} run(s) each, the two commands in turn. Commands:", "",
            f"- `{res['features_command']}`", f"- `{res['fit_command']}`", ""]
    if res.get("partial"):
        out += [f"A later run failed: {md_cell(res['partial'])}", ""]
    return out


def render(meta: dict, sections: list, log_res: dict | None, warnings: list[str]) -> str:
    m, v = meta["machine"], meta["versions"]
    out = [
        "# Graph communities: segmint vs python-igraph, leidenalg, networkit",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {m['model']} (`lscpu`), {m['cpus']} CPU(s), memory {m['mem']}",
        f"- Versions: {meta['segmint']}; " + "; ".join(f"{k} {val}" for k, val in v.items())
        + f"; Python {meta['python']}",
        f"- Command: `{meta['command']}`",
        f"- Threads: networkit {meta['threads']} (`setNumberOfThreads`); igraph and leidenalg are "
        f"single-threaded; segmint its default with RAYON_NUM_THREADS={meta['threads']}. "
        f"{meta['repeat']} run(s) per tool and graph, each its own process; medians shown; a tool whose "
        f"first run took over {meta['slow_s']:.0f} s ran once",
        "- Peak RSS: `ru_maxrss` of each run's process (from `wait4`), the largest over the runs"
        + ("; segmint memory-maps its input (a window at a time), and resident mapped pages of the CSV "
           "(shared page cache) count in its figure" if meta["segmint_run"] else ""),
        "",
        "*whole s*: the job a user runs. Peers: `pandas.read_csv` of the edge list, `pandas.factorize` of "
        "the node ids, the graph (`igraph.Graph.add_edges` / `networkit.Graph.addEdges`), the algorithm; "
        "timed inside the process, interpreter start and imports left out (see notes). segmint: the wall "
        "time of the whole process, which also writes scores.csv. *load s*: reading and graph building "
        "(segmint: `communities.seconds_graph`). *algorithm s*: the algorithm call alone (segmint: "
        "`communities.seconds_leiden`). *modularity*, *communities*, *NMI*: computed by this script for "
        "every tool alike, outside the timing: `igraph.Graph.modularity(membership)` (resolution 1) on the "
        "edge list's graph, and scikit-learn's `normalized_mutual_info_score` with the planted blocks. "
        f"*whole ×*, *algorithm ×*: {LABELS[BASELINE]}'s time / the row's; above 1 is faster.",
        "",
    ]
    for ds_meta, results, det in sections:
        out += render_dataset(ds_meta, results, det)
    if log_res is not None:
        out += render_log(log_res)
    if warnings:
        out += ["**Warnings:**", ""] + [f"- {w}" for w in warnings] + [""]
    return "\n".join(out)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def bench_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="graph.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS),
                    help="graphs to run (default: all)")
    ap.add_argument("--tools", nargs="+", choices=TOOLS,
                    help="tools to run (default: every peer, and segmint when --segmint is given)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool and graph; medians (default: 3)")
    ap.add_argument("--slow-s", type=float, default=120.0,
                    help="a tool whose first run takes longer runs once (default: 120)")
    ap.add_argument("--timeout-s", type=float, default=1800.0,
                    help="stop a run after this long and mark the row FAILED (default: 1800)")
    ap.add_argument("--easy-only", nargs="*", default=["leidenalg", "igraph-multilevel"], choices=PEERS,
                    metavar="TOOL", help="peers run on easy only: too slow for 1M nodes (default: leidenalg "
                    "igraph-multilevel; igraph's multilevel time grows ~n² here)")
    ap.add_argument("--threads", type=int, default=2,
                    help="networkit's threads; RAYON/OMP_NUM_THREADS for every process (default: 2)")
    ap.add_argument("--segmint", help="segmint binary: adds segmint's rows (none without it)")
    ap.add_argument("--segmint-error", default="", help="mark every segmint row FAILED with this reason")
    ap.add_argument("--communities-col", default="community",
                    help="scores.csv column with the community of each node, used when present; "
                    "else `segment` (default: community)")
    ap.add_argument("--single-thread-on", nargs="*", default=["easy"], choices=list(DATASETS), metavar="SET",
                    help="graphs on which segmint also runs once with --threads 1, and its communities "
                    "are compared with the default run's (default: easy)")
    ap.add_argument("--log-bench", action="store_true",
                    help="also time segmint's graph build from a 50M-row transaction log (needs --segmint, "
                    "~5 GB of disk, minutes)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="graph generator seed (default: 42)")
    ap.add_argument("--data", default=str(HERE / "data"), help="data folder (default: benches/compare/data)")
    ap.add_argument("--out-dir", default=str(HERE / "data" / "out-graph"), help="scratch folder")
    ap.add_argument("--results", default=str(HERE / "results-graph.md"), help="Markdown file to write")
    ap.add_argument("--raw-json", default=str(HERE / "data" / "results-graph.json"), help="every run, as JSON")
    ap.add_argument("--command", default="", help="command line quoted in the results")
    return ap


def cmd_bench(argv: list[str]) -> int:
    ap = bench_parser()
    a = ap.parse_args(argv)
    if a.repeat < 1 or a.threads < 1:
        ap.error("--repeat and --threads must be at least 1")
    tools = a.tools or [t for t in TOOLS if t != "segmint" or a.segmint]
    if "segmint" in tools and not a.segmint:
        ap.error("--tools segmint needs --segmint PATH")
    if a.log_bench and not a.segmint:
        ap.error("--log-bench needs --segmint PATH")
    if a.segmint:
        a.segmint_shown = rel(a.segmint) if os.sep in a.segmint else a.segmint
        if os.sep in a.segmint:
            a.segmint = str(Path(a.segmint).resolve())
        else:
            a.segmint = shutil.which(a.segmint) or a.segmint
        if not a.segmint_error and not os.access(a.segmint, os.X_OK):
            a.segmint_error = f"{a.segmint} not found or not executable"
        if a.segmint_error:
            log(f"warning: segmint rows will be FAILED: {a.segmint_error}")
    if not a.command:
        a.command = shlex.join(["benches/compare/.venv-graph/bin/python", "benches/compare/graph.py", *argv])

    data = Path(a.data).resolve()
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "segmint": segmint_version(a),
        "versions": {p: pkg_version(p) for p in ("igraph", "leidenalg", "networkit", "pandas", "pyarrow",
                                                 "numpy", "scikit-learn")},
        "python": sys.version.split()[0],
        "threads": a.threads, "repeat": a.repeat, "slow_s": a.slow_s, "command": a.command,
        "segmint_run": bool(a.segmint),
    }
    log(f"tools: {' '.join(tools)}; graphs: {' '.join(a.datasets)}; {a.repeat} run(s) each; "
        f"machine: {meta['machine']['model']}, {meta['machine']['cpus']} CPU(s)")

    b = Bench(a)
    sections = []
    raw: dict = {"meta": meta, "datasets": {}}
    log_res = None
    try:
        for name in a.datasets:
            ds = gen_dataset(data, name, a.seed)
            edges = dataset_paths(data, name)["edges"]
            results = []
            for tool in tools:
                if tool == "segmint":
                    results.append(b.segmint_runs(name, edges))
                    if name in a.single_thread_on:
                        results.append(b.segmint_runs(name, edges, threads1=True, repeat=1))
                elif tool in a.easy_only and name != "easy":
                    continue
                else:
                    results.append(b.peer_runs(name, tool, edges))
            evaluate(ds, data, results, a.communities_col, b.warnings)
            det = None
            seg = {r["tool"]: r for r in results if r["tool"].startswith("segmint")}
            if "segmint-t1" in seg:
                if seg["segmint"].get("labels") is not None and seg["segmint-t1"].get("labels") is not None:
                    verdict = compare_partitions(seg["segmint"]["labels"], seg["segmint-t1"]["labels"])
                    det = (f"Determinism ({name}): the communities of `--threads 1` and of the default run "
                           f"(RAYON_NUM_THREADS={a.threads}) are **{verdict}**"
                           f" (column `{seg['segmint']['labels_column']}`).")
                    d, t1 = seg["segmint"], seg["segmint-t1"]
                    if all(isinstance(x.get("algo_s"), (int, float)) and x["algo_s"] > 0 for x in (d, t1)):
                        det += (f" Scaling: Leiden {t1['algo_s']:.2f} s on 1 thread, {d['algo_s']:.2f} s by "
                                f"default ({t1['algo_s'] / d['algo_s']:.2f}×); whole process "
                                f"{t1['whole_s']:.2f} s vs {d['whole_s']:.2f} s.")
                    if not verdict.startswith(("identical", "same partition")):
                        b.warnings.append(det)
                else:
                    det = f"Determinism ({name}): not checked (a segmint run failed)."
                log(det)
            for r in results:
                r.pop("labels", None)
                if r.get("ok"):
                    log(f"{name} | {r['tool']}: whole {fmt_opt(r.get('whole_s'))} s, algorithm "
                        f"{fmt_opt(r.get('algo_s'))} s, modularity {fmt_opt(r.get('modularity'), 4)}, "
                        f"{r.get('communities')} communities, NMI {fmt_opt(r.get('nmi'), 4)}, "
                        f"{r['rss_kib'] / 1024:,.0f} MiB")
            sections.append((ds, results, det))
            raw["datasets"][name] = {"graph": ds, "results": results, "determinism": det}
        if a.log_bench:
            log_res = run_log_bench(b)
            raw["log_bench"] = log_res
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        for leftover in ("stdout.txt", "stderr.txt"):
            (b.out / leftover).unlink(missing_ok=True)
        for f in b.out.glob("*.kept.csv"):
            f.unlink()
        try:
            b.out.rmdir()
        except OSError:
            pass

    if b.busy:
        b.warnings.append(
            "other processes were using CPU before these runs (cores busy, sampled for 0.5 s): "
            + "; ".join(b.busy[:12]) + (f" and {len(b.busy) - 12} more" if len(b.busy) > 12 else "")
            + ". The timings are not worth publishing: rerun on an idle machine")
    for w in b.warnings:
        log(f"WARNING: {w}")
    md = render(meta, sections, log_res, b.warnings)
    print()
    print(md)
    Path(a.results).write_text(md)
    log(f"wrote {rel(a.results)}")
    if a.raw_json:
        Path(a.raw_json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.raw_json).write_text(json.dumps(raw, indent=1, default=str))
        log(f"wrote {rel(a.raw_json)}")
    if b.failures:
        log(f"{b.failures} run(s) failed; see the FAILED rows")
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "worker":
        return cmd_worker(argv[1:])
    if argv and argv[0] == "gen":
        return cmd_gen(argv[1:])
    return cmd_bench(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
