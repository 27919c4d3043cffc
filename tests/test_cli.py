import socket
import sqlite3
import subprocess

import pytest

from tests.bot_api_process import run_fake_bot_api
from tests.conftest import PYTHON, REPO, TEST_TOKEN, make_env


def run(data_dir, *args, **env):
    return subprocess.run(
        [PYTHON, "-m", "nija_tg", *args],
        cwd=REPO,
        env=make_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_everywhere(data_dir):
    for args in (
        [],
        ["init"],
        ["keygen"],
        ["rotate-key"],
        ["admin"],
        ["users"],
        ["backup"],
        ["bot"],
        ["engine"],
        ["check"],
        ["health"],
        ["backtest"],
    ):
        result = run(data_dir, *args, "--help")
        assert result.returncode == 0, (args, result.stderr)
        assert "usage: nija-tg" in result.stdout


def test_init_is_idempotent_private_and_publishes_the_public_key(data_dir):
    import sqlite3

    from nija_tg.vault.keyring import KeyRing, read_key_file

    data_dir.chmod(0o755)
    first = run(data_dir, "init")
    assert first.returncode == 0, first.stderr
    assert "engine key file" in first.stdout and "published" in first.stdout
    key_file = data_dir / "engine.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert oct(data_dir.stat().st_mode & 0o777) == "0o700"
    db_file = data_dir / "nija.sqlite3"
    assert oct(db_file.stat().st_mode & 0o777) == "0o600"
    key = key_file.read_text()
    second = run(data_dir, "init")
    assert second.returncode == 0
    assert "engine key file" not in second.stdout and "published" not in second.stdout
    assert key_file.read_text() == key
    with sqlite3.connect(db_file) as conn:
        published = conn.execute("SELECT key_id, state FROM seal_keys").fetchall()
    assert published == [(KeyRing(read_key_file(key_file)).primary.key_id, "current")]
    assert key.strip().encode() not in db_file.read_bytes()


def test_keygen_prints_an_engine_key(data_dir):
    from nija_tg.vault.keyring import parse_private_keys

    result = run(data_dir, "keygen")
    assert result.returncode == 0
    assert len(parse_private_keys(result.stdout, "keygen")) == 1


def test_admin_add_remove_and_users(data_dir):
    run(data_dir, "init")
    assert run(data_dir, "admin", "add", "12345").returncode == 0
    listing = run(data_dir, "users")
    assert "12345" in listing.stdout and "admin" in listing.stdout
    last = run(data_dir, "admin", "remove", "12345")  # the only admin: refused
    assert last.returncode == 1 and "last admin" in last.stderr, last.stderr
    assert "admin" in run(data_dir, "users").stdout
    assert run(data_dir, "admin", "add", "777").returncode == 0
    assert run(data_dir, "admin", "remove", "12345").returncode == 0
    assert "trader" in run(data_dir, "users").stdout
    last = run(data_dir, "admin", "remove", "777")
    assert last.returncode == 1 and "last admin" in last.stderr
    not_admin = run(data_dir, "admin", "remove", "12345")  # a trader now: left as is
    assert not_admin.returncode == 0 and "not an admin" in not_admin.stdout
    bad = run(data_dir, "admin", "add", "@bob")
    assert bad.returncode == 2 and "positive number" in bad.stderr
    missing = run(data_dir, "admin", "remove", "999")
    assert missing.returncode == 1


def test_backup_restores(data_dir, tmp_path):
    run(data_dir, "init")
    run(data_dir, "admin", "add", "77")
    target = tmp_path / "b" / "backup.sqlite3"
    result = run(data_dir, "backup", str(target))
    assert result.returncode == 0, result.stderr
    import sqlite3

    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT role FROM users WHERE user_id = 77").fetchone()[0] == "admin"
    conn.close()
    assert (data_dir / "engine.key").read_text().strip().encode() not in target.read_bytes()
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_missing_token_is_one_clear_line(data_dir):
    result = run(data_dir, "bot")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr and "BotFather" in result.stderr
    assert "Traceback" not in result.stderr
    assert run(data_dir, "check").returncode == 2


def test_bad_config_names_the_variable(data_dir):
    result = run(data_dir, "users", NIJA_EXCHANGE_URLS="[1]")
    assert result.returncode == 2
    assert "NIJA_EXCHANGE_URLS" in result.stderr and "Traceback" not in result.stderr


def test_wrong_engine_key_is_reported_without_secret(data_dir):
    run(data_dir, "init")
    result = run(data_dir, "rotate-key", "--env", NIJA_ENGINE_KEY="not-an-engine-key-SENTINEL")
    assert result.returncode == 1
    assert "NIJA_ENGINE_KEY" in result.stderr
    assert "SENTINEL" not in result.stderr


def test_run_script_without_token_stops_with_one_line(tmp_path):
    env = make_env(tmp_path / "d")
    result = subprocess.run(
        ["bash", "scripts/run.sh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def bot_api(tmp_path):
    yield from run_fake_bot_api(tmp_path)


def _check(data_dir, api, token=TEST_TOKEN):
    return run(data_dir, "check", TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_BASE_URL=api)


def test_check_names_the_bot_and_proves_key_file_and_database(data_dir, bot_api):
    fresh = _check(data_dir, bot_api)
    assert fresh.returncode == 0, fresh.stderr
    assert "ok: bot @fake_test_bot" in fresh.stdout
    assert "nija-tg init` creates it" in fresh.stdout  # no key file, no database yet
    assert run(data_dir, "init").returncode == 0
    ready = _check(data_dir, bot_api)
    assert ready.returncode == 0, ready.stderr
    assert "current" in ready.stdout and "mode 0600" in ready.stdout
    assert TEST_TOKEN.split(":")[1] not in ready.stdout + ready.stderr


def test_check_refuses_a_well_formed_token_the_api_rejects(data_dir, bot_api):
    other = "123456789:OTHERtokenOTHERtokenOTHERtokenOTHER"
    result = _check(data_dir, bot_api, token=other)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "refused TELEGRAM_BOT_TOKEN" in result.stderr
    assert "OTHERtoken" not in result.stderr and "Traceback" not in result.stderr


def test_check_fails_in_one_line_when_the_api_is_unreachable(data_dir):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _check(data_dir, f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "could not be reached" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_refuses_a_key_file_others_can_read(data_dir, bot_api):
    assert run(data_dir, "init").returncode == 0
    (data_dir / "engine.key").chmod(0o644)
    result = _check(data_dir, bot_api)
    assert result.returncode == 1
    assert "readable by others (mode 0644)" in result.stderr and "chmod 600" in result.stderr


def test_check_refuses_a_database_newer_than_the_release(data_dir, bot_api):
    assert run(data_dir, "init").returncode == 0
    with sqlite3.connect(data_dir / "nija.sqlite3") as conn:
        conn.execute("INSERT INTO schema_migrations(version, applied_at) VALUES (999, 0)")
    result = _check(data_dir, bot_api)
    assert result.returncode == 1
    assert "schema 999, newer than this release" in result.stderr


def test_run_script_finds_the_data_dir_in_dot_env(tmp_path):
    """run.sh and ctl.sh resolve NIJA_DATA_DIR as the programs do: the environment over
    .env, default ./data (the supervisor's socket and pid file live there)."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "data_dir.sh").write_text((REPO / "scripts" / "data_dir.sh").read_text())
    (root / ".venv").symlink_to(REPO / ".venv")
    (root / ".env").write_text("# operator's file\nNIJA_DATA_DIR=/srv/nija-from-env-file\n")
    script = ". scripts/data_dir.sh; echo $NIJA_DATA_DIR"
    env = {k: v for k, v in make_env(tmp_path).items() if k != "NIJA_DATA_DIR"}
    env["PYTHONPATH"] = str(REPO)

    def resolved(**extra):
        out = subprocess.run(
            ["bash", "-c", script], cwd=root, env={**env, **extra}, capture_output=True, text=True
        )
        return out.stdout.strip()

    assert resolved() == "/srv/nija-from-env-file"
    assert resolved(NIJA_DATA_DIR="/srv/from-environment") == "/srv/from-environment"
    (root / ".env").unlink()
    assert resolved() == str(root / "data")


def test_health_exits_non_zero_until_the_engine_beats(data_dir):
    import asyncio
    import time

    from nija_tg.storage import heartbeats
    from nija_tg.storage.db import Database

    assert run(data_dir, "init").returncode == 0
    never = run(data_dir, "health")
    assert never.returncode == 1 and "never reported" in never.stdout

    async def beat(at: float) -> None:
        db = await Database.open(data_dir / "nija.sqlite3")
        try:
            async with db.transaction() as tx:
                await heartbeats.replace_all(tx, at, {"engine": {"loops": 0, "backlog": 0}})
        finally:
            await db.close()

    asyncio.run(beat(time.time()))
    fresh = run(data_dir, "health")
    assert fresh.returncode == 0, fresh.stdout
    asyncio.run(beat(time.time() - 600))
    stale = run(data_dir, "health")
    assert stale.returncode == 1 and "the engine last reported 10 min ago" in stale.stdout
