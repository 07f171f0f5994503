#!/usr/bin/env python3
"""Clustering comparison driver: segmint vs scikit-learn, scikit-learn-intelex, faiss.

Normally started by benches/compare/cluster.sh, which prepares the venv and
the segmint binary. Four sub-commands:

  gen      write the data files (points CSV + .npy, initial centres, labels)
           into a folder, skipping those already there
  bench    time every engine on every measurement, print and save a table
  worker   run one peer measurement (one process per engine and measurement)
  measure  run a command and report its wall time and peak RSS through
           getrusage(RUSAGE_CHILDREN); used when GNU time is missing

Only the standard library is imported at module level: numpy, scikit-learn,
sklearnex and faiss are imported inside the functions that need them, so
that the `bench` process stays small and each worker loads only its engine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

THIS = Path(__file__).resolve()

# Bump when the generator changes: files made by another version are rebuilt.
GEN_VERSION = 1
DEFAULT_SEED = 42
# Full-size sizes; --quick divides every n by 100.
LLOYD_N, LLOYD_D, LLOYD_K = 1_000_000, 8, 8
SWEEP_N, SWEEP_D = 1_000_000, 3
SWEEP_KS = (2, 10)
SIL_NS = (50_000, 100_000, 1_000_000)
SIL_D = 3
SIL_LABEL_K = 4
# sklearn's silhouette is O(n^2); it is not run at the largest size.
SIL_SKLEARN_MAX_N = 100_000
# Lloyd: per iteration = (t(LLOYD_ITERS + 1) - t(1)) / LLOYD_ITERS.
LLOYD_ITERS = 20
# Gaussian mixture (full covariances) on the Lloyd data: per EM iteration =
# (t(GMM_ITERS + 1) - t(1)) / GMM_ITERS for scikit-learn, from the same start
# (the Lloyd centres as means, equal weights, identity covariances).
GMM_ITERS = 5
FAISS_SWEEP_NITER = 25  # faiss' default; it has no tolerance-based stop
# Decimals written to the CSV; the .npy holds float32 of exactly these decimals.
CSV_DECIMALS = 6

ENGINE_LABELS = {
    "segmint": "segmint",
    "sklearn": "scikit-learn",
    "sklearnex": "sklearnex",
    "faiss": "faiss",
}
PEERS = ("sklearn", "sklearnex", "faiss")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# Cores' worth of CPU used by other processes above which the results are flagged.
BUSY_LIMIT = 0.3


def log(msg: str) -> None:
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# gen: data files
# --------------------------------------------------------------------------


def sizes(scale: int) -> dict:
    """Sizes of every data set, each n divided by `scale` (1 or 100)."""
    return {
        "lloyd_n": LLOYD_N // scale,
        "sweep_n": SWEEP_N // scale,
        "sil_ns": [n // scale for n in SIL_NS],
    }


def points_name(n: int, d: int) -> str:
    return f"points_{n}x{d}"


def make_blobs(n: int, d: int, seed: int):
    """Gaussian blobs, rows shuffled, standardized per column (float64)."""
    import numpy as np

    rng = np.random.default_rng([seed, n, d])
    blobs = 6 if d <= 3 else 8
    centres = rng.uniform(-10.0, 10.0, size=(blobs, d))
    spread = rng.uniform(0.5, 2.5, size=blobs)
    counts = rng.multinomial(n, rng.dirichlet(np.full(blobs, 4.0)))
    x = np.empty((n, d))
    at = 0
    for c, m in enumerate(counts):
        x[at:at + m] = centres[c] + spread[c] * rng.standard_normal((m, d))
        at += m
    x = x[rng.permutation(n)]
    x -= x.mean(axis=0)
    x /= x.std(axis=0)
    return np.round(x, CSV_DECIMALS)


def write_csv(path: Path, header: list[str], rows, fmt: str, ids: bool) -> None:
    """Rows of floats (or ints) as CSV; with ids, a zero-padded user_id first."""
    n = len(rows)
    width = max(7, len(str(max(n - 1, 0))))
    line = (f"u%0{width}d," if ids else "") + ",".join([fmt] * (rows.shape[1] if rows.ndim == 2 else 1))
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", newline="\n") as f:
        f.write(",".join((["user_id"] if ids else []) + header) + "\n")
        chunk = 100_000
        for start in range(0, n, chunk):
            block = rows[start:start + chunk].tolist()
            if ids:
                out = [line % (start + i, *r) for i, r in enumerate(block)]
            elif rows.ndim == 2:
                out = [line % tuple(r) for r in block]
            else:
                out = [line % r for r in block]
            f.write("\n".join(out) + "\n")
    tmp.replace(path)


def save_npy(path: Path, arr) -> None:
    import numpy as np

    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        np.save(f, arr)
    tmp.replace(path)


def gen_points(data: Path, n: int, d: int, seed: int) -> tuple[Path, bool]:
    """points_<n>x<d>.{csv,npy,json}; returns (npy path, regenerated?)."""
    import numpy as np

    base = points_name(n, d)
    csv, npy, meta = (data / f"{base}.{ext}" for ext in ("csv", "npy", "json"))
    want = {"n": n, "d": d, "seed": seed, "gen_version": GEN_VERSION, "decimals": CSV_DECIMALS}
    try:
        have = json.loads(meta.read_text())
    except (OSError, ValueError):
        have = None
    if have == want and csv.is_file() and npy.is_file():
        log(f"data: reusing {base}.csv/.npy")
        return npy, False
    t0 = time.perf_counter()
    meta.unlink(missing_ok=True)
    x = make_blobs(n, d, seed)
    write_csv(csv, [f"f{j}" for j in range(d)], x, f"%.{CSV_DECIMALS}f", ids=True)
    save_npy(npy, x.astype(np.float32))
    meta.write_text(json.dumps(want) + "\n")
    log(f"data: wrote {base}.csv ({csv.stat().st_size / 1e6:.1f} MB) and .npy "
        f"in {time.perf_counter() - t0:.1f} s")
    return npy, True


def gen_init(data: Path, points_npy: Path, k: int, seed: int, fresh: bool) -> None:
    """init_<k>x<d>.{csv,npy}: k distinct random rows of the points."""
    import numpy as np

    x = np.load(points_npy, mmap_mode="r")
    n, d = x.shape
    csv, npy = data / f"init_{k}x{d}.csv", data / f"init_{k}x{d}.npy"
    if not fresh and csv.is_file() and npy.is_file():
        log(f"data: reusing {csv.name}")
        return
    rng = np.random.default_rng([seed, n, d, k])
    idx = rng.choice(n, size=k, replace=False)
    init = np.asarray(x[np.sort(idx)], dtype=np.float32)
    if len(np.unique(init, axis=0)) != k:
        raise SystemExit("gen: the chosen initial centres are not distinct; change the seed")
    # The CSV holds the same decimals as the points CSV, so segmint reads the
    # very rows the peers get from the .npy.
    write_csv(csv, [f"f{j}" for j in range(d)], init.astype(np.float64), f"%.{CSV_DECIMALS}f", ids=False)
    back = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2).astype(np.float32)
    if not np.array_equal(back, init):
        raise SystemExit(f"gen: {csv.name} does not read back as the chosen rows")
    save_npy(npy, init)
    log(f"data: wrote {csv.name} (rows {', '.join(str(i) for i in np.sort(idx))})")


def gen_labels(data: Path, points_npy: Path, threads: int, fresh: bool) -> None:
    """labels_<n>.{csv,npy}: sklearn KMeans(k=4, n_init=1, random_state=0)."""
    import numpy as np
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x = np.load(points_npy)
    n = x.shape[0]
    csv, npy = data / f"labels_{n}.csv", data / f"labels_{n}.npy"
    if not fresh and csv.is_file() and npy.is_file():
        log(f"data: reusing {csv.name}")
        return
    t0 = time.perf_counter()
    with threadpool_limits(limits=threads):
        labels = KMeans(n_clusters=SIL_LABEL_K, n_init=1, random_state=0).fit(x).labels_
    labels = labels.astype(np.int32)
    write_csv(csv, ["label"], labels, "%d", ids=False)
    save_npy(npy, labels)
    log(f"data: wrote {csv.name} (cluster sizes {np.bincount(labels).tolist()}) "
        f"in {time.perf_counter() - t0:.1f} s")


def cmd_gen(args: argparse.Namespace) -> int:
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    sz = sizes(args.scale)
    npy, fresh = gen_points(data, sz["lloyd_n"], LLOYD_D, args.seed)
    gen_init(data, npy, LLOYD_K, args.seed, fresh)
    done = set()
    for n in [sz["sweep_n"], *sz["sil_ns"]]:
        if n in done:
            continue
        done.add(n)
        npy, fresh = gen_points(data, n, SIL_D, args.seed)
        if n in sz["sil_ns"]:
            gen_labels(data, npy, args.threads, fresh)
    return 0


# --------------------------------------------------------------------------
# worker: one peer measurement in this process
# --------------------------------------------------------------------------


class SklearnexLog:
    """Collects sklearnex's 'running accelerated version' / 'fallback' lines."""

    def __init__(self):
        import logging

        self.messages: list[str] = []
        outer = self

        class Handler(logging.Handler):
            def emit(self, record):
                outer.messages.append(record.getMessage())

        logger = logging.getLogger("sklearnex")
        logger.setLevel(logging.INFO)
        logger.addHandler(Handler())

    def backend(self) -> str:
        acc = sum("accelerated" in m and "failed" not in m for m in self.messages)
        fb = sum("fallback" in m for m in self.messages)
        if fb and not acc:
            return "sklearn fallback"
        if fb:
            return f"oneDAL for {acc}, sklearn fallback for {fb} call(s)"
        return "oneDAL" if acc else "unknown (no sklearnex log line)"


