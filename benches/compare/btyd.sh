#!/usr/bin/env bash
# Lifetime value: segmint's BG/NBD + Gamma-Gamma fit vs the `lifetimes`
# package's, on the same million customers. See benches/compare/README.md.
#
# Usage: bash benches/compare/btyd.sh [--users N] [--repeat R]
#
# 1. Creates tests/reference/.venv-btyd (pinned by
#    tests/reference/requirements-btyd.txt, the reference fixtures'
#    environment) when needed.
# 2. btyd.py generates N customer summaries (frequency, recency, T,
#    monetary_value; default 1,000,000) from known BG/NBD and Gamma-Gamma
#    parameters, times lifetimes' BetaGeoFitter.fit and
#    GammaGammaFitter.fit on them (median of R runs) and writes them to
#    benches/compare/data/btyd_<N>.csv.
# 3. The same customers, as segmint's columns (active_days =
#    frequency + 1, active_span_days = recency, age_days = T, repeat_spend =
#    monetary_value), go through `segmint bench lifetime` (both fits, as
#    `fit` and `report` run them; reading excluded, as lifetimes' timing
#    excludes it), median of R runs.
# It does not build segmint: run `cargo build --release` first.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/tests/reference/.venv-btyd"
REQ="$ROOT/tests/reference/requirements-btyd.txt"
SEGMINT="$ROOT/target/release/segmint"
USERS=1000000
REPEAT=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --users) USERS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
say() { printf '[btyd] %s\n' "$*" >&2; }

[[ -x "$SEGMINT" ]] || { say "build segmint first: cargo build --release"; exit 1; }
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv at $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$REQ"
fi
mkdir -p "$HERE/data"
DATA="$HERE/data/btyd_${USERS}.csv"
OURS="$HERE/data/btyd_${USERS}_segmint.csv"
export OMP_NUM_THREADS=2 RAYON_NUM_THREADS=2

say "lifetimes on $USERS customers"
"$VENV/bin/python" "$HERE/btyd.py" --users "$USERS" --repeat "$REPEAT" --write-csv "$DATA"

"$VENV/bin/python" - "$DATA" "$OURS" <<'PY'
import csv, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as dst:
    dst.write("user_id,active_days,active_span_days,age_days,repeat_spend\n")
    for i, row in enumerate(csv.DictReader(src)):
        f = int(float(row["frequency"]))
        spend = row["monetary_value"] if f > 0 else ""
        dst.write(f"c{i},{f + 1},{int(float(row['recency']))},{int(float(row['T']))},{spend}\n")
PY
say "segmint on the same customers"
"$SEGMINT" bench lifetime --features-input "$OURS" --repeat "$REPEAT"
