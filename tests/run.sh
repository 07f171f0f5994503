#!/usr/bin/env bash
# The whole test suite: installs what the tests need when it is missing
# (Debian/Ubuntu packages), then runs every test with one release build.
set -euo pipefail
cd "$(dirname "$0")/.."

have_browser() {
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
        command -v google-chrome >/dev/null || [ -n "${SEGMINT_CHROMIUM:-}" ]
}

if ! have_browser && command -v apt-get >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo -n"
    fi
    echo "tests/run.sh: installing chromium (for the report's browser test)" >&2
    if ! { $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            chromium fonts-dejavu-core >/dev/null; }; then
        echo "tests/run.sh: could not install chromium; the browser test will say so" >&2
    fi
fi

cargo test --release "$@"
