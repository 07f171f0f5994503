#!/usr/bin/env bash
# Comparison benchmark: segmint vs DuckDB vs Polars on generated transaction logs.
# See benches/compare/README.md. Usage: bash benches/compare/run.sh --help
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"
DATA="$HERE/data"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.requirements.installed"
SEGMINT="$ROOT/target/release/segmint"
SEED=42

ROWS_SETS="10000000:100000 50000000:1000000"
REPEAT=3
ENGINES="segmint duckdb polars"
BUILD=1
THREADS=2

say() { printf '[compare] %s\n' "$*" >&2; }
die() { printf '[compare] error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<EOF
Usage: bash benches/compare/run.sh [options]

Compares 'segmint features' with a DuckDB and a Polars GROUP BY user_id on
synthetic transaction logs, every engine limited to $THREADS threads.

Options:
  --rows-sets "R:U ..."  space-separated ROWS:USERS pairs, one data file each
                         (default: "$ROWS_SETS")
  --repeat N             runs per engine and file; median, min, max reported
                         (default: $REPEAT)
  --engines "E ..."      subset of: segmint duckdb polars segmint-nommap
                         (default: "$ENGINES")
  --no-build             use the existing target/release/segmint as is
  -h, --help             this text

Data files are kept in benches/compare/data/ (delete them to regenerate);
results go to benches/compare/results.md.
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows-sets) [[ $# -ge 2 ]] || die "--rows-sets needs a value"; ROWS_SETS="$2"; shift 2 ;;
        --rows-sets=*) ROWS_SETS="${1#*=}"; shift ;;
        --repeat) [[ $# -ge 2 ]] || die "--repeat needs a value"; REPEAT="$2"; shift 2 ;;
        --repeat=*) REPEAT="${1#*=}"; shift ;;
        --engines) [[ $# -ge 2 ]] || die "--engines needs a value"; ENGINES="$2"; shift 2 ;;
        --engines=*) ENGINES="${1#*=}"; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a positive integer, got '$REPEAT'"
read -r -a SETS <<<"$ROWS_SETS"
[[ ${#SETS[@]} -gt 0 ]] || die "--rows-sets is empty"
for s in "${SETS[@]}"; do
    [[ "$s" =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || die "bad --rows-sets entry '$s' (expected ROWS:USERS, e.g. 10000000:100000)"
done
read -r -a ENGINE_LIST <<<"$ENGINES"
[[ ${#ENGINE_LIST[@]} -gt 0 ]] || die "--engines is empty"
for e in "${ENGINE_LIST[@]}"; do
    case "$e" in segmint|duckdb|polars|segmint-nommap) ;; *) die "unknown engine '$e' (choose from: segmint duckdb polars segmint-nommap)" ;; esac
done

# --- 1. Python venv with the pinned peers ------------------------------------
command -v python3 >/dev/null || die "python3 not found"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv at $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
if [[ ! -f "$STAMP" ]] || ! cmp -s "$REQ" "$STAMP" \
    || ! "$VENV/bin/python" -c 'import duckdb, polars' 2>/dev/null; then
    say "installing pinned packages from $REQ"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
        || die "pip install -r $REQ failed"
    cp "$REQ" "$STAMP"
else
    say "venv up to date ($(grep -Ev '^\s*(#|$)' "$REQ" | paste -sd ' ' -))"
fi

# --- 2. segmint ---------------------------------------------------------------
if [[ "$BUILD" == 1 ]]; then
    command -v cargo >/dev/null || die "cargo not found (install Rust, or pass --no-build with a built binary)"
    say "building segmint (cargo build --release)"
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[[ -x "$SEGMINT" ]] || die "$SEGMINT not found (build it, or drop --no-build)"

# --- 3. data files, generated once per (rows, users, seed) ---------------------
mkdir -p "$DATA"
SET_ARGS=()
for s in "${SETS[@]}"; do
    rows="${s%%:*}"; users="${s##*:}"
    f="$DATA/tx_${rows}r_${users}u_s${SEED}.csv"
    if [[ -s "$f" ]]; then
        say "data: reusing $(basename "$f")"
    else
        say "data: generating $(basename "$f") ($rows rows, $users users, seed $SEED)"
        # ~65 bytes a row; warn (do not stop) when the disk looks too small.
        need_kb=$(( rows * 70 / 1024 ))
        avail_kb=$(df -Pk "$DATA" | awk 'NR==2 {print $4}')
        if [[ -n "$avail_kb" && "$avail_kb" -lt "$need_kb" ]]; then
            say "warning: about $((need_kb / 1024)) MiB needed for this file, only $((avail_kb / 1024)) MiB free"
        fi
        tmp="$f.partial"
        rm -f "$tmp"
        "$SEGMINT" --quiet generate --users "$users" --rows "$rows" --seed "$SEED" -o "$tmp" \
            || { rm -f "$tmp"; die "segmint generate failed for $s"; }
        mv "$tmp" "$f"
    fi
    SET_ARGS+=(--set "$rows:$users:$f")
done

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
CMDLINE="bash benches/compare/run.sh --rows-sets \"$ROWS_SETS\" --repeat $REPEAT"
[[ "$ENGINES" == "segmint duckdb polars" ]] || CMDLINE+=" --engines \"$ENGINES\""

exec "$VENV/bin/python" "$HERE/compare.py" bench \
    --segmint "$SEGMINT" \
    --repo "$ROOT" \
    --out-dir "$DATA/out" \
    --repeat "$REPEAT" \
    --threads "$THREADS" \
    --engines "${ENGINE_LIST[@]}" \
    --rss-method "$RSS_METHOD" \
    --results "$HERE/results.md" \
    --raw-json "$DATA/results.json" \
    --command "$CMDLINE" \
    "${SET_ARGS[@]}"
