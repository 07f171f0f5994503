#!/usr/bin/env bash
# segmint as a Spark stage vs Spark's own tools, Spark in local mode on 2 cores.
#
# Usage: bash benches/compare/spark.sh [PART] [options]
#
# Each part runs the Spark peer, then segmint as the Spark stage on the same
# data and partitions (spark_segmint.py, through tests/spark/segmint_spark.py).
#
# PART (default all):
#   kmeans     Spark MLlib K-Means (Lloyd, epsilon 0) from INIT.csv's centres
#              on the N x 8 feature table: seconds per iteration, as
#              (t(ITERS) - t(1)) / (ITERS - 1), medians of --repeat
#   features   Spark SQL per-user features (frequency, monetary, first/last
#              seen, recency, tenure, active days, channel shares, success
#              rate) over the Parquet log, written as Parquet: whole job
#   all        both
#
# Options:
#   --repeat N      runs per measurement (default 3); medians
#   --iters N       K-Means iterations of the long run (default 10)
#   --partitions P  Spark partitions / shuffle partitions (default 2)
#   --as-of ISO     features: the reference time (default: the log's latest
#                   created_at, as segmint's default)
#   --small         100k-row log (10k users) and 100k-row table: checks that
#                   everything runs
#
# Data (benches/compare/data/, git-ignored; SPARK_BENCH_DATA=DIR puts it
# elsewhere; delete a file to regenerate it):
#   tx_<R>r_<U>u_s42.csv    `segmint generate --users U --rows R --seed 42`,
#                           the same file (and command) as run.sh's
#   tx_<R>r_<U>u_s42.parquet  the CSV as Parquet, zstd, DuckDB's types
#                           (spark_peers.py make-log)
#   spark_table_<N>.parquet, spark_init_<N>_k8.csv   N x 8 overlapping
#                           Gaussian blobs (seeded) and 8 of its rows as the
#                           initial centres (spark_peers.py make-table)
# Results: one JSON line per run, printed and appended to
# <data>/results-spark.jsonl.
#
# Environment: SPARK_PY (default tests/reference/.venv-spark/bin/python, a
# venv with pyspark, pyarrow, numpy, pandas), SEGMINT_BIN (default
# target/release/segmint, else target/ci/segmint), Java 17 on the PATH.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${SPARK_PY:-$ROOT/tests/reference/.venv-spark/bin/python}"
PEERS="$HERE/spark_peers.py"
DATA="${SPARK_BENCH_DATA:-$HERE/data}"
CORES=2
SEED=42

PART=all
REPEAT=3
ITERS=10
PARTITIONS=2
SMALL=0
AS_OF=

