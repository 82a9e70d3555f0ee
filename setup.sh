#!/usr/bin/env bash
# One-time set-up on a fresh machine: a virtual environment with the CPU build of torch
# (installed first, so nothing pulls the multi-GB CUDA build) and this project.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
