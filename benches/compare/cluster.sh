#!/usr/bin/env bash
# Clustering comparison: segmint vs scikit-learn vs scikit-learn-intelex vs faiss.
# See benches/compare/README.md. Usage: bash benches/compare/cluster.sh --help
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv-cluster"
REQ="$HERE/requirements-cluster.txt"
STAMP="$VENV/.requirements.installed"
SEGMINT="$ROOT/target/release/segmint"
SEED=42

REPEAT=3
ENGINES="segmint sklearn sklearnex faiss"
MEASURES="lloyd gmm sweep silhouette"
BUILD=1
QUICK=0
THREADS=2

say() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<EOF
Usage: bash benches/compare/cluster.sh [options]

Compares segmint's clustering stage (Lloyd iterations, a K sweep, the exact
silhouette) with scikit-learn, scikit-learn-intelex and faiss-cpu on
generated Gaussian blobs, every engine limited to $THREADS threads.

Options:
  --quick                divide every n by 100 (smoke test; data in data/quick/)
  --repeat N             repeats per engine and measurement; median, min, max
                         reported (default: $REPEAT; Lloyd times 20 iterations)
  --engines "E ..."      subset of: segmint sklearn sklearnex faiss
                         (default: "$ENGINES")
  --measures "M ..."     subset of: lloyd gmm sweep silhouette
                         (default: "$MEASURES")
  --no-build             use the existing target/release/segmint as is
  -h, --help             this text

Data files are kept in benches/compare/data/ (delete them to regenerate);
results go to benches/compare/results-cluster.md.
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --repeat) [[ $# -ge 2 ]] || die "--repeat needs a value"; REPEAT="$2"; shift 2 ;;
        --repeat=*) REPEAT="${1#*=}"; shift ;;
        --engines) [[ $# -ge 2 ]] || die "--engines needs a value"; ENGINES="$2"; shift 2 ;;
        --engines=*) ENGINES="${1#*=}"; shift ;;
        --measures) [[ $# -ge 2 ]] || die "--measures needs a value"; MEASURES="$2"; shift 2 ;;
        --measures=*) MEASURES="${1#*=}"; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a positive integer, got '$REPEAT'"
read -r -a ENGINE_LIST <<<"$ENGINES"
[[ ${#ENGINE_LIST[@]} -gt 0 ]] || die "--engines is empty"
WANT_SEGMINT=0
for e in "${ENGINE_LIST[@]}"; do
    case "$e" in
        segmint) WANT_SEGMINT=1 ;;
        sklearn|sklearnex|faiss) ;;
        *) die "unknown engine '$e' (choose from: segmint sklearn sklearnex faiss)" ;;
    esac
done

read -r -a MEASURE_LIST <<<"$MEASURES"
[[ ${#MEASURE_LIST[@]} -gt 0 ]] || die "--measures is empty"
for m in "${MEASURE_LIST[@]}"; do
    case "$m" in
        lloyd|gmm|sweep|silhouette) ;;
        *) die "unknown measurement '$m' (choose from: lloyd gmm sweep silhouette)" ;;
    esac
done

if [[ "$QUICK" == 1 ]]; then
    DATA="$HERE/data/quick"; SCALE=100; QUICK_ARG=(--quick)
else
    DATA="$HERE/data"; SCALE=1; QUICK_ARG=()
fi

# --- 1. Python venv with the pinned peers ------------------------------------
command -v python3 >/dev/null || die "python3 not found"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv at $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
if [[ ! -f "$STAMP" ]] || ! cmp -s "$REQ" "$STAMP" \
    || ! "$VENV/bin/python" -c 'import sklearn, sklearnex, faiss, numpy, threadpoolctl' 2>/dev/null; then
    say "installing pinned packages from $REQ"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
        || die "pip install -r $REQ failed"
    cp "$REQ" "$STAMP"
else
    say "venv up to date ($(grep -Ev '^\s*(#|$)' "$REQ" | paste -sd ' ' -))"
fi

# --- 2. segmint ---------------------------------------------------------------
# A segmint failure (build, missing binary, missing 'bench' command) does not
# stop the peers: the driver marks the segmint rows FAILED with the reason.
SEGMINT_ERROR=""
if [[ "$WANT_SEGMINT" == 1 ]]; then
    if [[ "$BUILD" == 1 ]]; then
        if ! command -v cargo >/dev/null; then
            SEGMINT_ERROR="cargo not found (install Rust, or pass --no-build with a built binary)"
        else
            say "building segmint (cargo build --release)"
            if ! (cd "$ROOT" && cargo build --release --quiet); then
                # Do not time a stale binary from an earlier build.
                SEGMINT_ERROR="cargo build --release failed"
            fi
        fi
    fi
    if [[ -z "$SEGMINT_ERROR" && ! -x "$SEGMINT" ]]; then
        SEGMINT_ERROR="$SEGMINT not found (build it, or drop --no-build)"
    fi
    [[ -z "$SEGMINT_ERROR" ]] || say "warning: segmint rows will be FAILED: $SEGMINT_ERROR"
fi

# --- 3. data files, generated once (fixed seed) ----------------------------------
mkdir -p "$DATA"
# Biggest full-size set: 1M x 8 (~80 MB CSV) plus 3 x 1M x 3 and the labels.
need_kb=$(( 200 * 1024 / SCALE ))
avail_kb=$(df -Pk "$DATA" | awk 'NR==2 {print $4}')
if [[ -n "$avail_kb" && "$avail_kb" -lt "$need_kb" ]]; then
    say "warning: about $((need_kb / 1024)) MiB may be needed for the data, only $((avail_kb / 1024)) MiB free"
fi
OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS \
    "$VENV/bin/python" "$HERE/cluster.py" gen --data "$DATA" --scale "$SCALE" --seed "$SEED" \
    --threads "$THREADS" || die "data generation failed"

# --- 4. how to measure peak RSS ---------------------------------------------
RSS_METHOD=rusage
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
    RSS_METHOD=time
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "/usr/bin/time missing: installing Debian package 'time'"
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; } >/dev/null 2>&1 \
        && /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
        RSS_METHOD=time
    else
        say "could not install 'time'; falling back to getrusage(RUSAGE_CHILDREN)"
    fi
else
    say "GNU /usr/bin/time not available; using getrusage(RUSAGE_CHILDREN)"
fi

# --- 5. run --------------------------------------------------------------------
CMDLINE="bash benches/compare/cluster.sh"
[[ "$QUICK" == 0 ]] || CMDLINE+=" --quick"
CMDLINE+=" --repeat $REPEAT"
[[ "$ENGINES" == "segmint sklearn sklearnex faiss" ]] || CMDLINE+=" --engines \"$ENGINES\""
[[ "$MEASURES" == "lloyd gmm sweep silhouette" ]] || CMDLINE+=" --measures \"$MEASURES\""

export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
exec "$VENV/bin/python" "$HERE/cluster.py" bench \
    --segmint "$SEGMINT" \
    --segmint-error "$SEGMINT_ERROR" \
    --repo "$ROOT" \
    --data "$DATA" \
    "${QUICK_ARG[@]}" \
    --out-dir "$DATA/out-cluster" \
    --repeat "$REPEAT" \
    --threads "$THREADS" \
    --engines "${ENGINE_LIST[@]}" \
    --measures "${MEASURE_LIST[@]}" \
    --rss-method "$RSS_METHOD" \
    --results "$HERE/results-cluster.md" \
    --raw-json "$DATA/results-cluster.json" \
    --command "$CMDLINE"
