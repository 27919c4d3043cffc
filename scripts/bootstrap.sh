#!/usr/bin/env bash
# Create .venv with Python >= 3.12 if needed and install the project (and test extras).
# Re-installs only when pyproject.toml changed since the last install.
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
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "nija_tg needs Python >= 3.12 (pandas-ta requires it); install it (e.g. pyenv install 3.12) and retry." >&2
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
  rm -rf .venv
  "$(find_python)" -m venv .venv
fi

extras="${1:-test}"
stamp=".venv/.installed-${extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -e ".[${extras}]"
  touch "$stamp"
fi
