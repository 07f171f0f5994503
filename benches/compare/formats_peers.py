#!/usr/bin/env python3
"""Peers and helpers for the input-format benchmark (benches/compare/formats.sh).

Sub-commands (each runs in its own process; formats.sh times whole processes):

  sweep FILE --kmin 2 --kmax 10 --impl sklearn|sklearnex
        Read a feature CSV or Parquet (user_id plus numeric columns) with
        Polars, z-score every numeric column (population std, as segmint's
        default --scale zscore), and fit KMeans(n_clusters=k, n_init=1,
        init="k-means++", random_state=SEED, max_iter=300, tol=1e-4) for
        every k in [kmin, kmax], scikit-learn's or scikit-learn-intelex's.
        No silhouette. Prints one JSON line on stdout: per-k iterations and
        inertia, import_s, load_s, fit_s, and seconds = load_s + fit_s.
  make-blobs N D OUT --overlap easy|hard
        N points in D dimensions from 6 Gaussian blobs, as a feature CSV
        user_id,f0,..,f{D-1} (6 decimals). easy: well-separated centres
        (every pair at least 8 spreads apart); hard: centres about 1.5
        spreads apart, overlapping. Fixed seed; skipped when OUT exists and
        was made with the same parameters (OUT.json).
  resample IN.csv N OUT.csv
        N rows drawn with replacement (fixed seed) from a feature table made
        by `segmint features`, every column kept, user ids renamed
        u0000000.. so they are unique: a feature table of any size with the
        joint distribution of a generated log's users (`segmint generate`'s
        skew would need billions of rows to give 6M active users).
  parquet IN.csv OUT.parquet
        DuckDB COPY (SELECT * FROM read_csv(IN)) TO OUT (FORMAT parquet,
        COMPRESSION zstd). A transaction log's created_at becomes TIMESTAMP,
        total_price DOUBLE, the id/channel/status columns VARCHAR; other
        columns (a feature table's) are typed by DuckDB's detection.
  duckdb-features LOG.parquet [OUT.csv]
        DuckDB read_parquet(LOG) GROUP BY user_id: the per-user columns of
        compare.py's DuckDB engine (count, sum, max time, distinct days,
        distinct channels, success rate) plus min time, written as CSV (to a
        temporary file, deleted, when OUT is not given).
  compare-scores A.csv B.csv
        How far two score files (user_id, segment, distance) agree: users in
        both, same segment, largest distance difference. Exit 1 when the
        user sets differ or fewer than 99.9% of the segments agree.
  race --repeat N [--warm FILE]... NAME=COMMAND ...
        Run each bash COMMAND N times, alternating (round-robin), and print
        median / min / max wall seconds and the ratio of each to the first;
        appends the table to --results. "vs first" is a command's median over
        the first command's (above 1: slower than the first). "in-process s"
        is the median of the `seconds` a command reports itself as JSON on
        stdout (segmint --format json: reading + work; the sweep peers:
        reading + fits, after process start and imports).
        A failing command is marked FAILED
        (with its output's last lines) and the others go on; exit 1 then.

Threads come from --threads (default: $THREADS or 2): Polars via
POLARS_MAX_THREADS, BLAS/OpenMP via threadpoolctl, oneDAL via daal4py.daalinit,
DuckDB via SET threads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare import SUCCESS_STATUSES, sql_string  # noqa: E402  (stdlib-only module)

SEED = 0  # segmint sweep --seed 0 (its default)
BLOB_SEED = 42
BLOBS = 6
GEN_VERSION = 1


def default_threads() -> int:
    return int(os.environ.get("THREADS", "2"))


def log(msg: str) -> None:
    print(f"[formats] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# sweep: scikit-learn / sklearnex K-Means over a range of K
# --------------------------------------------------------------------------


def cmd_sweep(args) -> int:
    t0 = time.perf_counter()
    os.environ.setdefault("POLARS_MAX_THREADS", str(args.threads))
    import numpy as np
    import polars as pl
    from threadpoolctl import threadpool_limits

    if args.impl == "sklearnex":
        import daal4py

        # oneDAL threads through TBB, which threadpoolctl does not reach.
        daal4py.daalinit(args.threads)
        from sklearnex.cluster import KMeans
    else:
        from sklearn.cluster import KMeans
    imported = time.perf_counter()
    df = pl.read_parquet(args.file) if args.file.endswith(".parquet") else pl.read_csv(args.file)
    key = "user_id" if "user_id" in df.columns else df.columns[0]
    cols = [c for c in df.columns if c != key and df[c].dtype.is_numeric()]
    x = df.select(cols).to_numpy().astype(np.float64)
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    loaded = time.perf_counter()
    per_k = []
    with threadpool_limits(limits=args.threads):
        for k in range(args.kmin, args.kmax + 1):
            km = KMeans(n_clusters=k, n_init=1, init="k-means++", random_state=SEED,
                        max_iter=300, tol=1e-4).fit(x)
            per_k.append({"k": k, "n_iter": int(km.n_iter_), "inertia": float(km.inertia_)})
    done = time.perf_counter()
    print(json.dumps({"impl": args.impl, "n": x.shape[0], "d": x.shape[1],
                      "import_s": imported - t0, "load_s": loaded - imported,
                      "fit_s": done - loaded, "seconds": done - imported, "results": per_k}))
    return 0


# --------------------------------------------------------------------------
# make-blobs
# --------------------------------------------------------------------------


def cmd_make_blobs(args) -> int:
    out = Path(args.out)
    meta = out.with_name(out.name + ".json")
    want = {"n": args.n, "d": args.d, "overlap": args.overlap, "seed": BLOB_SEED,
            "blobs": BLOBS, "gen_version": GEN_VERSION}
    try:
        if out.is_file() and json.loads(meta.read_text()) == want:
            log(f"data: reusing {out.name}")
            return 0
    except (OSError, ValueError):
        pass
    import numpy as np
    import polars as pl

    t0 = time.perf_counter()
    rng = np.random.default_rng([BLOB_SEED, args.n, args.d, 0 if args.overlap == "easy" else 1])
    spread = 1.0
    if args.overlap == "easy":
        # rejection: every pair of centres at least 8 spreads apart
        centres = []
        while len(centres) < BLOBS:
            c = rng.uniform(-12.0, 12.0, size=args.d)
            if all(np.linalg.norm(c - o) >= 8.0 * spread for o in centres):
                centres.append(c)
        centres = np.array(centres)
        spreads = rng.uniform(0.6, 1.0, size=BLOBS) * spread
    else:
        centres = rng.normal(0.0, 1.5 * spread, size=(BLOBS, args.d))
        spreads = rng.uniform(0.8, 1.4, size=BLOBS) * spread
    counts = rng.multinomial(args.n, rng.dirichlet(np.full(BLOBS, 4.0)))
    x = np.empty((args.n, args.d))
    at = 0
    for c, m in enumerate(counts):
        x[at:at + m] = centres[c] + spreads[c] * rng.standard_normal((m, args.d))
        at += m
    x = np.round(x[rng.permutation(args.n)], 6)
    width = max(7, len(str(args.n - 1)))
    df = pl.DataFrame({"user_id": [f"u{i:0{width}d}" for i in range(args.n)]})
    df = df.with_columns([pl.Series(f"f{j}", x[:, j]) for j in range(args.d)])
    tmp = out.with_name(out.name + ".partial")
    df.write_csv(tmp, float_precision=6)
    tmp.replace(out)
    meta.write_text(json.dumps(want) + "\n")
    log(f"data: wrote {out.name} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_resample(args) -> int:
    import numpy as np
    import polars as pl

    t0 = time.perf_counter()
    src = pl.read_csv(args.input, infer_schema_length=0)  # every column as text: written back as read
    rng = np.random.default_rng([BLOB_SEED, args.n])
    picked = src[rng.integers(0, src.height, size=args.n)]
    width = max(7, len(str(args.n - 1)))
    key = "user_id" if "user_id" in src.columns else src.columns[0]
    ids = pl.Series(key, [f"u{i:0{width}d}" for i in range(args.n)])
    out = Path(args.output)
    tmp = out.with_name(out.name + ".partial")
    picked.with_columns(ids).write_csv(tmp)
    tmp.replace(out)
    log(f"data: wrote {out.name} ({args.n:,} users drawn from {src.height:,}; "
        f"{out.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.1f} s")
    return 0


# --------------------------------------------------------------------------
# DuckDB: CSV -> Parquet, and the GROUP BY on Parquet
# --------------------------------------------------------------------------

LOG_TYPES = {
    "transaction_id": "VARCHAR",
    "user_id": "VARCHAR",
    "peer_id": "VARCHAR",
    "created_at": "TIMESTAMP",
    "channel": "VARCHAR",
    "status": "VARCHAR",
    "total_price": "DOUBLE",
}


def cmd_parquet(args) -> int:
    import duckdb

    with open(args.input, newline="") as f:
        header = f.readline().strip().split(",")
    types = {c: LOG_TYPES[c] for c in header if c in LOG_TYPES}
    if "created_at" not in header:
        types = {c: t for c, t in types.items() if c == "user_id"}  # a feature table: detect the rest
    spec = "{" + ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in types.items()) + "}"
    out = Path(args.output)
    tmp = out.with_name(out.name + ".partial")
    t0 = time.perf_counter()
    con = duckdb.connect(":memory:")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    con.execute(f"""
        COPY (SELECT * FROM read_csv({sql_string(str(args.input))}, header = true, delim = ',',
                                     types = {spec}))
        TO {sql_string(str(tmp))} (FORMAT parquet, COMPRESSION zstd)
    """)
    con.close()
    tmp.replace(out)
    log(f"data: wrote {out.name} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_duckdb_features(args) -> int:
    import duckdb

    out = args.output
    scratch = None
    if out is None:
        scratch = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
        scratch.close()
        out = scratch.name
    try:
        con = duckdb.connect(":memory:")
        con.execute(f"SET threads = {int(args.threads)}")
        success = ", ".join(sql_string(s) for s in SUCCESS_STATUSES)
        # compare.py's DuckDB query (run_duckdb), on read_parquet, plus first_seen.
        con.execute(f"""
            COPY (
                SELECT
                    user_id,
                    count(*)                                        AS frequency,
                    sum(total_price)                                AS monetary,
                    min(created_at)                                 AS first_seen,
                    max(created_at)                                 AS last_seen,
                    count(DISTINCT CAST(created_at AS DATE))        AS active_days,
                    count(DISTINCT channel)                         AS channel_diversity,
                    avg(CASE WHEN status IN ({success}) THEN 1.0 ELSE 0.0 END)
                                                                    AS success_rate
                FROM read_parquet({sql_string(str(args.input))})
                GROUP BY user_id
            ) TO {sql_string(str(out))} (FORMAT csv, HEADER true, DELIMITER ',')
        """)
        con.close()
    finally:
        if scratch is not None:
            os.unlink(scratch.name)
    return 0


# --------------------------------------------------------------------------
# compare-scores
# --------------------------------------------------------------------------


def cmd_compare_scores(args) -> int:
    import polars as pl

    def load(p):
        return pl.read_csv(p, columns=["user_id", "segment", "distance"],
                           schema_overrides={"user_id": pl.String, "segment": pl.Int64, "distance": pl.Float64})

    a, b = load(args.a), load(args.b)
    j = a.join(b, on="user_id", how="inner", suffix="_b")
    same = int((j["segment"] == j["segment_b"]).sum())
    diff = (j["distance"] - j["distance_b"]).abs()
    rel = diff / j["distance"].abs().clip(lower_bound=1e-12)
    report = {"a_users": a.height, "b_users": b.height, "common": j.height, "same_segment": same,
              "agreement": same / max(j.height, 1),
              "max_abs_distance_diff": float(diff.max() or 0.0),
              "max_rel_distance_diff_same_segment": float(rel.filter(j["segment"] == j["segment_b"]).max() or 0.0)}
    print(json.dumps(report))
    ok = a.height == b.height == j.height and report["agreement"] >= 0.999
    return 0 if ok else 1


# --------------------------------------------------------------------------
# race: alternating timed runs of shell commands
# --------------------------------------------------------------------------


def tail_text(text: str, lines: int = 12) -> str:
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def warm(path: str) -> None:
    try:
        with open(path, "rb", buffering=0) as f:
            buf = bytearray(8 << 20)
            while f.readinto(buf):
                pass
    except OSError as e:
        log(f"warning: cannot warm {path}: {e}")


def reported_seconds(stdout: str):
    """The in-process seconds a command reports in JSON on stdout, if any:
    `seconds`: segmint --format json's (reading + clustering) and
    formats_peers.py sweep's (reading + fits, after the imports)."""
    text = stdout.strip()
    for candidate in (text, text.splitlines()[-1] if text else ""):
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(obj, dict):
            for key in ("seconds",):
                if isinstance(obj.get(key), (int, float)):
                    return float(obj[key])
    return None


