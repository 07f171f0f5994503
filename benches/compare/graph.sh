#!/usr/bin/env bash
# Graph community detection: segmint's Leiden vs python-igraph, leidenalg, networkit.
# See benches/compare/README.md and the docstring of graph.py.
#
# Usage: bash benches/compare/graph.sh [graph.py options]
#   bash benches/compare/graph.sh                        # peers only: graphs easy, large, hard; 3 runs each
#   bash benches/compare/graph.sh --segmint target/release/segmint              # + segmint's rows
#   bash benches/compare/graph.sh --segmint target/release/segmint --log-bench  # + the graph from a 50M-row log
#   bash benches/compare/graph.sh --datasets easy --repeat 1                     # smoke test
#   bash benches/compare/graph.sh --help                                         # every option
#
# Creates benches/compare/.venv-graph (pinned by requirements-graph.txt) when
# needed, then runs graph.py with every argument passed on. It does not build
# segmint: run `cargo build --release` first and pass --segmint. Graphs are
# kept in benches/compare/data/ (delete graph_* there to regenerate); results
# go to benches/compare/results-graph.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv-graph"
REQ="$HERE/requirements-graph.txt"
STAMP="$VENV/.requirements.installed"
THREADS=2

say() { printf '[graph] %s\n' "$*" >&2; }
die() { printf '[graph] error: %s\n' "$*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 not found"
for arg in "$@"; do
    # graph.py imports nothing beyond the standard library until it runs
    [[ "$arg" == -h || "$arg" == --help ]] && exec python3 "$HERE/graph.py" --help
done

# --- 1. Python venv with the pinned peers ------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating venv at $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
# Keep the venv out of git whatever .gitignore says (what Python >= 3.13's venv does).
[[ -f "$VENV/.gitignore" ]] || printf '*\n' >"$VENV/.gitignore"
if [[ ! -f "$STAMP" ]] || ! cmp -s "$REQ" "$STAMP" \
    || ! "$VENV/bin/python" -c 'import igraph, leidenalg, networkit, pandas, pyarrow, numpy, sklearn' 2>/dev/null; then
    say "installing pinned packages from $REQ"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
        || die "pip install -r $REQ failed"
    cp "$REQ" "$STAMP"
else
    say "venv up to date ($(grep -Ev '^\s*(#|$)' "$REQ" | paste -sd ' ' -))"
fi

# --- 2. run --------------------------------------------------------------------
CMDLINE="bash benches/compare/graph.sh"
for arg in "$@"; do CMDLINE+=" $(printf '%q' "$arg")"; done

cd "$ROOT"
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
exec "$VENV/bin/python" "$HERE/graph.py" --command "$CMDLINE" "$@"
