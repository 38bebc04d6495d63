#!/usr/bin/env bash
# The one test command: the Rust suite, then the Python package's suite (pytest) against the
# package built from this checkout. The Python environment lives in .venv (created on first use,
# pinned by python/requirements-test.txt). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --release
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r python/requirements-test.txt
# maturin comes from the pinned requirements (no isolated build environment to download); its
# build hook calls the `maturin` executable, hence .venv/bin first on PATH.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pip install --quiet --no-build-isolation --force-reinstall --no-deps ./python
.venv/bin/python -m pytest -q python/tests examples "$@"
