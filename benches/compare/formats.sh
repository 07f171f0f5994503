#!/usr/bin/env bash
# Input formats: segmint against what a user would otherwise run, in the same
# run, alternating, every engine on 2 threads. See benches/compare/README.md.
#
# Usage: bash benches/compare/formats.sh [PART] [options]
#
# PART (default all):
#   score    (a) `segmint score --features-input` vs polars_score.py (Polars +
#            NumPy), on a 6M-user feature table as CSV, then as Parquet
#   sweep    (b) `segmint sweep --features-input --k 2..10 --silhouette none`
#            vs scikit-learn and sklearnex KMeans (n_init=1, k-means++,
#            seed 0), on 1M x 3 easy (well-separated) and hard (overlapping)
#            blobs; whole processes (reading the CSV included)
#   parquet  (c) `segmint features` on the 50M-row log as Parquet (zstd) vs
#            DuckDB read_parquet GROUP BY user_id
#   zst      (d) `segmint features` on the log as .csv.zst vs `zstd -dc FILE
#            > /dev/null` (decompression alone), `zstd -dc | segmint
#            features -`, and segmint on the plain CSV
#   all      the four, in that order
#
# Options:
#   --repeat N   runs per command (default 3); medians, min, max printed
#   --small      small data (100k users; 100k blobs; a 1M-row log with 100k
#                users, formats_small_1m_peers.csv, instead of the 50M one):
#                checks that every part works
#   --no-build   use the existing target/release/segmint without rebuilding
#
# Data (kept in benches/compare/data/, git-ignored; delete to regenerate):
#   <log>_features.csv (`segmint features` on the log below) ->
#   formats_features_<U>u.csv (6M users drawn from it with replacement,
#   renamed; `segmint generate`'s skew would need billions of rows for 6M
#   active users) -> .parquet (DuckDB, zstd); formats_model_<U>u.json
#   (`segmint fit --k 6` on its first 200,000 users),
#   formats_blobs_{easy,hard}_<N>.csv, log_50m_peers.csv (made by graph.py's
#   log bench, regenerated with the same command when missing) -> .parquet
#   (DuckDB, zstd) and .csv.zst (zstd -3 -T2).
# Results: printed, and appended to benches/compare/data/results-formats.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv-formats"
REQ="$HERE/requirements-formats.txt"
STAMP="$VENV/.requirements.installed"
SEGMINT="${SEGMINT_BIN:-$ROOT/target/release/segmint}"
DATA="$HERE/data"
THREADS=2
SEED=42

PART=all
REPEAT=3
SMALL=0
BUILD=1

say() { printf '[formats] %s\n' "$*" >&2; }
die() { printf '[formats] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        score|sweep|parquet|zst|all) PART="$1"; shift ;;
        --repeat) [[ $# -ge 2 ]] || die "--repeat needs a value"; REPEAT="$2"; shift 2 ;;
        --repeat=*) REPEAT="${1#*=}"; shift ;;
        --small) SMALL=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a positive integer, got '$REPEAT'"

if [[ "$SMALL" == 1 ]]; then
    SCORE_USERS=100000; BLOB_N=100000
    LOG_USERS=100000; LOG_ROWS=1000000; LOG_BLOCKS=10
    LOG="$DATA/formats_small_1m_peers.csv"
else
    SCORE_USERS=6000000; BLOB_N=1000000
    LOG_USERS=1000000; LOG_ROWS=50000000; LOG_BLOCKS=10
    LOG="$DATA/log_50m_peers.csv"
fi
FIT_USERS=200000
BLOB_D=3

# --- 1. venv with the pinned peers --------------------------------------------
command -v python3 >/dev/null || die "python3 not found"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv at $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
if [[ ! -f "$STAMP" ]] || ! cmp -s "$REQ" "$STAMP" \
    || ! "$VENV/bin/python" -c 'import duckdb, polars, numpy, sklearn, sklearnex, threadpoolctl' 2>/dev/null; then
    say "installing pinned packages from $REQ"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
        || die "pip install -r $REQ failed"
    cp "$REQ" "$STAMP"
fi
PY="$VENV/bin/python"
PEERS="$HERE/formats_peers.py"

# --- 2. segmint -----------------------------------------------------------------
if [[ "$BUILD" == 1 ]]; then
    command -v cargo >/dev/null || die "cargo not found (or pass --no-build with a built binary)"
    say "building segmint (cargo build --release)"
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[[ -x "$SEGMINT" ]] || die "$SEGMINT not found (build it, or drop --no-build)"

export POLARS_MAX_THREADS=$THREADS RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS \
    MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS THREADS=$THREADS
