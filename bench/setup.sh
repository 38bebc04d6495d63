#!/usr/bin/env bash
# Builds the Python environments of the benchmark anchors: bench/anchors/.venv (torch, JAX)
# and bench/anchors/.venv-nt (neural-tangents in its own pinned environment).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python3 -m venv "$here/anchors/.venv"
"$here/anchors/.venv/bin/pip" install --upgrade pip >/dev/null
"$here/anchors/.venv/bin/pip" install -r "$here/anchors/requirements.txt"
python3 -m venv "$here/anchors/.venv-nt"
"$here/anchors/.venv-nt/bin/pip" install --upgrade pip >/dev/null
"$here/anchors/.venv-nt/bin/pip" install -r "$here/anchors/requirements-nt.txt"
echo "anchors installed in $here/anchors/.venv and $here/anchors/.venv-nt"