def check_threads(engine: str, threads: int) -> list[str]:
    """Problems with the thread settings seen from inside the process."""
    from threadpoolctl import threadpool_info

    problems = [f"{p['internal_api']} ({Path(p['filepath']).name}) uses {p['num_threads']} threads"
                for p in threadpool_info() if p["num_threads"] != threads]
    if engine == "faiss":
        import faiss

        if faiss.omp_get_max_threads() != threads:
            problems.append(f"faiss.omp_get_max_threads() = {faiss.omp_get_max_threads()}")
    if engine == "sklearnex":
        import daal4py

        if daal4py.num_threads() != threads:
            problems.append(f"daal4py.num_threads() = {daal4py.num_threads()}")
    return problems


def kmeans_class(engine: str):
    if engine == "sklearn":
        from sklearn.cluster import KMeans
    else:
        from sklearnex.cluster import KMeans
    return KMeans


def worker_lloyd(engine: str, x, init, repeat: int) -> dict:
    import numpy as np

    n, d = x.shape
    k = init.shape[0]
    if engine == "faiss":
        import faiss

        def fit(m: int):
            km = faiss.Kmeans(d, k, niter=m, nredo=1, max_points_per_centroid=n,
                              min_points_per_centroid=1, seed=1234, verbose=False)
            km.train(x, init_centroids=init.copy())
            # faiss has no convergence stop: it always runs niter iterations.
            return len(km.obj), km.centroids, float(km.obj[-1])
    else:
        KMeans = kmeans_class(engine)

        def fit(m: int):
            km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=m, tol=0.0,
                        algorithm="lloyd").fit(x)
            return int(km.n_iter_), km.cluster_centers_, float(km.inertia_)

    fit(1)  # warm-up: first-call costs (thread pools, lazy imports) stay out of the difference
    per_iter, iters = [], []
    centres = objective = None
    def timed(m: int):
        t0 = time.perf_counter()
        out = fit(m)
        return time.perf_counter() - t0, out

    for _ in range(repeat):
        # The 1-iteration baseline is timed before and after the long fit and
        # the faster of the two kept: on small data a single baseline can be
        # slower than the whole long fit (thread wake-up noise).
        t1a, _ = timed(1)
        tm, (it, centres, objective) = timed(LLOYD_ITERS + 1)
        t1b, _ = timed(1)
        t1 = min(t1a, t1b)
        if it < 2:
            raise RuntimeError(f"converged after {it} iteration(s): nothing to difference")
        per_iter.append((tm - t1) / (it - 1))
        iters.append(it)
    return {
        "times_s": per_iter,
        "n_iter": iters,
        "objective": objective,
        "centres": np.asarray(centres, dtype=np.float64).tolist(),
    }


