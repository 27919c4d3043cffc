#!/usr/bin/env bash
# Re-resolve the locked dependencies from pyproject.toml (exact versions and hashes):
#   scripts/lock.sh             versions as locked now where still allowed
#   scripts/lock.sh --upgrade   the newest versions pyproject.toml allows
# Writes requirements.lock (the service) and requirements-test.lock (service + tests);
# both README commands install exactly these (pip --require-hashes).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=.venv-lock
if [ ! -x "$tools/bin/pip-compile" ]; then
  python="$(tr -d '[:space:]' < .python-version)"
  base="$(command -v pyenv >/dev/null 2>&1 && pyenv prefix "$python" 2>/dev/null || true)"
  "${base:+$base/bin/}python3" -m venv "$tools"
  "$tools/bin/pip" install --quiet "pip-tools>=7.4"
fi
common=(--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url
        --no-emit-find-links --no-emit-trusted-host "$@")
"$tools/bin/pip-compile" "${common[@]}" -o requirements.lock pyproject.toml
"$tools/bin/pip-compile" "${common[@]}" --extra test -o requirements-test.lock pyproject.toml
echo "wrote requirements.lock and requirements-test.lock"
