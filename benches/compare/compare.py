#!/usr/bin/env python3
"""Comparison benchmark driver: segmint vs DuckDB vs Polars.

Normally started by benches/compare/run.sh, which prepares the venv, the
segmint binary and the data files. Three sub-commands:

  bench    time every engine on every data file, print and save a table
  worker   run one DuckDB or Polars aggregation (one process per timed run)
  measure  run a command and report its wall time and peak RSS through
           getrusage(RUSAGE_CHILDREN); used when GNU time is missing

Only the standard library is imported here at module level, so that the
`bench` process stays small and the engines are imported only by workers.
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

# Statuses counted as successes, as in segmint's default --success-status.
SUCCESS_STATUSES = ("delivered", "read", "opened", "clicked")

# The peers aggregate these columns per user (segmint computes ~20).
PEER_COLUMNS = (
    "frequency",
    "monetary",
    "last_seen",
    "active_days",
    "channel_diversity",
    "success_rate",
)

ENGINE_LABELS = {
    "segmint": "segmint",
    "segmint-nommap": "segmint (--no-mmap)",
    "duckdb": "DuckDB",
    "polars": "Polars",
}
PEERS = ("duckdb", "polars")


def log(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# worker: one aggregation in this process
# --------------------------------------------------------------------------


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run_duckdb(inp: str, out: str, threads: int) -> dict:
    import duckdb

    imported = time.perf_counter()
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads)}")
    seen = con.execute("SELECT current_setting('threads')").fetchone()[0]
    columns = (
        "{'transaction_id': 'VARCHAR', 'user_id': 'VARCHAR', "
        "'created_at': 'TIMESTAMP', 'channel': 'VARCHAR', "
        "'status': 'VARCHAR', 'total_price': 'DOUBLE'}"
    )
    success = ", ".join(sql_string(s) for s in SUCCESS_STATUSES)
    con.execute(
        f"""
        COPY (
            SELECT
                user_id,
                count(*)                                        AS frequency,
                sum(total_price)                                AS monetary,
                max(created_at)                                 AS last_seen,
                count(DISTINCT CAST(created_at AS DATE))        AS active_days,
                count(DISTINCT channel)                         AS channel_diversity,
                avg(CASE WHEN status IN ({success}) THEN 1.0 ELSE 0.0 END)
                                                                AS success_rate
            FROM read_csv({sql_string(inp)}, header = true, delim = ',',
                          columns = {columns})
            GROUP BY user_id
        ) TO {sql_string(out)} (FORMAT csv, HEADER true, DELIMITER ',')
        """
    )
    con.close()
    return {"imported": imported, "threads_seen": int(seen), "version": duckdb.__version__}


def run_polars(inp: str, out: str, threads: int) -> dict:
    # POLARS_MAX_THREADS must be set before the import; the bench sets it in
    # the worker's environment, and we check here that it took effect.
    import polars as pl

    imported = time.perf_counter()
    schema = {
        "transaction_id": pl.String,
        "user_id": pl.String,
        "created_at": pl.Datetime("us"),
        "channel": pl.String,
        "status": pl.String,
        "total_price": pl.Float64,
    }
    (
        pl.scan_csv(inp, schema=schema)
        .group_by("user_id")
        .agg(
            pl.len().alias("frequency"),
            pl.col("total_price").sum().alias("monetary"),
            pl.col("created_at").max().alias("last_seen"),
            pl.col("created_at").dt.date().n_unique().alias("active_days"),
            pl.col("channel").n_unique().alias("channel_diversity"),
            pl.col("status").is_in(SUCCESS_STATUSES).mean().alias("success_rate"),
        )
        .sink_csv(out)
    )
    return {"imported": imported, "threads_seen": pl.thread_pool_size(), "version": pl.__version__}


def cmd_worker(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    runner = {"duckdb": run_duckdb, "polars": run_polars}[args.engine]
    info = runner(args.input, args.output, args.threads)
    done = time.perf_counter()
    if info["threads_seen"] != args.threads:
        print(
            f"{args.engine}: expected {args.threads} threads, engine reports "
            f"{info['threads_seen']}",
            file=sys.stderr,
        )
        return 3
    report = {
        "import_s": info["imported"] - start,
        "query_s": done - info["imported"],
        "threads": info["threads_seen"],
        "version": info["version"],
    }
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


def count_rows(path: Path) -> int:
    """Data rows of a CSV with a header line (no quoted newlines expected)."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def warm_cache(path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(8 << 20)
        while f.readinto(buf):
            pass
    return time.perf_counter() - t0


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def engine_command(engine: str, args, inp: Path, out: Path, report: Path) -> list[str]:
    if engine in ("segmint", "segmint-nommap"):
        cmd = [args.segmint, "--threads", str(args.threads), "--quiet", "features", str(inp), "-o", str(out)]
        if engine == "segmint-nommap":
            cmd.append("--no-mmap")
        return cmd
    return [
        sys.executable, str(THIS), "worker", engine,
        "--threads", str(args.threads), "--report", str(report), str(inp), str(out),
    ]


