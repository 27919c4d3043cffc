#!/usr/bin/env bash
# The whole test suite: lint, format check, then every test. 8 workers on 2 cores: most
# tests wait on Telegram's pacing or simulated candles, not on the CPU (the handler
# tests: 42 s of CPU in 746 s of wall). Tests go out two at a time (--maxschedchunk 2;
# xdist's default first chunk is ~70 tests a worker), so the longest ones, which
# tests/conftest.py puts first, start at once on different workers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${NIJA_TEST_WORKERS:-8}" \
  --maxschedchunk 2 "$@"
