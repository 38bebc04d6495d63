#!/usr/bin/env bash
# Builds the Python environment of the benchmark anchors in bench/anchors/.venv.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python3 -m venv "$here/anchors/.venv"
"$here/anchors/.venv/bin/pip" install --upgrade pip >/dev/null
"$here/anchors/.venv/bin/pip" install -r "$here/anchors/requirements.txt"
echo "anchors installed in $here/anchors/.venv"