def fmt(x):
    return "–" if x is None else (f"{x:.2f}" if x >= 1 else f"{x:.3f}")


def cmd_race(args) -> int:
    entries = []
    for spec in args.commands:
        name, sep, cmd = spec.partition("=")
        if not sep or not name or not cmd:
            log(f"error: expected NAME=COMMAND, got {spec!r}")
            return 2
        entries.append((name, cmd))
    for w in args.warm:
        warm(w)
    times = {n: [] for n, _ in entries}
    inner = {n: [] for n, _ in entries}
    failed = {}
    for r in range(args.repeat):
        for name, cmd in entries:
            if name in failed:
                continue
            t0 = time.perf_counter()
            p = subprocess.run(["bash", "-c", cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                failed[name] = f"exit status {p.returncode}\n{tail_text(p.stdout + p.stderr)}"
                log(f"{args.title} run {r + 1}/{args.repeat} {name}: FAILED ({failed[name]})")
                continue
            times[name].append(wall)
            own = reported_seconds(p.stdout)
            if own is not None:
                inner[name].append(own)
            log(f"{args.title} run {r + 1}/{args.repeat} {name:<28} {wall:8.3f} s"
                + (f"  (in-process {own:.3f} s)" if own is not None else ""))
    base_name = entries[0][0]
    base = statistics.median(times[base_name]) if times[base_name] and base_name not in failed else None
    lines = [f"### {args.title}", ""]
    if args.note:
        lines += [args.note, ""]
    lines += ["| command | median s | min / max s | runs | vs first | in-process s |",
              "| :--- | ---: | ---: | ---: | ---: | ---: |"]
    for name, _ in entries:
        cell = name.replace("|", "\\|")  # a pipe in a Markdown table cell
        if name in failed:
            lines.append(f"| {cell} | FAILED | | | | |")
            continue
        t = times[name]
        med = statistics.median(t)
        ratio = f"{med / base:.2f}×" if base else ""
        own = fmt(statistics.median(inner[name])) if inner[name] else ""
        lines.append(f"| {cell} | {fmt(med)} | {fmt(min(t))} / {fmt(max(t))} | {len(t)} | {ratio} | {own} |")
    shown = (lambda c: c.replace(args.root.rstrip("/") + "/", "")) if args.root else (lambda c: c)
    lines += ["", "Commands (paths relative to the repository root):" if args.root else "Commands:", ""]
    lines += [f"- {name}: `{shown(cmd)}`" for name, cmd in entries] + [""]
    table = "\n".join(lines)
    print(table, flush=True)
    if args.results:
        with open(args.results, "a") as f:
            f.write(table + "\n")
    return 1 if failed else 0


# --------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("sweep")
    s.add_argument("file")
    s.add_argument("--kmin", type=int, default=2)
    s.add_argument("--kmax", type=int, default=10)
    s.add_argument("--impl", choices=["sklearn", "sklearnex"], default="sklearn")
    s.add_argument("--threads", type=int, default=default_threads())
    s.set_defaults(fn=cmd_sweep)

    b = sub.add_parser("make-blobs")
    b.add_argument("n", type=int)
    b.add_argument("d", type=int)
    b.add_argument("out")
    b.add_argument("--overlap", choices=["easy", "hard"], default="easy")
    b.set_defaults(fn=cmd_make_blobs)

    rs = sub.add_parser("resample")
    rs.add_argument("input")
    rs.add_argument("n", type=int)
    rs.add_argument("output")
    rs.set_defaults(fn=cmd_resample)

    p = sub.add_parser("parquet")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: all cores)")
    p.set_defaults(fn=cmd_parquet)

    d = sub.add_parser("duckdb-features")
    d.add_argument("input")
    d.add_argument("output", nargs="?")
    d.add_argument("--threads", type=int, default=default_threads())
    d.set_defaults(fn=cmd_duckdb_features)

    c = sub.add_parser("compare-scores")
    c.add_argument("a")
    c.add_argument("b")
    c.set_defaults(fn=cmd_compare_scores)

    r = sub.add_parser("race")
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--title", default="race")
    r.add_argument("--note", default="")
    r.add_argument("--warm", action="append", default=[])
    r.add_argument("--results", help="append the Markdown table to this file")
    r.add_argument("--root", help="shown relative to this folder in the table's command list")
    r.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    r.set_defaults(fn=cmd_race)

    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
