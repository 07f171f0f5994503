#!/usr/bin/env python3
"""segmint's side of benches/compare/spark.sh: the same jobs as
spark_peers.py, with segmint as the Spark stage (tests/spark/segmint_spark.py,
the README recipe's helper). Spark in local mode in this process; every
sub-command prints ONE JSON line on stdout.

  kmeans --table T.parquet --init INIT.csv --partitions P --iters N
        One distributed Lloyd iteration (``lloyd-step`` on every partition
        of the cached f0..f7 table through mapInArrow, ``lloyd-merge`` on
        the driver) from the same centres as MLlib's run, unscaled
        (``--scale none``, as MLlib clusters). The first pass (the rescale)
        leaves each partition's features in a file on its executor, which
        the next steps read (segmint_spark.lloyd_steps), as MLlib's cached
        vectors stay in the JVM. Per iteration: the median of N - 1 timed
        iterations after an untimed first one.
  features --log LOG.parquet [--as-of ISO] --partitions P
        ``segmint features`` per partition of the log repartitioned by user,
        written as Parquet: the whole job (read, the log's first and last
        times and channels, repartition, features, write), median of
        --repeat, as spark_peers.py times Spark SQL's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "tests" / "spark"))
import segmint_spark  # noqa: E402
from spark_peers import FEATURES, log, read_init, session  # noqa: E402


def cmd_kmeans(args) -> int:
    spark, startup_s = session(args.cores, args.partitions)
    work = Path(tempfile.mkdtemp(prefix="segmint-spark-kmeans-"))
    try:
        init = read_init(args.init)
        k = len(init)
        # The template: K-Means on the first rows, unscaled, K = len(init);
        # lloyd-merge --rescale keeps the identity scale and takes INIT.
        sample = work / "sample.parquet"
        spark.read.parquet(args.table).limit(20000).toPandas().to_parquet(sample)
        template = work / "template.json"
        subprocess.run(
            [args.segmint, "fit", "--features-input", str(sample), "--features", ",".join(FEATURES),
             "--scale", "none", "--k", str(k), "--model", str(template), "-o", str(work / "s.csv"), "-q"],
            check=True,
        )
        init_csv = work / "init.csv"
        init_csv.write_text(",".join(FEATURES) + "\n" + "\n".join(",".join(repr(v) for v in r) for r in init) + "\n")
        t0 = time.perf_counter()
        points = spark.read.parquet(args.table).select("user_id", *FEATURES).repartition(args.partitions).cache()
        rows = points.count()
        load_s = time.perf_counter() - t0
        log(f"{rows} rows cached in {args.partitions} partitions in {load_s:.1f} s")

        cache = f"bench-{os.getpid()}"

        def step(model, name, extra, drop=False):
            steps = []
            for i, result in enumerate(segmint_spark.lloyd_steps(points, args.segmint, str(model), cache, drop)):
                path = work / f"{name}-{i}.json"
                path.write_text(json.dumps(result))
                steps.append(str(path))
            out = work / f"{name}.json"
            summary = subprocess.run(
                [args.segmint, "lloyd-merge", *steps, "--model", str(model), "-o", str(out), "--format", "json", *extra],
                check=True, capture_output=True, text=True,
            )
            return out, json.loads(summary.stdout)

        model, _ = step(template, "rescaled", ["--rescale", "--init", str(init_csv)])
        times, inertia = [], []
        for i in range(args.iters):
            t = time.perf_counter()
            model, summary = step(model, f"iter{i}", [])
            if i > 0:  # the first also warms the workers up
                times.append(time.perf_counter() - t)
            inertia.append(summary["inertia"])
        step(model, "finish", ["--finish"], drop=True)  # removes the executors' files
        per_iter = statistics.median(times)
        print(json.dumps({
            "tool": "segmint lloyd-step + lloyd-merge (Spark mapInArrow)",
            "rows": rows, "k": k, "partitions": args.partitions, "cores": args.cores,
            "iterations_timed": len(times), "per_iter_s": round(per_iter, 4),
            "rows_per_s_per_core": round(rows / per_iter / args.cores),
            "load_s": round(load_s, 2), "startup_s": round(startup_s, 2),
            "inertia_first_last": [inertia[0], inertia[-1]],
            "centres": json.load(open(model))["method"]["centres"],
        }))
        return 0
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)


def cmd_features(args) -> int:
    spark, startup_s = session(args.cores, args.partitions)
    out_dir = Path(tempfile.mkdtemp(prefix="segmint-spark-features-"))
    try:
        times = []
        for r in range(args.repeat):
            out = out_dir / f"run{r}"
            t = time.perf_counter()
            logs = spark.read.parquet(args.log)
            bounds = logs.selectExpr(
                "date_format(min(created_at), 'yyyy-MM-dd') AS first",
                "date_format(max(created_at), \"yyyy-MM-dd'T'HH:mm:ss'Z'\") AS last",
            ).first()
            as_of = args.as_of or bounds.last
            channels = sorted(row.channel for row in logs.select("channel").distinct().collect())
            parts = logs.repartition(args.partitions, "user_id")
            features = segmint_spark.features(parts, args.segmint, as_of, bounds.first, args.trend_days, channels)
            features.write.parquet(str(out))
            times.append(time.perf_counter() - t)
            log(f"run {r}: {times[-1]:.2f} s")
        users = spark.read.parquet(str(out)).count()
        rows = spark.read.parquet(args.log).count()
        med = statistics.median(times)
        print(json.dumps({
            "tool": "segmint features (Spark mapInArrow)",
            "rows": rows, "users": users, "partitions": args.partitions, "cores": args.cores,
            "median_s": round(med, 3), "runs_s": [round(t, 3) for t in times],
            "rows_per_s_per_core": round(rows / med / args.cores),
            "startup_s": round(startup_s, 2),
        }))
        return 0
    finally:
        spark.stop()
        shutil.rmtree(out_dir, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("kmeans")
    k.add_argument("--table", required=True)
    k.add_argument("--init", required=True)
    k.add_argument("--iters", type=int, default=10)
    f = sub.add_parser("features")
    f.add_argument("--log", required=True)
    f.add_argument("--as-of", default=None)
    f.add_argument("--trend-days", type=int, default=35)
    f.add_argument("--repeat", type=int, default=3)
    for s in (k, f):
        s.add_argument("--segmint", required=True)
        s.add_argument("--partitions", type=int, default=2)
        s.add_argument("--cores", type=int, default=2)
    args = p.parse_args()
    return {"kmeans": cmd_kmeans, "features": cmd_features}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
