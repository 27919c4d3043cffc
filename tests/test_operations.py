"""What docs/operations.md tells an operator to do, done: restore a backup into a fresh
data directory and start, and upgrade a database made by the previous release."""

from __future__ import annotations

import gzip
import shutil
import signal
import subprocess
import time

from nija_tg.storage.db import schema_versions
from nija_tg.storage.migrations import MIGRATIONS
from tests.conftest import PYTHON, REPO, make_env
from tests.test_cli import run as cli

RELEASE_7 = REPO / "tests" / "data" / "release-7.sqlite3.gz"


def run_engine_briefly(data_dir, seconds: float = 4.0) -> tuple[int, str]:
    """Start the engine, let it run, SIGTERM it: (exit code, its log)."""
    log = data_dir / "engine-test.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "nija_tg", "engine"],
            cwd=REPO,
            env=make_env(data_dir, NIJA_ENGINE_DRAIN_SECONDS="2"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while "engine running" not in log.read_text() and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        time.sleep(seconds)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    return code, log.read_text()


def test_a_backup_restored_into_a_fresh_data_dir_starts(tmp_path):
    live = tmp_path / "live"
    assert cli(live, "init").returncode == 0
    assert cli(live, "admin", "add", "77").returncode == 0
    backup = tmp_path / "nightly.sqlite3"
    done = cli(live, "backup", str(backup))
    assert done.returncode == 0, done.stderr

    fresh = tmp_path / "restored"
    fresh.mkdir(mode=0o700)
    shutil.copy2(backup, fresh / "nija.sqlite3")
    shutil.copy2(live / "engine.key", fresh / "engine.key")  # kept apart from the data
    users = cli(fresh, "users")
    assert users.returncode == 0 and "77" in users.stdout, users.stderr
    code, log = run_engine_briefly(fresh)
    assert "engine running" in log and "Traceback" not in log, log[-2000:]
    assert code == 0


def test_a_database_of_the_previous_release_migrates(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    db_file = data_dir / "nija.sqlite3"
    db_file.write_bytes(gzip.decompress(RELEASE_7.read_bytes()))
    latest = MIGRATIONS[-1][0]
    assert schema_versions(db_file) == (7, latest)
    counts_before = _counts(db_file)

    assert cli(data_dir, "init").returncode == 0  # migrates, publishes an engine key
    assert schema_versions(db_file) == (latest, latest)
    assert _counts(db_file) == counts_before  # nothing lost
    users = cli(data_dir, "users")
    assert users.returncode == 0 and "77" in users.stdout and "78" in users.stdout
    code, log = run_engine_briefly(data_dir)
    assert "engine running" in log and "Traceback" not in log, log[-2000:]
    assert code == 0


def _counts(db_file) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(db_file) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("users", "orders", "fills", "positions", "snapshots")
        }


def _procfile(name: str) -> dict[str, str]:
    lines = (REPO / name).read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_procfiles_run_both_programs():
    # one-volume platforms: one process type, both programs under supervisord
    assert _procfile("Procfile") == {"worker": "./scripts/run.sh"}
    assert "[program:bot]" in (REPO / "supervisord.conf").read_text()
    assert "[program:engine]" in (REPO / "supervisord.conf").read_text()
    # a shared disk: the two programs as two process types, each a real subcommand
    shared = _procfile("Procfile.shared-disk")
    assert set(shared) == {"bot", "engine"}
    for kind, command in shared.items():
        assert command == f"python -m nija_tg {kind}"
        helped = subprocess.run(
            [PYTHON, "-m", "nija_tg", kind, "--help"], cwd=REPO, capture_output=True, text=True
        )
        assert helped.returncode == 0
