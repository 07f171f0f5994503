#!/usr/bin/env python3
"""Spark peers for the segmint-as-a-Spark-stage benchmark (benches/compare/spark.sh).

Spark runs in local mode (local[CORES], UI off, driver memory 8g) in this
process; every sub-command prints ONE JSON line on stdout (logs go to stderr).

Sub-commands:

  kmeans --table T.parquet --init INIT.csv --partitions P --iters N
        MLlib K-Means (Lloyd) from the given initial centres, epsilon 0, on
        the f0..f7 columns of T (VectorAssembler). Per-iteration time is
        (median t(N iters) - median t(1 iter)) / (N - 1): the difference
        removes the per-job constant (job setup, the final cost pass).
        Also rows/s/core = rows / per_iter_s / cores. Checks that MLlib ran
        exactly N (and 1) iterations; exit 1 when not.
  features-sql --log LOG.parquet [--as-of ISO] --partitions P
        Spark SQL per-user features over a transaction log (segmint
        features' core columns: frequency, monetary, first/last seen,
        recency/tenure days, active days, channel shares, success rate),
        written as a Parquet directory. Times the whole job (read, aggregate,
        write), median of --repeat runs in one warm session.
  make-log IN.csv OUT.parquet
        A `segmint generate` CSV log as Parquet (zstd), typed as formats.sh's
        DuckDB COPY types it: created_at TIMESTAMP (us, no zone),
        total_price DOUBLE, the rest strings; DuckDB's 122,880-row groups.
  make-table N OUT.parquet INIT.csv [--k 8]
        N rows: user_id (u0000000..) and f0..f7 from 8 overlapping Gaussian
        blobs in 8-D (seeded), Parquet zstd; INIT.csv = K rows of the table
        (a seeded choice), 8 comma-separated floats each, no header,
        written with 17 significant digits so every reader gets the same
        doubles.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Statuses counted as successes: compare.py's SUCCESS_STATUSES (segmint's
# default --success-status). compare.py is stdlib-only, so import it.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import SUCCESS_STATUSES  # noqa: E402

DIM = 8
FEATURES = [f"f{i}" for i in range(DIM)]
TABLE_SEED = 42
INIT_SEED = 7


def log(msg: str) -> None:
    print(f"[spark] {msg}", file=sys.stderr, flush=True)


def session(cores: int, partitions: int):
    # Spark's Python workers must run this interpreter (the venv's).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    t0 = time.perf_counter()
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("segmint-spark-peers")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "8g")  # honoured: the JVM starts here
        .config("spark.sql.session.timeZone", "UTC")  # dates and as_of in UTC, as segmint
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.default.parallelism", str(partitions))
        # A hint for file splits: at least P read tasks on small files.
        .config("spark.sql.files.minPartitionNum", str(partitions))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark, time.perf_counter() - t0


def median(xs):
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------
# kmeans: MLlib K-Means from given centres
# --------------------------------------------------------------------------


def read_init(path: str):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append([float(x) for x in line.split(",")])
    if not rows or any(len(r) != DIM for r in rows):
        raise SystemExit(f"{path}: want K rows of {DIM} comma-separated floats")
    return rows


def cmd_kmeans(args) -> int:
    spark, startup_s = session(args.cores, args.partitions)
    sc = spark.sparkContext
    jvm = sc._jvm
    from pyspark.ml.feature import VectorAssembler
    from pyspark.mllib.common import _py2java
    from pyspark.mllib.linalg import DenseVector

    init = read_init(args.init)
    k = len(init)

    # Read, assemble, cache the DataFrame and materialise it.
    t0 = time.perf_counter()
    df = spark.read.parquet(args.table).repartition(args.partitions)
    df = VectorAssembler(inputCols=FEATURES, outputCol="features").transform(df).select("features")
    df = df.cache()
    rows = df.count()
    # The ML API (pyspark.ml.clustering.KMeans) takes no initial centres, so
    # this runs MLlib's org.apache.spark.mllib.clustering.KMeans (what
    # pyspark.mllib's KMeans.train(initialModel=...) calls), straight through
    # py4j on a JVM-side cached RDD[Vector]: KMeans.train would send the
    # points from Python to the JVM on every call (about a minute per 1M
    # rows here), and it returns only the centres, not the iteration count
    # and cost that the check below reads. DatasetUtils.columnToOldVector is
    # the DataFrame -> RDD[mllib Vector] conversion the ML estimators use
    # (private[ml] in Scala, public in the bytecode); no Python in the loop.
    jrdd = jvm.org.apache.spark.ml.util.DatasetUtils.columnToOldVector(df._jdf, "features")
    jrdd.persist(jvm.org.apache.spark.storage.StorageLevel.MEMORY_ONLY())
    assert jrdd.count() == rows
    df.unpersist()  # the vectors are cached JVM-side now; free the heap for the runs
    load_s = time.perf_counter() - t0
    log(f"{rows} rows cached in {args.partitions} partitions in {load_s:.1f} s")

    jvecs = [_py2java(sc, DenseVector(c)) for c in init]  # pickled: the exact doubles

    def train(iters: int):
        # A fresh initial model each run (KMeans.run does not change it).
        centres = jvm.java.util.ArrayList()
        for v in jvecs:
            centres.add(v)
        init_model = jvm.org.apache.spark.mllib.clustering.KMeansModel(centres)
        km = (
            jvm.org.apache.spark.mllib.clustering.KMeans()
            .setK(k)
            .setMaxIterations(iters)
            .setEpsilon(0.0)  # stop only when no centre moves at all
            .setInitialModel(init_model)
        )
        t = time.perf_counter()
        model = km.run(jrdd)
        s = time.perf_counter() - t
        # numIter is private[spark] in Scala, public in the bytecode py4j sees.
        got = {
            "iters": int(model.numIter()),
            "cost": float(model.trainingCost()),
            "centres": [list(c.toArray()) for c in model.clusterCenters()],
        }
        return s, got

    # One untimed run first: JIT and the first-job setup.
    warm_s, _ = train(1)
    log(f"warm-up run (1 iteration): {warm_s:.2f} s")
    t1, tn = [], []
    one = many = None
    for r in range(args.repeat):  # alternating, so drift hits both alike
        s, one = train(1)
        t1.append(s)
        s, many = train(args.iters)
        tn.append(s)
        log(f"round {r + 1}/{args.repeat}: 1 iteration {t1[-1]:.3f} s, {args.iters} iterations {tn[-1]:.3f} s")
    per_iter = (median(tn) - median(t1)) / (args.iters - 1) if args.iters > 1 else None

    # Did MLlib really run N iterations? numIter, a lower cost, moved centres.
    moved = max(abs(a - b) for ca, cb in zip(one["centres"], many["centres"]) for a, b in zip(ca, cb))
    ok = one["iters"] == 1 and many["iters"] == args.iters
    out = {
        "peer": "spark-mllib-kmeans",
        "spark": spark.version,
        "cores": args.cores,
        "partitions": args.partitions,
        "rows": rows,
        "dim": DIM,
        "k": k,
        "iters": args.iters,
        "repeat": args.repeat,
        "startup_s": round(startup_s, 3),
        "load_cache_s": round(load_s, 3),
        "warmup_s": round(warm_s, 3),
        "t_1_iter_s": [round(x, 4) for x in t1],
        "t_n_iter_s": [round(x, 4) for x in tn],
        "per_iter_s": per_iter,
        "rows_per_s_per_core": rows / per_iter / args.cores if per_iter and per_iter > 0 else None,
        "check": {
            "iters_run_1": one["iters"],
            "iters_run_n": many["iters"],
            "cost_1": one["cost"],
            "cost_n": many["cost"],
            "max_centre_move_1_to_n": moved,
            "ok": ok,
        },
        "centres": many["centres"],
    }
    print(json.dumps(out), flush=True)
    if not ok:
        log(f"ERROR: MLlib ran {one['iters']} and {many['iters']} iterations, asked 1 and {args.iters}"
            " (epsilon 0 stops only at an exact fixed point: use data that converges slower)")
    spark.stop()
    return 0 if ok else 1


# --------------------------------------------------------------------------
# features-sql: per-user features in Spark SQL
# --------------------------------------------------------------------------


def features_job(spark, log_path: str, as_of: str | None, out_dir: str) -> dict:
    from pyspark.sql import functions as F

    df = spark.read.parquet(log_path)
    # created_at may come back as TIMESTAMP or TIMESTAMP_NTZ (a Parquet
    # timestamp without zone); cast to TIMESTAMP in a UTC session, both are
    # UTC. Times are compared as integer microseconds (unix_micros): a
    # collected TIMESTAMP would come back in the Python process's zone.
    df = df.withColumn("ts", F.col("created_at").cast("timestamp"))
    us = F.unix_micros("ts")
    if as_of is not None:
        as_of_us = spark.sql(f"SELECT unix_micros(CAST('{as_of}' AS TIMESTAMP))").first()[0]
        if as_of_us is None:
            raise SystemExit(f"--as-of {as_of!r}: not a timestamp")
        df = df.filter(us <= as_of_us)  # segmint skips rows after --as-of
    else:
        # segmint's default as_of: the latest transaction's time (one more
        # pass over the column; segmint needs the maximum too).
        as_of_us = df.agg(F.max(us)).first()[0]

    # The distinct channels first (pivot() without values does the same
    # query itself); sorted, as segmint orders its share_<channel> columns.
    channels = sorted(r[0] for r in df.select("channel").distinct().collect() if r[0] is not None)

    success = F.col("status").isin(*SUCCESS_STATUSES)
    # segmint: successes over the rows with a status; null when none has one
    # (compare.py's DuckDB avg over all rows is the same on generated logs,
    # where every row has a status).
    has_status = F.col("status").isNotNull() & (F.col("status") != "")
    micros_per_day = 86_400_000_000.0
    aggs = [
        F.count(F.lit(1)).alias("frequency"),
        F.sum("total_price").alias("monetary"),
        F.min("ts").alias("first_seen"),
        F.max("ts").alias("last_seen"),
        F.countDistinct(F.to_date("ts")).alias("active_days"),
        (F.sum(F.when(success, 1).otherwise(0)) / F.sum(F.when(has_status, 1))).alias("success_rate"),
    ] + [F.sum(F.when(F.col("channel") == c, 1).otherwise(0)).alias(f"n_{c}") for c in channels]
    per_user = df.groupBy("user_id").agg(*aggs)
    per_user = per_user.select(
        "user_id",
        "frequency",
        "monetary",
        "first_seen",
        "last_seen",
        ((F.lit(as_of_us) - F.unix_micros("last_seen")) / micros_per_day).alias("recency_days"),
        ((F.lit(as_of_us) - F.unix_micros("first_seen")) / micros_per_day).alias("tenure_days"),
        "active_days",
        *[(F.col(f"n_{c}") / F.col("frequency")).alias(f"share_{c}") for c in channels],
        "success_rate",
    )
    per_user.write.mode("overwrite").parquet(out_dir)
    return {"channels": channels, "as_of_us": as_of_us}


def cmd_features_sql(args) -> int:
    spark, startup_s = session(args.cores, args.partitions)
    scratch = None
    out_dir = args.out
    if out_dir is None:
        scratch = tempfile.mkdtemp(prefix="segmint-spark-features-")
        out_dir = os.path.join(scratch, "features.parquet")
    times = []
    info = {}
    try:
        for r in range(args.repeat):
            t = time.perf_counter()
            info = features_job(spark, args.log, args.as_of, out_dir)
            times.append(time.perf_counter() - t)
            log(f"run {r + 1}/{args.repeat}: {times[-1]:.3f} s")
        res = spark.read.parquet(out_dir)
        users = res.count()
        columns = res.columns
        rows = spark.read.parquet(args.log).count()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    out = {
        "peer": "spark-sql-features",
        "spark": spark.version,
        "cores": args.cores,
        "partitions": args.partitions,
        "rows": rows,
        "users": users,
        "as_of": args.as_of or "max(created_at)",
        "as_of_unix_us": info.get("as_of_us"),
        "columns": columns,
        "channels": info.get("channels"),
        "repeat": args.repeat,
        "startup_s": round(startup_s, 3),
        "times_s": [round(x, 4) for x in times],
        "median_s": median(times),
        # The first run also pays JIT and first-job setup.
        "median_after_first_s": median(times[1:]),
        "rows_per_s_per_core": rows / median(times) / args.cores,
    }
    print(json.dumps(out), flush=True)
    spark.stop()
    return 0


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

# The types formats_peers.py's LOG_TYPES gives DuckDB's COPY.
def log_types():
    import pyarrow as pa

    return {
        "transaction_id": pa.string(),
        "user_id": pa.string(),
        "peer_id": pa.string(),
        "created_at": pa.timestamp("us"),
        "channel": pa.string(),
        "status": pa.string(),
        "total_price": pa.float64(),
    }


def cmd_make_log(args) -> int:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    out = Path(args.output)
    tmp = out.with_name(out.name + ".partial")
    reader = pcsv.open_csv(
        args.input,
        read_options=pcsv.ReadOptions(block_size=64 << 20),
        convert_options=pcsv.ConvertOptions(
            column_types=log_types(),
            timestamp_parsers=["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", pcsv.ISO8601],
            strings_can_be_null=True,  # an empty status/channel cell is null, as in DuckDB
        ),
    )
    rows = 0
    with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as w:
        for batch in reader:
            w.write_batch(batch, row_group_size=122_880)
            rows += batch.num_rows
    tmp.replace(out)
    log(f"data: wrote {out.name} ({rows} rows, {out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_make_table(args) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    n, k = args.n, args.k
    rng = np.random.default_rng(TABLE_SEED)
    # 8 blobs, unit spread, centres in [-2, 2]^8: they overlap, so Lloyd
    # moves the centres for many iterations (MLlib with epsilon 0 stops
    # early only at an exact fixed point).
    blob_centres = rng.uniform(-2.0, 2.0, size=(8, DIM))
    width = max(7, len(str(n - 1)))
    out = Path(args.output)
    tmp = out.with_name(out.name + ".partial")
    schema = pa.schema([("user_id", pa.string())] + [(c, pa.float64()) for c in FEATURES])
    chunk = 1_000_000
    pick = np.sort(np.random.default_rng(INIT_SEED).choice(n, size=k, replace=False))
    init = np.empty((k, DIM))
    with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            label = rng.integers(0, 8, size=m)
            x = blob_centres[label] + rng.standard_normal((m, DIM))
            ids = np.char.add("u", np.char.zfill(np.arange(start, start + m).astype(str), width))
            cols = [pa.array(ids.astype(object), pa.string())] + [pa.array(x[:, j]) for j in range(DIM)]
            w.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=122_880)
            inside = (pick >= start) & (pick < start + m)
            init[inside] = x[pick[inside] - start]
    tmp.replace(out)
    init_out = Path(args.init)
    init_tmp = init_out.with_name(init_out.name + ".partial")
    with open(init_tmp, "w") as f:
        for row in init:
            f.write(",".join(f"{v:.17g}" for v in row) + "\n")
    init_tmp.replace(init_out)
    log(f"data: wrote {out.name} ({n} x {DIM}, {out.stat().st_size / 1e6:.1f} MB) and {init_out.name} "
        f"(rows {pick.tolist()}) in {time.perf_counter() - t0:.1f} s")
    return 0


# --------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--partitions", type=int, default=2)
        sp.add_argument("--cores", type=int, default=2, help="local[CORES] (default 2)")
        sp.add_argument("--repeat", type=int, default=3)

    sp = sub.add_parser("kmeans", help="MLlib K-Means from given centres")
    sp.add_argument("--table", required=True)
    sp.add_argument("--init", required=True)
    sp.add_argument("--iters", type=int, default=10)
    common(sp)
    sp.set_defaults(fn=cmd_kmeans)

    sp = sub.add_parser("features-sql", help="Spark SQL per-user features")
    sp.add_argument("--log", required=True)
    sp.add_argument("--as-of", default=None, help="ISO time, UTC (default: the latest created_at, as segmint)")
    sp.add_argument("--out", default=None, help="Parquet directory (default: a temporary one, deleted)")
    common(sp)
    sp.set_defaults(fn=cmd_features_sql)

    sp = sub.add_parser("make-log", help="CSV log -> Parquet (zstd)")
    sp.add_argument("input")
    sp.add_argument("output")
    sp.set_defaults(fn=cmd_make_log)

    sp = sub.add_parser("make-table", help="N x 8 blob feature table + K initial centres")
    sp.add_argument("n", type=int)
    sp.add_argument("output")
    sp.add_argument("init")
    sp.add_argument("--k", type=int, default=8)
    sp.set_defaults(fn=cmd_make_table)

    args = p.parse_args(argv)
    if getattr(args, "repeat", 1) < 1 or getattr(args, "partitions", 1) < 1:
        p.error("--repeat and --partitions must be positive")
    if args.cmd == "kmeans" and args.iters < 2:
        p.error("--iters must be at least 2 (per-iteration time is a difference)")
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
