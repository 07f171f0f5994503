#!/usr/bin/env bash
# The whole test suite: installs what the tests need when it is missing
# (Debian/Ubuntu packages), then runs every test with one optimised build
# (the `ci` profile of Cargo.toml: release without link-time optimisation).
#
# - Chromium renders the HTML report (tests/browser_report.rs).
# - A Vulkan loader and Mesa's software Vulkan driver (lavapipe) run the
#   GPU tests on machines without a GPU. lavapipe says nothing of GPU
#   speed; it checks that the kernels compute what the CPU backend does.
set -euo pipefail
cd "$(dirname "$0")/.."

have_browser() {
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
        command -v google-chrome >/dev/null || [ -n "${SEGMINT_CHROMIUM:-}" ]
}

have_vulkan() {
    # A loader, and at least one driver manifest (lavapipe's, or a GPU's).
    { ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; } &&
        compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null
}

packages=()
have_browser || packages+=(chromium fonts-dejavu-core)
have_vulkan || packages+=(mesa-vulkan-drivers libvulkan1)
# Spark (tests/spark_stage.rs) runs on a Java runtime, 17 or later.
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)

if [ ${#packages[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo -n"
    fi
    echo "tests/run.sh: installing ${packages[*]}" >&2
    if ! { $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${packages[@]}" >/dev/null; }; then
        echo "tests/run.sh: could not install ${packages[*]}; the tests that need them will say so" >&2
    fi
fi

# PyArrow reads segmint's Parquet and Arrow outputs back
# (tests/cli_formats.rs, through tests/reference/read_table.py): a venv with
# the pinned wheels of tests/reference/requirements-formats.txt (PyArrow and
# zstandard, nothing else), made once. Without it those tests skip (or fail,
# under SEGMINT_REQUIRE_PYARROW=1).
formats_venv=tests/reference/.venv-formats
if [ ! -x "$formats_venv/bin/python" ] ||
    ! "$formats_venv/bin/python" -c "import pyarrow, zstandard" 2>/dev/null; then
    echo "tests/run.sh: making $formats_venv (PyArrow, zstandard)" >&2
    if ! { python3 -m venv "$formats_venv" &&
        "$formats_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --only-binary=:all: -r tests/reference/requirements-formats.txt; }; then
        # A half-made venv would look ready to the tests: leave none.
        rm -rf "$formats_venv"
        echo "tests/run.sh: could not make $formats_venv; the PyArrow round trips will say so" >&2
    fi
fi

# Spark in local mode (tests/spark_stage.rs): PySpark, PyArrow and NumPy,
# pinned in tests/spark/requirements-spark.txt, made once. Without it (or
# without Java) that test skips (or fails, under SEGMINT_REQUIRE_SPARK=1).
spark_venv=tests/reference/.venv-spark
if [ ! -x "$spark_venv/bin/python" ] ||
    ! "$spark_venv/bin/python" -c "import pyspark, pyarrow, numpy" 2>/dev/null; then
    echo "tests/run.sh: making $spark_venv (PySpark, PyArrow, NumPy)" >&2
    # PySpark is published as a source archive only (pure Python, with
    # Spark's jars): built locally, every other package from a wheel.
    if ! { python3 -m venv "$spark_venv" &&
        "$spark_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --only-binary=:all: --no-binary=pyspark -r tests/spark/requirements-spark.txt; }; then
        rm -rf "$spark_venv"
        echo "tests/run.sh: could not make $spark_venv; the Spark stage test will say so" >&2
    fi
fi

# Vulkan loaders warn on every instance without a runtime directory.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "${XDG_RUNTIME_DIR}" ]; then
    XDG_RUNTIME_DIR="$(mktemp -d)"
    chmod 700 "$XDG_RUNTIME_DIR"
    export XDG_RUNTIME_DIR
fi

cargo test --profile ci "$@"