say() { printf '[spark] %s\n' "$*" >&2; }
die() { printf '[spark] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        kmeans|features|all) PART="$1"; shift ;;
        --repeat) [[ $# -ge 2 ]] || die "--repeat needs a value"; REPEAT="$2"; shift 2 ;;
        --iters) [[ $# -ge 2 ]] || die "--iters needs a value"; ITERS="$2"; shift 2 ;;
        --partitions) [[ $# -ge 2 ]] || die "--partitions needs a value"; PARTITIONS="$2"; shift 2 ;;
        --as-of) [[ $# -ge 2 ]] || die "--as-of needs a value"; AS_OF="$2"; shift 2 ;;
        --small) SMALL=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
posint --repeat "$REPEAT"; posint --iters "$ITERS"; posint --partitions "$PARTITIONS"
[[ "$ITERS" -ge 2 ]] || die "--iters must be at least 2 (per-iteration time is a difference)"

if [[ "$SMALL" == 1 ]]; then
    LOG_ROWS=100000; LOG_USERS=10000; TABLE_N=100000
else
    LOG_ROWS=10000000; LOG_USERS=100000; TABLE_N=10000000  # run.sh's first set
fi
LOG_CSV="$DATA/tx_${LOG_ROWS}r_${LOG_USERS}u_s${SEED}.csv"
LOG_PQ="${LOG_CSV%.csv}.parquet"
TABLE="$DATA/spark_table_${TABLE_N}.parquet"
INIT="$DATA/spark_init_${TABLE_N}_k8.csv"
RESULTS="$DATA/results-spark.jsonl"

[[ -x "$PY" ]] || die "$PY not found (a venv with pyspark, pyarrow, numpy; or set SPARK_PY)"
command -v java >/dev/null || die "java not found (Spark 4 needs Java 17 or 21)"
# Spark's Python workers must use the venv's interpreter, not the system one.
export PYSPARK_PYTHON="$PY" PYSPARK_DRIVER_PYTHON="$PY"
SEGMINT="${SEGMINT_BIN:-}"
if [[ -z "$SEGMINT" ]]; then
    for b in "$ROOT/target/release/segmint" "$ROOT/target/ci/segmint"; do
        [[ -x "$b" ]] && { SEGMINT="$b"; break; }
    done
fi
mkdir -p "$DATA"
FAILED=0

# --- data -----------------------------------------------------------------------------
ensure_log() {
    if [[ ! -s "$LOG_CSV" ]]; then
        [[ -n "$SEGMINT" && -x "$SEGMINT" ]] || die "no segmint binary to generate the log (build it or set SEGMINT_BIN)"
        say "data: generating $(basename "$LOG_CSV") ($LOG_ROWS rows, $LOG_USERS users)"
        rm -f "$LOG_CSV.partial"
        "$SEGMINT" --quiet generate --users "$LOG_USERS" --rows "$LOG_ROWS" --seed "$SEED" -o "$LOG_CSV.partial" \
            || { rm -f "$LOG_CSV.partial"; die "segmint generate failed"; }
        mv "$LOG_CSV.partial" "$LOG_CSV"
    fi
    if [[ ! -s "$LOG_PQ" ]]; then
        "$PY" "$PEERS" make-log "$LOG_CSV" "$LOG_PQ" || die "make-log failed"
    else
        say "data: reusing $(basename "$LOG_PQ")"
    fi
}

ensure_table() {
    if [[ -s "$TABLE" && -s "$INIT" ]]; then say "data: reusing $(basename "$TABLE")"; return 0; fi
    "$PY" "$PEERS" make-table "$TABLE_N" "$TABLE" "$INIT" --k 8 || die "make-table failed"
}

# Runs a peer, prints its JSON line and appends it (with the date and the
# machine) to $RESULTS; a failure is reported and the other runs go on.
record() {  # record LABEL CMD...
    local label="$1"; shift
    local line rc=0
    say "$label: $*"
    line=$("$@") || rc=$?
    if [[ -n "$line" ]]; then
        printf '%s\n' "$line"
        printf '{"date": "%s", "label": "%s", "nproc": %s, "cpu": "%s", "result": %s}\n' \
            "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$label" "$(nproc)" \
            "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //; s/"//g')" "$line" >>"$RESULTS"
    fi
    [[ "$rc" == 0 ]] || { say "$label FAILED (exit $rc)"; FAILED=1; }
}

# --- segmint's runs: the same inputs, right after the peers -------------------------
hook_segmint_kmeans() {  # TABLE INIT ITERS PARTITIONS
    [[ -n "$SEGMINT" ]] || die "no segmint binary (build it or set SEGMINT_BIN)"
    record "segmint-spark-kmeans n=$TABLE_N iters=$3 p=$4" \
        "$PY" "$HERE/spark_segmint.py" kmeans --segmint "$SEGMINT" --table "$1" --init "$2" \
        --iters "$3" --partitions "$4" --cores "$CORES"
}
hook_segmint_features() {  # LOG_PARQUET PARTITIONS [AS_OF]
    [[ -n "$SEGMINT" ]] || die "no segmint binary (build it or set SEGMINT_BIN)"
    record "segmint-spark-features rows=$LOG_ROWS p=$2" \
        "$PY" "$HERE/spark_segmint.py" features --segmint "$SEGMINT" --log "$1" \
        --partitions "$2" --repeat "$REPEAT" --cores "$CORES" ${3:+--as-of "$3"}
}

part_kmeans() {
    ensure_table
    record "spark-mllib-kmeans n=$TABLE_N iters=$ITERS p=$PARTITIONS" \
        "$PY" "$PEERS" kmeans --table "$TABLE" --init "$INIT" --partitions "$PARTITIONS" \
        --iters "$ITERS" --repeat "$REPEAT" --cores "$CORES"
    hook_segmint_kmeans "$TABLE" "$INIT" "$ITERS" "$PARTITIONS"
}

part_features() {
    ensure_log
    record "spark-sql-features rows=$LOG_ROWS p=$PARTITIONS" \
        "$PY" "$PEERS" features-sql --log "$LOG_PQ" --partitions "$PARTITIONS" \
        --repeat "$REPEAT" --cores "$CORES" ${AS_OF:+--as-of "$AS_OF"}
    hook_segmint_features "$LOG_PQ" "$PARTITIONS" "$AS_OF"
}

case "$PART" in
    kmeans) part_kmeans ;;
    features) part_features ;;
    all) part_kmeans; part_features ;;
esac
say "results appended to $RESULTS"
[[ "$FAILED" == 0 ]] || { say "some runs failed; see above"; exit 1; }