def run_once(engine: str, args, inp: Path, tag: str) -> dict:
    out_dir = Path(args.out_dir)
    out = out_dir / f"{tag}.csv"
    report = out_dir / f"{tag}.report.json"
    timing = out_dir / f"{tag}.time"
    logf = out_dir / f"{tag}.log"
    remove(out, report, timing, logf)

    env = dict(os.environ)
    threads = str(args.threads)
    env.update(POLARS_MAX_THREADS=threads, RAYON_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
    cmd = engine_command(engine, args, inp, out, report)
    if args.rss_method == "time":
        full = ["/usr/bin/time", "-f", "%e %M", "-o", str(timing), *cmd]
    else:
        full = [sys.executable, str(THIS), "measure", "--report", str(timing), "--", *cmd]

    result: dict = {"engine": engine, "ok": False}
    try:
        with open(logf, "wb") as lf:
            t0 = time.perf_counter()
            rc = subprocess.call(full, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=env, cwd=out_dir)
            wall = time.perf_counter() - t0
        result["rc"] = rc
        if args.rss_method == "time":
            fields = timing.read_text().strip().splitlines()[-1].split()
            result["rss_kib"] = int(fields[1])
            result["wall_s"] = wall
        else:
            measured = json.loads(timing.read_text())
            result["rss_kib"] = int(measured["rss_kib"])
            result["wall_s"] = float(measured["wall_s"])
        if rc != 0:
            result["error"] = f"exit status {rc}\n{tail(logf)}"
            return result
        if not out.exists():
            result["error"] = f"no output file {out}\n{tail(logf)}"
            return result
        result["out_rows"] = count_rows(out)
        if report.exists():
            result.update({k: v for k, v in json.loads(report.read_text()).items() if k in ("import_s", "query_s")})
        result["ok"] = True
        return result
    except (OSError, ValueError, IndexError, KeyError) as e:
        result["error"] = f"{type(e).__name__}: {e}\n{tail(logf)}"
        return result
    finally:
        remove(out, report, timing, logf)


def fmt_s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def summarize(runs: list[dict]) -> dict | None:
    ok = [r for r in runs if r["ok"]]
    if not ok or len(ok) != len(runs):
        return None
    walls = [r["wall_s"] for r in ok]
    queries = [r["query_s"] for r in ok if "query_s" in r]
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "rss_mib": max(r["rss_kib"] for r in ok) / 1024,
        "query_median_s": statistics.median(queries) if queries else None,
        "out_rows": sorted({r["out_rows"] for r in ok}),
    }


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
    version = capture([args.segmint, "--version"]) or "segmint ?"
    commit = capture(["git", "rev-parse", "--short", "HEAD"], cwd=args.repo)
    if commit:
        dirty = capture(["git", "status", "--porcelain", "--untracked-files=no"], cwd=args.repo)
        version += f" (git {commit}{', uncommitted changes' if dirty else ''})"
    return version


