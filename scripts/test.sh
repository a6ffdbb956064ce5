#!/usr/bin/env bash
# The one test command: set up what is missing, check the house rules (ruff + mypy), then run
# the whole suite. With arguments (a file, -k ...) it runs just those tests, without the lint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then
  bash scripts/lint.sh
fi
exec .venv/bin/python -m pytest "$@"
