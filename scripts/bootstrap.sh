#!/usr/bin/env bash
# Create .venv with Python >= 3.12 if needed and install the project (and test extras).
# Re-installs only when the lock file or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local want candidate
  want="$(tr -d '[:space:]' < .python-version 2>/dev/null || true)"
  for candidate in \
    "${NIJA_PYTHON:-}" \
    "$(command -v pyenv >/dev/null 2>&1 && [ -n "$want" ] && pyenv prefix "$want" 2>/dev/null | sed 's|$|/bin/python3|' || true)" \
    python3.13 python3.12 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if (3, 12) <= sys.version_info < (3, 14) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "nija_tg needs Python 3.12 or 3.13 (pandas-ta requires >= 3.12, its numba < 3.14); install it (e.g. pyenv install 3.12) and retry." >&2
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if (3, 12) <= sys.version_info < (3, 14) else 1)' 2>/dev/null; then
  rm -rf .venv
  "$(find_python)" -m venv .venv
fi

# "test" installs the test tools too; no argument installs what the service needs.
# Dependencies come only from the lock files (exact versions, verified hashes;
# scripts/lock.sh re-resolves them), then the project itself without resolving anything.
extras="${1:-}"
lock=requirements.lock
[ -n "$extras" ] && lock=requirements-test.lock
fresh() {
  local stamp=".venv/.installed-$1"
  [ -f "$stamp" ] && [ ! "$1" -nt "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ]
}
if fresh "$lock" || { [ -z "$extras" ] && fresh requirements-test.lock; }; then
  exit 0  # up to date (the test lock holds everything the service needs too)
fi
echo "installing nija_tg into .venv from $lock (first run takes a few minutes)..." >&2
if ! { .venv/bin/python -m pip install --require-hashes --no-deps -r "$lock" &&
       .venv/bin/python -m pip install --no-deps -e .; } >.venv/install.log 2>&1; then
  tail -n 30 .venv/install.log >&2
  echo "installation failed; the full log is in .venv/install.log" >&2
  exit 1
fi
.venv/bin/python -c "import nija_tg, telegram, ccxt, pandas_ta, aiosqlite, supervisor" \
  || { echo "installation failed" >&2; exit 1; }
touch ".venv/.installed-$lock"