SEG="$SEGMINT --threads $THREADS --quiet --device cpu"
mkdir -p "$DATA"
OUT="$DATA/out-formats"
mkdir -p "$OUT"
RESULTS="$DATA/results-formats.md"
{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC'): bash benches/compare/formats.sh $PART --repeat $REPEAT$([[ $SMALL == 1 ]] && echo ' --small')"
    echo
    echo "- $("$SEGMINT" --version) (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')); nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "- Python $("$PY" -c 'import platform; print(platform.python_version())'); $("$PY" -c 'from importlib.metadata import version as v; print("; ".join(f"{p} {v(p)}" for p in ("polars", "numpy", "duckdb", "scikit-learn", "scikit-learn-intelex")))'); zstd $(zstd --version 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -1)"
    echo "- $THREADS threads for every engine; wall time of whole processes, page cache warm, engines alternating"
    echo
} >>"$RESULTS"
FAILED=0

race() {  # race TITLE NOTE WARM_FILE NAME=CMD ...
    local title="$1" note="$2" warmf="$3"; shift 3
    "$PY" "$PEERS" race --repeat "$REPEAT" --title "$title" --note "$note" --warm "$warmf" \
        --root "$ROOT" --results "$RESULTS" "$@" || FAILED=1
}

# Writes $2 from $1 once (a .partial first, so an interrupted run leaves nothing).
make_once() {  # make_once FILE DESCRIPTION CMD...
    local f="$1" what="$2"; shift 2
    if [[ -s "$f" ]]; then say "data: reusing $(basename "$f")"; return 0; fi
    say "data: making $(basename "$f") ($what)"
    rm -f "$f.partial"
    "$@" "$f.partial" || { rm -f "$f.partial"; die "making $(basename "$f") failed"; }
    mv "$f.partial" "$f"
}

# --- (a) score ------------------------------------------------------------------------
part_score() {
    local U=$SCORE_USERS
    local base="$DATA/$(basename "${LOG%.csv}")_features.csv"
    local feats="$DATA/formats_features_${U}u.csv" pq="$DATA/formats_features_${U}u.parquet"
    local model="$DATA/formats_model_${U}u.json"
    if [[ ! -s "$feats" ]]; then
        ensure_log
        make_once "$base" "segmint features on $(basename "$LOG")" $SEG features "$LOG" -o
        make_once "$feats" "$U users resampled from $(basename "$base")" "$PY" "$PEERS" resample "$base" "$U"
    else
        say "data: reusing $(basename "$feats")"
    fi
    [[ -s "$pq" ]] || make_once "$pq" "DuckDB, zstd" "$PY" "$PEERS" parquet "$feats"
    if [[ ! -s "$model" ]]; then
        say "data: fitting $(basename "$model") (K-Means, k = 6, on the first $FIT_USERS users)"
        head -n "$((FIT_USERS + 1))" "$feats" >"$OUT/fit_sample.csv"
        $SEG fit --features-input "$OUT/fit_sample.csv" --k 6 --silhouette none \
            --model "$model.partial" -o "$OUT/fit_scores.csv" || die "segmint fit failed"
        mv "$model.partial" "$model"
        rm -f "$OUT/fit_sample.csv" "$OUT/fit_scores.csv"
    fi
    local users; users=$(( $(wc -l <"$feats") - 1 ))
    for input in "$feats" "$pq"; do
        local ext="${input##*.}"
        race "(a) score, $users users, features from ${ext^^}" \
            "Model: $(basename "$model") (K-Means, k = 6, log1p:frequency, log1p:monetary, active_days). Output: CSV; polars_score.py writes user_id, segment, distance, segmint its score columns." \
            "$input" \
            "segmint score=$SEG score --model $model --features-input $input -o $OUT/segmint_score.csv" \
            "polars_score.py=$PY $HERE/polars_score.py $model $input $OUT/polars_score.csv"
        if [[ -s "$OUT/segmint_score.csv" && -s "$OUT/polars_score.csv" ]]; then
            local agree rc=0
            agree=$("$PY" "$PEERS" compare-scores "$OUT/segmint_score.csv" "$OUT/polars_score.csv") || rc=$?
            say "segmint vs polars_score.py ($ext): $agree"
            [[ "$rc" == 0 ]] || { say "WARNING: the two disagree"; FAILED=1; }
        fi
        rm -f "$OUT/segmint_score.csv" "$OUT/polars_score.csv"
    done
}

# --- (b) sweep ------------------------------------------------------------------------
part_sweep() {
    for overlap in easy hard; do
        local blobs="$DATA/formats_blobs_${overlap}_${BLOB_N}.csv"
        "$PY" "$PEERS" make-blobs "$BLOB_N" "$BLOB_D" "$blobs" --overlap "$overlap" || die "make-blobs failed"
        race "(b) K sweep 2..10, $overlap blobs, n = $BLOB_N, d = $BLOB_D" \
            "n_init 1, k-means++ seeded 0 (each library its own random stream), max 300 iterations, tol 1e-4 (relative to the mean variance), z-scored columns, no silhouette; reading the CSV included. In-process s: reading + fits, without process start and imports (segmint's and the peers' JSON \`seconds\`)." \
            "$blobs" \
            "segmint sweep=$SEG sweep --features-input $blobs --k 2..10 --n-init 1 --seed 0 --silhouette none --format json" \
            "scikit-learn=$PY $PEERS sweep $blobs --kmin 2 --kmax 10 --impl sklearn --threads $THREADS" \
            "sklearnex=$PY $PEERS sweep $blobs --kmin 2 --kmax 10 --impl sklearnex --threads $THREADS"
    done
}

