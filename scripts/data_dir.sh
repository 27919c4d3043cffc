# Sourced by run.sh and ctl.sh: exports NIJA_DATA_DIR as the programs resolve it (the
# environment over .env, default ./data), absolute, and NIJA_PYTHON.
export NIJA_PYTHON="$PWD/.venv/bin/python"
NIJA_DATA_DIR="$("$NIJA_PYTHON" -c 'from nija_tg.config import load_settings
print(load_settings().data_dir)' 2>/dev/null)" || NIJA_DATA_DIR="${NIJA_DATA_DIR:-$PWD/data}"
export NIJA_DATA_DIR
