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
# Every worker imports every test module, and pytest rewrites each module's asserts as
# it does (~5 s of CPU a worker): collect once first, writing the rewritten modules'
# cache that the workers then read (Python reads .pyc files even where
# PYTHONDONTWRITEBYTECODE keeps it from writing them). A failure shows in the run below.
env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m pytest -q -p no:cacheprovider \
  --collect-only "$@" >/dev/null 2>&1 || true
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${NIJA_TEST_WORKERS:-8}" \
  --maxschedchunk 2 "$@"