def worker_gmm(x, init, repeat: int) -> dict:
    """Per EM iteration of scikit-learn's GaussianMixture (full covariances),
    from means `init`, equal weights and identity precisions."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    warnings.simplefilter("ignore", ConvergenceWarning)
    x = x.astype(np.float64)
    k, d = init.shape

    def timed(m: int):
        g = GaussianMixture(n_components=k, covariance_type="full", tol=0.0, max_iter=m,
                            weights_init=np.full(k, 1.0 / k), means_init=init.astype(np.float64),
                            precisions_init=np.array([np.eye(d)] * k),
                            init_params="random_from_data", random_state=0)
        t0 = time.perf_counter()
        g.fit(x)
        return time.perf_counter() - t0, g

    timed(1)  # warm-up
    per_iter = []
    bound = None
    for _ in range(repeat):
        t1a, _ = timed(1)
        tm, g = timed(GMM_ITERS + 1)
        t1b, _ = timed(1)
        per_iter.append((tm - min(t1a, t1b)) / GMM_ITERS)
        bound = float(g.lower_bound_)
    return {"times_s": per_iter, "lower_bound": bound}


def worker_sweep(engine: str, x, repeat: int) -> dict:
    n, d = x.shape
    ks = range(SWEEP_KS[0], SWEEP_KS[1] + 1)
    if engine == "faiss":
        import faiss

        extra = {}
        if hasattr(faiss, "ClusteringInitMethod_KMEANS_PLUS_PLUS"):  # faiss >= 1.14
            extra["init_method"] = faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS

        def fit(k: int) -> int:
            km = faiss.Kmeans(d, k, niter=FAISS_SWEEP_NITER, nredo=1, max_points_per_centroid=n,
                              min_points_per_centroid=1, seed=0, verbose=False, **extra)
            km.train(x)
            return len(km.obj)
    else:
        KMeans = kmeans_class(engine)

        def fit(k: int) -> int:
            return int(KMeans(n_clusters=k, n_init=1, init="k-means++", random_state=0).fit(x).n_iter_)

    times, iters = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        it = [fit(k) for k in ks]
        times.append(time.perf_counter() - t0)
        iters = it
    report = {"times_s": times, "n_iter": iters}
    if engine == "faiss":
        report["init"] = "k-means++" if extra else "random rows"
    return report


def worker_silhouette(engine: str, x, labels, repeat: int) -> dict:
    if engine != "sklearn":
        raise RuntimeError(f"{engine} has no silhouette score")
    from sklearn.metrics import silhouette_score

    times, score = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        score = float(silhouette_score(x, labels, metric="euclidean"))
        times.append(time.perf_counter() - t0)
    return {"times_s": times, "score": score}


def cmd_worker(args: argparse.Namespace) -> int:
    # OMP/MKL/OPENBLAS_NUM_THREADS are set by the driver before this process
    # starts; the limits below are a second line, and check_threads verifies.
    start = time.perf_counter()
    import numpy as np
    from threadpoolctl import threadpool_limits

    xlog = None
    if args.engine == "faiss":
        import faiss

        faiss.omp_set_num_threads(args.threads)
        version = faiss.__version__
    elif args.engine == "sklearnex":
        import daal4py

        # oneDAL threads through TBB, which OMP_NUM_THREADS and threadpoolctl
        # do not reach; daalinit sets its thread count.
        daal4py.daalinit(args.threads)
        xlog = SklearnexLog()
        import sklearnex

        version = metadata.version("scikit-learn-intelex")
    else:
        import sklearn

        version = sklearn.__version__

    x = np.ascontiguousarray(np.load(args.points), dtype=np.float32)
    loaded = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        # Import the estimators first, so that every library they load is
        # under the limits when we check them.
        if args.engine != "faiss":
            kmeans_class(args.engine)
            import sklearn.metrics  # noqa: F401
        problems = check_threads(args.engine, args.threads)
        if problems:
            print(f"{args.engine}: expected {args.threads} threads: {'; '.join(problems)}", file=sys.stderr)
            return 3
        if args.measure == "lloyd":
            init = np.ascontiguousarray(np.load(args.init), dtype=np.float32)
            report = worker_lloyd(args.engine, x, init, args.repeat)
        elif args.measure == "gmm":
            init = np.ascontiguousarray(np.load(args.init), dtype=np.float32)
            report = worker_gmm(x, init, args.repeat)
        elif args.measure == "sweep":
            report = worker_sweep(args.engine, x, args.repeat)
        else:
            labels = np.load(args.labels)
            report = worker_silhouette(args.engine, x, labels, args.repeat)
    report.update(version=version, setup_s=loaded - start, threads=args.threads)
    if xlog is not None:
        report["backend"] = xlog.backend()
    Path(args.report).write_text(json.dumps(report))
    return 0


# --------------------------------------------------------------------------
# measure: getrusage fallback for peak RSS
# --------------------------------------------------------------------------


def cmd_measure(args: argparse.Namespace) -> int:
    import resource

    cmd = args.cmd
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("measure: no command given", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rc = subprocess.call(cmd)
    wall = time.perf_counter() - t0
    # This wrapper waits for exactly one child, so the children's maximum is
    # that child's peak RSS (KiB on Linux).
    rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    Path(args.report).write_text(json.dumps({"wall_s": wall, "rss_kib": rss_kib, "rc": rc}))
    return rc if rc >= 0 else 128 - rc


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------


def tail(path: Path, lines: int = 15) -> str:
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


def remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def plan(args, sz: dict) -> list[dict]:
    """Every (measurement, engine) cell of the table, in run order."""
    data, root = Path(args.data), Path(args.repo)
    seg = rel(Path(args.segmint), root) if Path(args.segmint).is_absolute() else args.segmint
    th = str(args.threads)
    r = str(args.repeat)
    jobs = []

    def add(group: str, engine: str, **kw) -> None:
        measure = group.split(" ", 1)[0].lower()
        wanted = {"lloyd": "lloyd", "k": "sweep", "exact": "silhouette", "gaussian": "gmm"}[measure]
        if engine in args.engines and wanted in args.measures:
            jobs.append({"group": group, "engine": engine, **kw})

    n = sz["lloyd_n"]
    pts = data / f"{points_name(n, LLOYD_D)}"
    group = f"Lloyd iteration, n={n:,} d={LLOYD_D} k={LLOYD_K} (per iteration)"
    expect = {"stage": "lloyd", "n": n, "d": LLOYD_D, "k": LLOYD_K}
    init = data / f"init_{LLOYD_K}x{LLOYD_D}"
    for e in args.engines:
        if e == "segmint":
            add(group, e, expect=expect, argv=[
                seg, "--device", "cpu", "--threads", th, "bench", "lloyd",
                "--features-input", rel(pts.with_suffix(".csv"), root),
                "--init", rel(init.with_suffix(".csv"), root),
                "--scale", "none", "--repeat", str(LLOYD_ITERS), "--format", "json"])
        else:
            add(group, e, measure="lloyd", points=pts.with_suffix(".npy"), init=init.with_suffix(".npy"))

    n = sz["lloyd_n"]
    pts = data / f"{points_name(n, LLOYD_D)}"
    group = f"Gaussian mixture EM iteration, full covariances, n={n:,} d={LLOYD_D} k={LLOYD_K} (per iteration)"
    expect = {"stage": "gmm", "n": n, "d": LLOYD_D, "k": LLOYD_K}
    for e in args.engines:
        if e == "segmint":
            add(group, e, expect=expect, argv=[
                seg, "--device", "cpu", "--threads", th, "bench", "gmm",
                "--features-input", rel(pts.with_suffix(".csv"), root),
                "--init", rel(init.with_suffix(".csv"), root),
                "--scale", "none", "--repeat", str(LLOYD_ITERS), "--format", "json"])
        elif e == "sklearn":
            add(group, e, measure="gmm", points=pts.with_suffix(".npy"), init=init.with_suffix(".npy"))
        else:
            add(group, e, skip=f"n/a: {ENGINE_LABELS[e]} has no Gaussian mixture")

    n = sz["sweep_n"]
    pts = data / f"{points_name(n, SWEEP_D)}"
    ks = f"{SWEEP_KS[0]}..{SWEEP_KS[1]}"
    group = f"K sweep {ks}, n_init=1, n={n:,} d={SWEEP_D} (whole sweep)"
    expect = {"stage": "sweep", "n": n, "d": SWEEP_D, "k": ks}
    for e in args.engines:
        if e == "segmint":
            add(group, e, expect=expect, argv=[
                seg, "--device", "cpu", "--threads", th, "bench", "sweep",
                "--features-input", rel(pts.with_suffix(".csv"), root),
                "--k", ks, "--n-init", "1", "--seed", "0", "--scale", "none",
                "--repeat", r, "--format", "json"])
        else:
            add(group, e, measure="sweep", points=pts.with_suffix(".npy"))

    for i, n in enumerate(sz["sil_ns"]):
        pts = data / f"{points_name(n, SIL_D)}"
        labels = data / f"labels_{n}"
        group = f"exact silhouette, n={n:,} d={SIL_D}"
        expect = {"stage": "silhouette", "n": n, "d": SIL_D}
        largest = i == len(sz["sil_ns"]) - 1
        for e in args.engines:
            if e == "segmint":
                add(group, e, expect=expect, argv=[
                    seg, "--device", "cpu", "--threads", th, "bench", "silhouette",
                    "--features-input", rel(pts.with_suffix(".csv"), root),
                    "--labels", rel(labels.with_suffix(".csv"), root),
                    # The largest size runs for minutes: one repeat.
                    "--scale", "none", "--repeat", "1" if largest else r,
                    "--format", "json"])
            elif e == "sklearn" and not largest:
                add(group, e, measure="silhouette", points=pts.with_suffix(".npy"),
                    labels=labels.with_suffix(".npy"))
            elif e == "sklearn":
                prev = sz["sil_ns"][i - 1]
                factor = (n / prev) ** 2
                add(group, e, extrapolate=(f"exact silhouette, n={prev:,} d={SIL_D}", factor),
                    skip=f"not run: O(n²) time, ≈{factor:,.0f}× the n={prev:,} run; the full "
                    f"distance matrix would be {fmt_bytes(n * n * 4)} in float32 (sklearn "
                    "streams it in chunks, so memory stays bounded)")
            else:
                add(group, e, skip=f"n/a: {ENGINE_LABELS[e]} has no silhouette score")
    return jobs


def run_job(job: dict, args, tag: str) -> dict:
    out_dir = Path(args.out_dir)
    report = out_dir / f"{tag}.report.json"
    timing = out_dir / f"{tag}.time"
    outf = out_dir / f"{tag}.out"
    logf = out_dir / f"{tag}.log"
    remove(report, timing, outf, logf)

    th = str(args.threads)
    env = dict(os.environ)
    env.update({k: th for k in THREAD_VARS}, RAYON_NUM_THREADS=th)
    result: dict = {"ok": False}
    if job["engine"] == "segmint":
        if args.segmint_error:
            result["error"] = args.segmint_error
            return result
        cmd = list(job["argv"])
        cmd[0] = args.segmint
        result["command"] = shlex.join(job["argv"])
    else:
        root = Path(args.repo)
        cmd = [sys.executable, str(THIS), "worker", job["engine"], job["measure"],
               "--points", rel(job["points"], root), "--threads", th, "--repeat", str(args.repeat)]
        if "init" in job:
            cmd += ["--init", rel(job["init"], root)]
        if "labels" in job:
            cmd += ["--labels", rel(job["labels"], root)]
        shown = [rel(Path(sys.executable), root), rel(THIS, root), *cmd[2:]]
        result["command"] = f"{' '.join(f'{k}={th}' for k in THREAD_VARS)} {shlex.join(shown)}"
        cmd += ["--report", str(report)]
    if args.rss_method == "time":
        full = ["/usr/bin/time", "-f", "%e %M", "-o", str(timing), *cmd]
    else:
        full = [sys.executable, str(THIS), "measure", "--report", str(timing), "--", *cmd]

    try:
        with open(outf, "wb") as of, open(logf, "wb") as lf:
            t0 = time.perf_counter()
            rc = subprocess.call(full, stdout=of, stderr=lf, stdin=subprocess.DEVNULL,
                                 env=env, cwd=args.repo)
            result["wall_s"] = time.perf_counter() - t0
        result["rc"] = rc
        try:
            if args.rss_method == "time":
                fields = timing.read_text().strip().splitlines()[-1].split()
                result["rss_kib"] = int(fields[1])
            else:
                result["rss_kib"] = int(json.loads(timing.read_text())["rss_kib"])
        except (OSError, ValueError, IndexError, KeyError):
            pass
        if rc != 0:
            why = last_line(logf) or last_line(outf) or "no output"
            result["error"] = f"exit status {rc}: {why}"
            result["log"] = tail(logf) or tail(outf)
            return result
        if job["engine"] == "segmint":
            parsed = None
            for line in reversed(outf.read_text(errors="replace").splitlines()):
                line = line.strip()
                if line.startswith("{"):
                    try:
                        parsed = json.loads(line)
                        break
                    except ValueError:
                        pass
            if not isinstance(parsed, dict):
                result["error"] = f"no JSON object on stdout: {last_line(outf) or 'empty'}"
                result["log"] = tail(outf) + "\n" + tail(logf)
                return result
            missing = [k for k in ("median_s", "min_s", "max_s") if not isinstance(parsed.get(k), (int, float))]
            if missing:
                result["error"] = f"JSON lacks {', '.join(missing)}: {json.dumps(parsed)[:200]}"
                return result
            result.update(median_s=float(parsed["median_s"]), min_s=float(parsed["min_s"]),
                          max_s=float(parsed["max_s"]), json=parsed)
            odd = [f"{k}={parsed.get(k)!r} (expected {v!r})" for k, v in job["expect"].items()
                   if str(parsed.get(k)) != str(v)]
            if odd:
                result["mismatch"] = "; ".join(odd)
        else:
            rep = json.loads(report.read_text())
            times = rep["times_s"]
            result.update(median_s=statistics.median(times), min_s=min(times), max_s=max(times),
                          report=rep)
        result["ok"] = True
        return result
    except (OSError, ValueError, IndexError, KeyError) as e:
        result["error"] = f"{type(e).__name__}: {e}"
        result["log"] = tail(logf)
        return result
    finally:
        remove(report, timing, outf, logf)


def busy_cores(seconds: float = 0.5) -> float | None:
    """CPU in use by other processes (in cores), sampled from /proc/stat
    between two runs, when none of ours is running."""

    def sample():
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        vals = [int(v) for v in fields]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        return sum(vals[:8]), idle

    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if t1 <= t0:
        return None
    return (1 - (i1 - i0) / (t1 - t0)) * (os.cpu_count() or 1)


def fmt_bytes(b: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if b >= size:
            return f"{b / size:,.3g} {unit}"
    return f"{b / 1e3:,.3g} kB"


def fmt_t(x: float | None) -> str:
    if x is None:
        return "–"
    if x >= 3600:
        return f"{x / 3600:.1f} h"
    if x >= 120:
        return f"{x / 60:.1f} min"
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} µs"


def notes_for(job: dict, res: dict) -> str:
    e = job["engine"]
    if e == "segmint":
        rep = res.get("json", {}).get("repeat", "?")
        if job["expect"]["stage"] in ("lloyd", "gmm"):
            return f"{rep} single iterations in one process"
        return f"{rep} repeats in one process"
    rep = res["report"]
    kind = job["measure"]
    bits = []
    if kind == "lloyd":
        its = rep["n_iter"]
        if any(i != LLOYD_ITERS + 1 for i in its):
            bits.append(f"stopped after {its} iterations: (t(n_iter) − t(1)) / (n_iter − 1)")
        else:
            bits.append(f"(t(max_iter={LLOYD_ITERS + 1}) − t(max_iter=1)) / {LLOYD_ITERS}")
        if res["min_s"] <= 0:
            bits.append("**negative estimate: timing noise exceeds the signal, data too small**")
        if e == "faiss":
            bits.append("`max_points_per_centroid=n` (no subsampling), `train(x, init_centroids=init)`")
        if its and rep.get("objective") is not None:
            bits.append(f"final objective {rep['objective']:.6g}")
    elif kind == "sweep":
        its = rep["n_iter"]
        bits.append(f"{sum(its)} iterations in all ({'/'.join(str(i) for i in its)})")
        if e == "faiss":
            bits.append(f"niter={FAISS_SWEEP_NITER} per K at most (faiss' default; no tol, it stops early only "
                        f"when the objective is unchanged); init {rep.get('init', '?')}; "
                        "`max_points_per_centroid=n` (no subsampling)")
        else:
            bits.append("k-means++, default tol/max_iter")
    elif kind == "silhouette":
        bits.append(f"score {rep['score']:.6f}")
    elif kind == "gmm":
        bits.append(f"(t(max_iter={GMM_ITERS + 1}) − t(max_iter=1)) / {GMM_ITERS}, float64, "
                    f"lower bound {rep['lower_bound']:.6f}")
    if "backend" in rep:
        bits.append(rep["backend"])
    bits.append(f"{args_repeat(rep)} repeats in one process")
    return "; ".join(bits)


def args_repeat(rep: dict) -> int:
    return len(rep.get("times_s", []))


def read_cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "cpu model", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def read_mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def capture(cmd: list[str], cwd: str | None = None) -> str:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def pkg_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def segmint_version(args) -> str:
    if "segmint" not in args.engines:
        return "segmint not run"
    version = capture([args.segmint, "--version"]) or "segmint ?"
    commit = capture(["git", "rev-parse", "--short", "HEAD"], cwd=args.repo)
    if commit:
        dirty = capture(["git", "status", "--porcelain", "--untracked-files=no"], cwd=args.repo)
        version += f" (git {commit}{', uncommitted changes' if dirty else ''})"
    return version


def compare_centres(results: list[tuple[dict, dict]]) -> list[str]:
    """Lloyd: the peers start from the same centres, so they should end alike."""
    got = {j["engine"]: r["report"]["centres"] for j, r in results
           if r.get("ok") and j.get("measure") == "lloyd"}
    if len(got) < 2:
        return []
    names = list(got)
    ref = got[names[0]]
    out = []
    for other in names[1:]:
        diff = max(abs(a - b) for ra, rb in zip(ref, got[other]) for a, b in zip(ra, rb))
        out.append((other, diff))
    return [(f"Lloyd: final centres of {ENGINE_LABELS[o]} differ from {ENGINE_LABELS[names[0]]} "
             f"by up to {d:.2g}", d > 1e-3) for o, d in out]


def cmd_bench(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    args.out_dir = str(out_dir)
    args.repo = str(Path(args.repo).resolve())
    args.data = str(Path(args.data).resolve())
    if os.sep in args.segmint:
        args.segmint = str(Path(args.segmint).resolve())
    if "segmint" in args.engines and not args.segmint_error and not os.access(args.segmint, os.X_OK):
        args.segmint_error = f"{args.segmint} not found or not executable"
    sz = sizes(100 if args.quick else 1)
    jobs = plan(args, sz)
    for j in jobs:
        for key in ("points", "init", "labels"):
            if key in j and not Path(j[key]).is_file():
                log(f"error: data file {j[key]} not found (run cluster.py gen first)")
                return 2

    nproc = os.cpu_count() or 0
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc,
        "cpu": read_cpu_model(),
        "mem": read_mem_total(),
        "segmint": segmint_version(args),
        "versions": {p: pkg_version(p) for p in
                     ("scikit-learn", "scikit-learn-intelex", "daal", "faiss-cpu", "numpy",
                      "scipy", "threadpoolctl")},
        "python": sys.version.split()[0],
        "threads": args.threads,
        "repeat": args.repeat,
        "quick": args.quick,
        "rss_method": args.rss_method,
        "command": args.command,
    }
    log(f"engines: {' '.join(args.engines)}; {args.repeat} repeat(s), {args.threads} threads"
        f"{', quick sizes (n / 100)' if args.quick else ''}; peak RSS via "
        f"{'GNU time' if args.rss_method == 'time' else 'getrusage'}")

    failures = 0
    warnings: list[str] = []
    busy: list[str] = []
    results: list[tuple[dict, dict]] = []
    try:
        for i, job in enumerate(jobs):
            label = f"{job['group']} | {ENGINE_LABELS[job['engine']]}"
            if "skip" in job:
                results.append((job, {"ok": False, "skip": job["skip"]}))
                continue
            if job["engine"] == "segmint" and "argv" in job:
                log(f"{label}: {shlex.join(job['argv'])}")
            other = busy_cores()
            res = run_job(job, args, f"{i:02d}_{job['engine']}")
            if other is not None:
                res["other_load_cores"] = round(other, 2)
                if other > BUSY_LIMIT:
                    busy.append(f"{label} ({other:.1f})")
            results.append((job, res))
            if res["ok"]:
                rss = f"{res['rss_kib'] / 1024:8.1f} MiB" if "rss_kib" in res else "RSS ?"
                log(f"{label}: median {fmt_t(res['median_s'])} (min {fmt_t(res['min_s'])}, "
                    f"max {fmt_t(res['max_s'])}), {rss}, process {res['wall_s']:.1f} s")
                if "mismatch" in res:
                    warnings.append(f"{label}: segmint's JSON says {res['mismatch']}")
            else:
                failures += 1
                log(f"{label}: FAILED ({res['error']})")
                if res.get("log"):
                    print(res["log"], file=sys.stderr)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        try:
            out_dir.rmdir()
        except OSError:
            pass

    if busy:
        warnings.append(
            "other processes were using CPU before these runs (cores busy, sampled for 0.5 s): "
            + "; ".join(busy) + ". With 2 threads on 2 cores the OpenMP engines (scikit-learn, "
            "faiss) slow down badly when another process takes a core (10–60× was seen in a "
            "smoke run next to a cargo build; sklearnex's TBB was hardly affected): rerun on an "
            "idle machine")
    checks = []
    for text, bad in compare_centres(results):
        if bad:
            warnings.append(text + " (same data and initial centres: expected below 1e-3)")
        else:
            checks.append(text)
            log(text)
    for w in warnings:
        log(f"WARNING: {w}")

    table = render_table(results, args.engines)
    md = render_markdown(meta, table, warnings, checks)
    print()
    print(md)
    Path(args.results).write_text(md)
    log(f"wrote {args.results}")
    if args.raw_json:
        raw = {"meta": meta, "results": [
            {"measurement": j["group"], "engine": j["engine"],
             **{k: v for k, v in j.items() if k in ("argv", "measure", "skip")},
             **{k: v for k, v in r.items() if k not in ("log",)}}
            for j, r in results]}
        Path(args.raw_json).write_text(json.dumps(raw, indent=1, default=str))
        log(f"wrote {args.raw_json}")
    if failures:
        log(f"{failures} engine run(s) failed; see FAILED rows above")
        return 1
    return 0


def md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(results: list[tuple[dict, dict]], engines: list[str]) -> str:
    head = ["measurement", "engine", "median", "min", "max", "peak RSS MiB",
            "ratio vs fastest peer", "notes", "command"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join([":---", ":---"] + ["---:"] * 5 + [":---", ":---"]) + "|"]
    groups: dict[str, list[tuple[dict, dict]]] = {}
    for j, r in results:
        groups.setdefault(j["group"], []).append((j, r))
    for group, rows in groups.items():
        peers = [(r["median_s"], j["engine"]) for j, r in rows if j["engine"] in PEERS and r.get("ok")]
        best = min(peers) if peers else None
        for j, r in rows:
            e = j["engine"]
            command = f"`{r['command']}`" if r.get("command") else (
                f"`{shlex.join(j['argv'])}`" if "argv" in j else "")
            cells = [group, ENGINE_LABELS[e]]
            if r.get("ok"):
                ratio = ""
                if best and r["median_s"] > 0:
                    ratio = f"{best[0] / r['median_s']:.2f} (vs {ENGINE_LABELS[best[1]]})"
                rss = f"{r['rss_kib'] / 1024:,.0f}" if "rss_kib" in r else "?"
                cells += [fmt_t(r["median_s"]), fmt_t(r["min_s"]), fmt_t(r["max_s"]), rss, ratio,
                          md_cell(notes_for(j, r)), command]
            elif "skip" in r:
                note = r["skip"]
                if "extrapolate" in j:
                    src, factor = j["extrapolate"]
                    ref = [rr for jj, rr in results if jj["group"] == src and jj["engine"] == e]
                    if ref and ref[0].get("ok"):
                        note += f"; extrapolated ≈ {fmt_t(ref[0]['median_s'] * factor)}"
                cells += ["–"] * 4 + ["", md_cell(note), ""]
            else:
                err = r.get("error", "failed")
                cells += ["FAILED"] + ["–"] * 3 + ["", md_cell(err[:300]), command]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(meta: dict, table: str, warnings: list[str], checks: list[str]) -> str:
    rss = ("GNU time `%M`" if meta["rss_method"] == "time"
           else "`getrusage(RUSAGE_CHILDREN).ru_maxrss` of a wrapper process per run")
    v = meta["versions"]
    out = [
        "# Clustering: segmint vs scikit-learn vs sklearnex vs faiss",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: `nproc` = {meta['nproc']}, CPU: {meta['cpu']}, memory: {meta['mem']}",
        f"- Versions: {meta['segmint']}; scikit-learn {v['scikit-learn']}; "
        f"scikit-learn-intelex {v['scikit-learn-intelex']} (daal {v['daal']}); "
        f"faiss-cpu {v['faiss-cpu']}; numpy {v['numpy']}; scipy {v['scipy']}; "
        f"threadpoolctl {v['threadpoolctl']}; Python {meta['python']}",
        f"- Every engine limited to {meta['threads']} threads; one process per engine and "
        f"measurement, {meta['repeat']} repeat(s) inside it (Lloyd: see below); algorithm time only, "
        "data loading excluded",
        f"- Peak RSS: {rss}, of that whole process (data and library included)",
        f"- Command: `{meta['command']}`",
    ]
    if meta["quick"]:
        out.append("- **Quick run (`--quick`): every n divided by 100; a smoke test, not a result.**")
    out += [
        "",
        table,
        "",
        "Times are medians over the repeats. Lloyd: segmint reports the median of single "
        f"iterations; each peer repeat is (t(max_iter={LLOYD_ITERS + 1}) − t(max_iter=1)) / "
        f"{LLOYD_ITERS}, from the same initial centres, after one untimed warm-up fit. "
        "*ratio* = median of the fastest peer (scikit-learn, sklearnex, faiss) / median of the "
        "row: above 1 means the row is faster than the fastest peer. The sweeps do different "
        "amounts of work (different initialisations and stopping rules): compare them with "
        "the iteration counts in *notes* (see benches/compare/README.md).",
    ]
    if checks:
        out += ["", "Checks: " + "; ".join(checks) + "."]
    if warnings:
        out += ["", "**Warnings:**", ""] + [f"- {w}" for w in warnings]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd_name", required=True)

    g = sub.add_parser("gen", help="write the data files that are missing")
    g.add_argument("--data", required=True, help="folder for the data files")
    g.add_argument("--scale", type=int, choices=[1, 100], default=1, help="divide every n by this")
    g.add_argument("--seed", type=int, default=DEFAULT_SEED)
    g.add_argument("--threads", type=int, default=2, help="threads for the labelling KMeans")

    b = sub.add_parser("bench", help="run the comparison")
    b.add_argument("--segmint", required=True, help="path of the segmint binary")
    b.add_argument("--segmint-error", default="", help="mark every segmint row failed with this reason")
    b.add_argument("--repo", default=str(THIS.parent.parent.parent), help="repository root")
    b.add_argument("--data", required=True, help="folder with the files made by `gen`")
    b.add_argument("--quick", action="store_true", help="the data was made with --scale 100")
    b.add_argument("--engines", nargs="+", default=["segmint", *PEERS], choices=list(ENGINE_LABELS))
    b.add_argument("--repeat", type=int, default=3)
    b.add_argument("--measures", nargs="+", default=["lloyd", "gmm", "sweep", "silhouette"],
                   choices=["lloyd", "gmm", "sweep", "silhouette"])
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--out-dir", required=True, help="scratch folder for reports and logs")
    b.add_argument("--rss-method", choices=["time", "rusage"], default="time")
    b.add_argument("--results", required=True, help="Markdown file to write")
    b.add_argument("--raw-json", help="JSON file with every run")
    b.add_argument("--command", default="", help="command line to quote in the results")

    w = sub.add_parser("worker", help="run one peer measurement")
    w.add_argument("engine", choices=list(PEERS))
    w.add_argument("measure", choices=["lloyd", "gmm", "sweep", "silhouette"])
    w.add_argument("--points", required=True, help=".npy file, float32 n x d")
    w.add_argument("--init", help="lloyd: .npy file with the initial centres")
    w.add_argument("--labels", help="silhouette: .npy file with one label per point")
    w.add_argument("--threads", type=int, default=2)
    w.add_argument("--repeat", type=int, default=3)
    w.add_argument("--report", required=True)

    m = sub.add_parser("measure", help="run a command, report wall time and peak RSS")
    m.add_argument("--report", required=True)
    m.add_argument("cmd", nargs=argparse.REMAINDER)

    args = ap.parse_args(argv)
    if args.cmd_name == "gen":
        return cmd_gen(args)
    if args.cmd_name == "bench":
        if args.repeat < 1 or args.threads < 1:
            ap.error("--repeat and --threads must be at least 1")
        return cmd_bench(args)
    if args.cmd_name == "worker":
        if args.measure in ("lloyd", "gmm") and not args.init:
            ap.error(f"{args.measure} needs --init")
        if args.measure == "silhouette" and not args.labels:
            ap.error("silhouette needs --labels")
        return cmd_worker(args)
    return cmd_measure(args)


if __name__ == "__main__":
    sys.exit(main())