def cmd_bench(args: argparse.Namespace) -> int:
    # Engines run with the scratch folder as their working directory (DuckDB
    # may spill there), so every path handed to them must be absolute.
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    args.out_dir = str(out_dir)
    if os.sep in args.segmint:
        args.segmint = str(Path(args.segmint).resolve())
    sets = []
    for spec in args.set:
        rows, users, path = spec.split(":", 2)
        p = Path(path).resolve()
        if not p.is_file():
            log(f"error: data file {p} not found")
            return 2
        sets.append({"rows": int(rows), "users": int(users), "path": p, "bytes": p.stat().st_size})

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
        "duckdb": pkg_version("duckdb"),
        "polars": pkg_version("polars"),
        "python": sys.version.split()[0],
        "threads": args.threads,
        "repeat": args.repeat,
        "rss_method": args.rss_method,
        "command": args.command,
    }
    log(f"engines: {' '.join(args.engines)}; {args.repeat} run(s) each, {args.threads} threads; "
        f"peak RSS via {'GNU time' if args.rss_method == 'time' else 'getrusage'}")

    failures = 0
    warnings: list[str] = []
    all_results = []
    try:
        for s in sets:
            name = s["path"].name
            log(f"{name}: {s['bytes'] / 1e9:.3f} GB; warming the page cache "
                f"({warm_cache(s['path']):.1f} s)")
            runs: dict[str, list[dict]] = {e: [] for e in args.engines}
            failed: set[str] = set()
            # Round-robin over engines so that drift (thermal, other load)
            # spreads over all of them rather than hitting one.
            for i in range(args.repeat):
                for engine in args.engines:
                    if engine in failed:
                        continue
                    r = run_once(engine, args, s["path"], f"{engine}_{s['rows']}_{i}")
                    runs[engine].append(r)
                    if r["ok"]:
                        extra = f", in-process {r['query_s']:.3f} s" if "query_s" in r else ""
                        log(f"{name} run {i + 1}/{args.repeat} {engine:<14} {r['wall_s']:8.3f} s "
                            f"{r['rss_kib'] / 1024:9.1f} MiB  {r['out_rows']} users{extra}")
                    else:
                        failures += 1
                        failed.add(engine)
                        log(f"{name} run {i + 1}/{args.repeat} {engine}: FAILED ({r['error']})")

            summary = {e: summarize(rs) for e, rs in runs.items()}
            counts = {e: sm["out_rows"] for e, sm in summary.items() if sm}
            for e, c in counts.items():
                if len(c) > 1:
                    warnings.append(f"{name}: {e} gave different row counts across runs: {c}")
            distinct = {tuple(c) for c in counts.values()}
            if len(distinct) > 1:
                detail = ", ".join(f"{e}={c[0] if len(c) == 1 else c}" for e, c in counts.items())
                warnings.append(f"{name}: output row counts differ between engines: {detail}")
            all_results.append({"set": s, "runs": runs, "summary": summary})
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        try:
            out_dir.rmdir()
        except OSError:
            pass

    for w in warnings:
        log(f"WARNING: {w}")

    table = render_table(all_results, args.engines)
    md = render_markdown(meta, table, warnings)
    print()
    print(table)
    Path(args.results).write_text(md)
    log(f"wrote {args.results}")
    if args.raw_json:
        raw = {"meta": meta, "results": [
            {"rows": r["set"]["rows"], "users": r["set"]["users"], "file": r["set"]["path"].name,
             "bytes": r["set"]["bytes"], "runs": r["runs"], "summary": r["summary"]}
            for r in all_results]}
        Path(args.raw_json).write_text(json.dumps(raw, indent=1))
        log(f"wrote {args.raw_json}")
    if failures:
        log(f"{failures} engine run(s) failed; see FAILED rows above")
        return 1
    return 0


