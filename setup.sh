#!/usr/bin/env bash
# Set up facerec: a virtual environment in .venv/ with pinned dependencies, the
# `facerec` command in .venv/bin/, and images/ filled from the shared assets
# ($FACEREC_ASSETS, default ../shared/assets). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
.venv/bin/facerec setup
