"""segmint as a Spark stage, in local mode, against the single machine.

    python tests/spark/spark_test.py SEGMINT WORKDIR

A generated log, repartitioned by user into 4 partitions:

1. features through Spark equal ``segmint features`` on the whole log;
2. the distributed K-Means (from a model fitted on a sample) reaches the
   centres of a plain f64 Lloyd in NumPy from the same start (1e-9
   relative) and of ``segmint fit --init`` (which sums in f64 too:
   1e-12), with the same labels;
3. scores through Spark, against one population, equal ``segmint score``
   on the whole log.

Prints one JSON line of what it measured; exits 1 on the first mismatch.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.ipc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import segmint_spark  # noqa: E402

SEGMINT, WORK = sys.argv[1], sys.argv[2]
PARTITIONS = 4
K = 4
os.makedirs(WORK, exist_ok=True)


def segmint(*args):
    return subprocess.run([SEGMINT, *args], check=True, capture_output=True, text=True).stdout


def arrow_file(path):
    with pa.ipc.open_file(path) as f:
        return f.read_all()


def spark_types(table):
    """A single-machine Arrow table with the types Spark gives back."""
    fields = [segmint_spark._for_spark(f) for f in table.schema]
    return table.cast(pa.schema(fields))


def same_rows(spark_df, single, what):
    got = spark_df.toArrow().sort_by("user_id")
    want = spark_types(single).sort_by("user_id").replace_schema_metadata(None)
    got = got.replace_schema_metadata(None)
    if got.schema != want.schema:
        fail(f"{what}: schema\n{got.schema}\nagainst\n{want.schema}")
    if not got.equals(want):
        for name in want.column_names:
            if not got[name].equals(want[name]):
                fail(f"{what}: column {name} differs")
    return got.num_rows


def fail(message):
    print(f"spark_test: {message}", file=sys.stderr)
    sys.exit(1)


# The log, and what one machine makes of it.
log = os.path.join(WORK, "log.csv")
segmint("generate", "--users", "3000", "--rows", "90000", "--seed", "11", "-o", log, "-q")
as_of, window_start, trend_days = "2025-06-30T23:59:59Z", "2025-04-01", 35
common = ["--as-of", as_of, "--window-start", window_start]
single_features = os.path.join(WORK, "features.arrow")
segmint("features", log, "-o", single_features, "--trend-days", str(trend_days), *common, "-q")

from pyspark.sql import SparkSession  # noqa: E402

spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", str(PARTITIONS))
    .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
# Every column as text: segmint reads the log's own strings.
logs = spark.read.csv(log, header=True, schema=",".join(
    f"{c} string" for c in ["transaction_id", "user_id", "created_at", "channel", "status", "total_price"]
)).repartition(PARTITIONS, "user_id").cache()
channels = sorted(r.channel for r in logs.select("channel").distinct().collect())

# 1. Features.
features = segmint_spark.features(logs, SEGMINT, as_of, window_start, trend_days, channels).cache()
if segmint_spark.split_users(features).count():
    fail("a user's rows were in two partitions")
users = same_rows(features, arrow_file(single_features), "features")

# 2. Distributed K-Means from a model fitted on a sample of the users.
sample = os.path.join(WORK, "sample.arrow")
table = logs.where("abs(hash(user_id)) % 5 = 0").toArrow()
with pa.ipc.new_file(sample, table.schema) as f:
    f.write_table(table)
template = os.path.join(WORK, "template.json")
segmint("fit", sample, "--k", str(K), "--model", template, "-o", os.path.join(WORK, "sample-scores.csv"),
        "--trend-days", str(trend_days), *common, "-q")
final, iterations = segmint_spark.fit_kmeans(features, SEGMINT, template, WORK)
start = json.load(open(os.path.join(WORK, "model-rescaled.json")))
model = json.load(open(final))
centres = np.array(model["method"]["centres"])

# The same start, one machine: NumPy's f64 Lloyd on the same f32 points.
table = arrow_file(single_features).sort_by("user_id")
def column(name):
    # Decimal monetary as segmint reads it: the nearest double to its text.
    return np.array([float(str(v)) for v in table[name].to_pylist()], dtype=np.float64)


raw = np.column_stack([
    # log1p of the value clipped at 0 (refunds), as segmint transforms it.
    np.log1p(np.maximum(column(spec.split(":")[1]), 0.0)) if spec.startswith("log1p:")
    else column(spec)
    for spec in start["features"]
])
mean, std = np.array(start["scaler"]["mean"]), np.array(start["scaler"]["std"])
x = ((raw - mean) / std).astype(np.float32).astype(np.float64)
c = np.array(start["method"]["centres"])
variance = x.var(axis=0).mean()
for n_iter in range(1, 301):
    cf = c.astype(np.float32).astype(np.float64)
    labels = ((x[:, None, :] - cf[None]) ** 2).sum(axis=2).argmin(axis=1)
    nxt = np.array([x[labels == j].mean(axis=0) for j in range(K)])
    shift = ((nxt - c) ** 2).sum()
    c = nxt
    if shift <= start["method"]["tol"] * variance:
        break
order = [int(np.argmin(((c - row) ** 2).sum(axis=1))) for row in centres]
numpy_gap = float(np.max(np.abs(c[order] - centres) / np.abs(c[order])))
if n_iter != iterations or numpy_gap > 1e-9:
    fail(f"NumPy Lloyd: {n_iter} iterations against {iterations}, centres {numpy_gap:.2e} apart")

# And `segmint fit` from the same start.
fit_model, fit_scores = os.path.join(WORK, "fit.json"), os.path.join(WORK, "fit-scores.arrow")
segmint("fit", log, "--k", str(K), "--init", os.path.join(WORK, "model-rescaled.json"),
        "--model", fit_model, "-o", fit_scores, "--trend-days", str(trend_days), *common, "-q")
fitted = np.array(json.load(open(fit_model))["method"]["centres"])
fit_gap = float(np.max(np.abs(fitted - centres) / np.abs(fitted)))
if fit_gap > 1e-12:
    fail(f"segmint fit --init: centres {fit_gap:.2e} apart")

# 3. Scores, against one population.
pop = segmint_spark.population(features, SEGMINT, final, os.path.join(WORK, "population.json"))
scores = segmint_spark.score(logs, SEGMINT, final, pop, as_of, window_start)
single_scores = os.path.join(WORK, "scores.arrow")
segmint("score", log, "--model", final, "-o", single_scores, *common, "-q")
same_rows(scores, arrow_file(single_scores), "scores")
fit_labels = arrow_file(fit_scores).sort_by("user_id")["segment"]
if not arrow_file(single_scores).sort_by("user_id")["segment"].equals(fit_labels):
    fail("distributed K-Means labels differ from segmint fit's")

print(json.dumps({
    "users": users, "partitions": PARTITIONS, "k": K, "iterations": iterations,
    "numpy_centre_gap": numpy_gap, "fit_centre_gap": fit_gap,
}))
