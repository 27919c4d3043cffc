#!/usr/bin/env bash
# The whole test suite: lint, format check, then every test (4 workers: most tests wait
# on Telegram's pacing or simulated candles, not on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${NIJA_TEST_WORKERS:-4}" "$@"
