#!/usr/bin/env bash
# House rules: ruff over the whole tree, mypy over the packages configured in pyproject.toml.
# Exits non-zero on any finding. Run scripts/setup.sh first (it installs both into .venv).
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
echo "ruff check ."
.venv/bin/ruff check . || status=1
echo "mypy (packages: [tool.mypy] files in pyproject.toml)"
.venv/bin/mypy || status=1
exit "$status"
