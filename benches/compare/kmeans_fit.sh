#!/usr/bin/env bash
# Whole K-Means fits to convergence from one k-means++ start: segmint
# (--algorithm lloyd, hamerly, auto) against scikit-learn (lloyd, elkan),
# 2 threads each, on blobs (1M x 8, 1M x 3) and uniform points (1M x 8).
# Usage: bash benches/compare/kmeans_fit.sh [--ks 8,64] [--repeat 3] [--no-build]
# Needs the data and venv of cluster.sh (it runs `cluster.sh --measures lloyd
# --engines sklearn` first when they are missing).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="$HERE/.venv-cluster/bin/python"
KS=8,64
REPEAT=3
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --ks) KS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "kmeans_fit.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [[ ! -x "$PY" || ! -f "$HERE/data/points_1000000x8.npy" || ! -f "$HERE/data/points_1000000x3.npy" ]]; then
    bash "$HERE/cluster.sh" --measures lloyd --engines sklearn --repeat 1
fi
if [[ "$BUILD" == 1 ]]; then
    (cd "$ROOT" && cargo build --release --quiet)
fi
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
"$PY" "$HERE/kmeans_fit.py" --segmint "$ROOT/target/release/segmint" --data "$HERE/data" \
    --ks "$KS" --repeat "$REPEAT" --threads 2 --out "$HERE/data/results-kmeans-fit.json"