def render_table(all_results: list[dict], engines: list[str]) -> str:
    head = ["rows", "users", "file GB", "engine", "median s", "min / max s",
            "in-process s", "peak RSS MiB", "output rows", "ratio"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---:"] * 3 + [":---"] + ["---:"] * 6) + "|"]
    for res in all_results:
        s, summary = res["set"], res["summary"]
        peers = [(summary[e]["median_s"], e) for e in PEERS if summary.get(e)]
        best_peer = min(peers) if peers else None
        for e in engines:
            sm = summary[e]
            cells = [f"{s['rows']:,}", f"{s['users']:,}", f"{s['bytes'] / 1e9:.3f}", ENGINE_LABELS[e]]
            if sm is None:
                cells += ["FAILED"] + [""] * 5
            else:
                ratio = ""
                if e.startswith("segmint") and best_peer and sm["median_s"] > 0:
                    ratio = f"{best_peer[0] / sm['median_s']:.2f} (vs {ENGINE_LABELS[best_peer[1]]})"
                rows_cell = "/".join(f"{c:,}" for c in sm["out_rows"])
                cells += [fmt_s(sm["median_s"]), f"{fmt_s(sm['min_s'])} / {fmt_s(sm['max_s'])}",
                          fmt_s(sm["query_median_s"]), f"{sm['rss_mib']:,.0f}", rows_cell, ratio]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(meta: dict, table: str, warnings: list[str]) -> str:
    rss = ("GNU time `%M`" if meta["rss_method"] == "time"
           else "`getrusage(RUSAGE_CHILDREN).ru_maxrss` of a wrapper process per run")
    out = [
        "# segmint vs DuckDB vs Polars",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: `nproc` = {meta['nproc']}, CPU: {meta['cpu']}, memory: {meta['mem']}",
        f"- Versions: {meta['segmint']}; duckdb {meta['duckdb']}; polars {meta['polars']}; "
        f"Python {meta['python']}",
        f"- Every engine limited to {meta['threads']} threads; {meta['repeat']} run(s) per engine "
        "and file, each in its own process, engines interleaved, page cache warm",
        f"- Peak RSS: {rss}, maximum over the runs",
        f"- Command: `{meta['command']}`",
        "",
        table,
        "",
        "Wall time is that of the whole process (for DuckDB and Polars this includes starting "
        "Python and importing the library; *in-process s* is the median time of the query alone). "
        "*ratio* = median of the faster of DuckDB and Polars / median of segmint: above 1 means "
        "segmint is faster. segmint computes ~20 columns per user, the peers 6 "
        "(see benches/compare/README.md).",
    ]
    if warnings:
        out += ["", "**Warnings:**", ""] + [f"- {w}" for w in warnings]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd_name", required=True)

    b = sub.add_parser("bench", help="run the comparison")
    b.add_argument("--segmint", required=True, help="path of the segmint binary")
    b.add_argument("--repo", default=str(THIS.parent.parent.parent), help="repository root (for git info)")
    b.add_argument("--set", action="append", required=True, metavar="ROWS:USERS:FILE")
    b.add_argument("--engines", nargs="+", default=["segmint", "duckdb", "polars"],
                   choices=list(ENGINE_LABELS))
    b.add_argument("--repeat", type=int, default=3)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--out-dir", required=True, help="scratch folder for engine outputs")
    b.add_argument("--rss-method", choices=["time", "rusage"], default="time")
    b.add_argument("--results", required=True, help="Markdown file to write")
    b.add_argument("--raw-json", help="JSON file with every run")
    b.add_argument("--command", default="", help="command line to quote in the results")

    w = sub.add_parser("worker", help="run one DuckDB or Polars aggregation")
    w.add_argument("engine", choices=list(PEERS))
    w.add_argument("input")
    w.add_argument("output")
    w.add_argument("--threads", type=int, default=2)
    w.add_argument("--report", required=True)

    m = sub.add_parser("measure", help="run a command, report wall time and peak RSS")
    m.add_argument("--report", required=True)
    m.add_argument("cmd", nargs=argparse.REMAINDER)

    args = ap.parse_args(argv)
    if args.cmd_name == "bench":
        if args.repeat < 1 or args.threads < 1:
            ap.error("--repeat and --threads must be at least 1")
        return cmd_bench(args)
    if args.cmd_name == "worker":
        return cmd_worker(args)
    return cmd_measure(args)


if __name__ == "__main__":
    sys.exit(main())