ensure_log() {
    if [[ -s "$LOG" ]]; then
        say "data: reusing $(basename "$LOG")"
        return 0
    fi
    # The same command as graph.py's log bench (seed 42 by default).
    say "data: generating $(basename "$LOG") ($LOG_ROWS rows, $LOG_USERS users, $LOG_BLOCKS blocks)"
    local truth="${LOG%_peers.csv}_truth.csv"
    rm -f "$LOG.partial" "$truth.partial"
    "$SEGMINT" --quiet generate --users "$LOG_USERS" --rows "$LOG_ROWS" --blocks "$LOG_BLOCKS" --p-in 0.8 \
        -o "$LOG.partial" --truth-out "$truth.partial" || die "segmint generate failed"
    mv "$LOG.partial" "$LOG"
    mv "$truth.partial" "$truth"
}

# --- (c) Parquet log ------------------------------------------------------------------
part_parquet() {
    ensure_log
    local pq="${LOG%.csv}.parquet"
    [[ -s "$pq" ]] || make_once "$pq" "DuckDB COPY, zstd" "$PY" "$PEERS" parquet "$LOG"
    race "(c) per-user aggregation of $(basename "$pq") ($LOG_ROWS rows)" \
        "segmint computes ~20 columns per user, DuckDB 8 (compare.py's query plus first_seen); both write CSV." \
        "$pq" \
        "segmint features=$SEG features $pq -o $OUT/segmint_features.csv" \
        "DuckDB read_parquet=$PY $PEERS duckdb-features $pq $OUT/duckdb_features.csv --threads $THREADS"
    if [[ -s "$OUT/segmint_features.csv" && -s "$OUT/duckdb_features.csv" ]]; then
        local a b
        a=$(( $(wc -l <"$OUT/segmint_features.csv") - 1 )); b=$(( $(wc -l <"$OUT/duckdb_features.csv") - 1 ))
        say "users: segmint $a, DuckDB $b"
        [[ "$a" == "$b" ]] || { say "WARNING: user counts differ"; FAILED=1; }
    fi
    rm -f "$OUT/segmint_features.csv" "$OUT/duckdb_features.csv"
}

# --- (d) zstd-compressed CSV ----------------------------------------------------------
part_zst() {
    ensure_log
    local zst="$LOG.zst"
    command -v zstd >/dev/null || die "zstd not found (apt-get install zstd)"
    [[ -s "$zst" ]] || make_once "$zst" "zstd -3 -T$THREADS" zstd -q -3 "-T$THREADS" "$LOG" -f -o
    say "sizes: $(basename "$LOG") $(du -h "$LOG" | cut -f1), $(basename "$zst") $(du -h "$zst" | cut -f1)"
    race "(d) segmint features on $(basename "$zst") ($LOG_ROWS rows)" \
        "zstd -dc alone is the floor for reading the compressed file (one thread); the plain-CSV row reads $(basename "$LOG") itself." \
        "$zst" \
        "segmint features .csv.zst=$SEG features $zst -o $OUT/f_zst.csv" \
        "zstd -dc > /dev/null=zstd -dc $zst > /dev/null" \
        "zstd -dc | segmint features -=zstd -dc $zst | $SEG features - -o $OUT/f_pipe.csv" \
        "segmint features .csv=$SEG features $LOG -o $OUT/f_csv.csv"
    if [[ -s "$OUT/f_zst.csv" && -s "$OUT/f_csv.csv" ]]; then
        if cmp -s "$OUT/f_zst.csv" "$OUT/f_csv.csv"; then say "features from .csv.zst == from .csv"
        else say "WARNING: features from .csv.zst differ from .csv"; FAILED=1; fi
    fi
    rm -f "$OUT/f_zst.csv" "$OUT/f_pipe.csv" "$OUT/f_csv.csv"
}

case "$PART" in
    score) part_score ;;
    sweep) part_sweep ;;
    parquet) part_parquet ;;
    zst) part_zst ;;
    all) part_score; part_sweep; part_parquet; part_zst ;;
esac
rmdir "$OUT" 2>/dev/null || true
say "results appended to ${RESULTS#$ROOT/}"
[[ "$FAILED" == 0 ]] || { say "some runs failed or disagreed; see above"; exit 1; }
