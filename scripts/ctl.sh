#!/usr/bin/env bash
# supervisorctl for the running service, wherever NIJA_DATA_DIR (environment or .env)
# puts its socket: scripts/ctl.sh status | restart engine | tail -f bot ...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/data_dir.sh
exec "$PWD/.venv/bin/supervisorctl" -c "$PWD/supervisord.conf" "$@"
