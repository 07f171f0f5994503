#!/usr/bin/env bash
# Method comparison: K-Means, Gaussian mixture, hierarchical Ward and deep
# embedding clustering against known labels. See benches/compare/README.md.
# Usage: bash benches/compare/methods.sh [--repeat N] [--no-build]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv-cluster"
REQ="$HERE/requirements-cluster.txt"
SEGMINT="$ROOT/target/release/segmint"
DATA="$HERE/data/methods"
REPEAT=3
BUILD=1
LARGE=0
THREADS=2

say() { printf '[methods] %s\n' "$*" >&2; }
die() { printf '[methods] error: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --repeat) [[ $# -ge 2 ]] || die "--repeat needs a value"; REPEAT="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --large) LARGE=1; shift ;;
        -h|--help)
            echo "Usage: bash benches/compare/methods.sh [--repeat N] [--no-build] [--large]"
            echo "Fits every method to labelled and synthetic data on $THREADS threads;"
            echo "results go to benches/compare/results-methods.md (and .json)."
            echo "--large: whole fits of 1M x 8 blobs instead (cluster.sh's data);"
            echo "results to benches/compare/data/results-methods-large.json."
            exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a positive integer, got '$REPEAT'"

command -v python3 >/dev/null || die "python3 not found"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv at $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed"
fi
"$VENV/bin/python" -c 'import sklearn, numpy' 2>/dev/null \
    || "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
    || die "pip install -r $REQ failed"

if [[ "$BUILD" == 1 ]]; then
    say "building segmint (release)"
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[[ -x "$SEGMINT" ]] || die "no $SEGMINT"

export RAYON_NUM_THREADS="$THREADS"
if [[ "$LARGE" == 1 ]]; then
    exec "$VENV/bin/python" "$HERE/methods.py" large --segmint "$SEGMINT" \
        --data "$HERE/data" --repeat "$REPEAT"
fi
"$VENV/bin/python" "$HERE/methods.py" gen --data "$DATA" --seed 42
exec "$VENV/bin/python" "$HERE/methods.py" bench --segmint "$SEGMINT" --data "$DATA" \
    --labelled "$ROOT/datasets/labelled" --repeat "$REPEAT" --out "$HERE/results-methods.md"
