#!/usr/bin/env bash
# The main job: set up if needed, then run the bot and the engine under supervisord in
# the foreground. Paper trading and SQLite are the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# NIJA_DATA_DIR as the programs see it: the environment over .env, default ./data
. scripts/data_dir.sh
mkdir -p "$NIJA_DATA_DIR/logs"
# One clear line and a non-zero exit when something is missing (e.g. the bot token).
"$NIJA_PYTHON" -m nija_tg check
"$NIJA_PYTHON" -m nija_tg init >/dev/null
# Logs, the database and backups are readable by this user only.
umask 077
exec "$PWD/.venv/bin/supervisord" -n -c "$PWD/supervisord.conf"
