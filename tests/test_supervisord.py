"""The real supervisord.conf runs both programs; the bot answers /start through a fake
Bot API server in another process; SIGTERM stops everything cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.bot_api_process import run_fake_bot_api, wait_for
from tests.conftest import PYTHON, REPO, TEST_TOKEN, make_env

VENV_BIN = Path(PYTHON).parent


_wait = wait_for


def _http(url: str, body: dict | None = None, timeout: float = 10) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture
def fake_bot_api(tmp_path):
    yield from run_fake_bot_api(tmp_path)


def _pid(conf: Path, env: dict, program: str) -> int:
    out = subprocess.run(
        [str(VENV_BIN / "supervisorctl"), "-c", str(conf), "pid", program],
        capture_output=True,
        text=True,
        env=env,
        cwd=conf.parent,
    ).stdout
    return int(out.strip())


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if item)


def _status(conf: Path, env: dict) -> dict[str, str]:
    out = subprocess.run(
        [str(VENV_BIN / "supervisorctl"), "-c", str(conf), "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=conf.parent,
    ).stdout
    states = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = parts[1]
    return states


def _deploy(tmp_path: Path, api: str, **extra: str) -> tuple[Path, Path, dict]:
    """A deployment directory with the real supervisord.conf (byte for byte), its data
    directory initialised, and the environment supervisord gets."""
    root = tmp_path / "deploy"
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    conf = root / "supervisord.conf"
    shutil.copy(REPO / "supervisord.conf", conf)
    env = make_env(
        data_dir, NIJA_PYTHON=PYTHON, TELEGRAM_BOT_TOKEN=TEST_TOKEN, TELEGRAM_API_BASE_URL=api
    )
    env.update(extra)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    subprocess.run(
        [PYTHON, "-m", "nija_tg", "init"], env=env, cwd=root, check=True, capture_output=True
    )
    return root, conf, env


def _supervisord(root: Path, conf: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "supervisord"), "-n", "-c", str(conf)],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: os.umask(0o077),  # as scripts/run.sh does before exec
    )


def test_supervisord_runs_bot_and_engine(tmp_path, fake_bot_api):
    keygen = [PYTHON, "-m", "nija_tg", "keygen"]
    engine_key = subprocess.run(keygen, capture_output=True, text=True, check=True).stdout
    root, conf, env = _deploy(
        tmp_path, fake_bot_api, NIJA_ENGINE_DRAIN_SECONDS="5", NIJA_ENGINE_KEY=engine_key.strip()
    )
    data_dir = root / "data"
    supervisord = _supervisord(root, conf, env)
    try:
        _wait(
            lambda: (
                _status(conf, env)
                == {"bot": "RUNNING", "engine": "RUNNING", "fatal_alert": "RUNNING"}
            ),
            60,
            "both programs and the FATAL listener RUNNING",
        )
        assert (data_dir / "supervisor.sock").is_socket()  # under NIJA_DATA_DIR
        # the engine's key reaches the engine only, also when it is in the environment
        pids = {name: _pid(conf, env, name) for name in ("bot", "engine")}
        assert "NIJA_ENGINE_KEY" not in _environ(pids["bot"])
        assert _environ(pids["engine"])["NIJA_ENGINE_KEY"] == env["NIJA_ENGINE_KEY"]
        _http(
            f"{fake_bot_api}/_control/call/user_message",
            {"user_id": 4242, "text": "/start", "first_name": "Ann"},
        )
        reply = _http(
            f"{fake_bot_api}/_control/wait?method=sendMessage&since=0&timeout=30", timeout=40
        )
        assert reply["ok"], reply
        assert "Welcome" in reply["result"]["params"]["text"]
        assert str(reply["result"]["params"]["chat_id"]) == "4242"
    finally:
        supervisord.send_signal(signal.SIGTERM)
        code = supervisord.wait(timeout=90)
    assert code == 0
    log = (data_dir / "logs" / "supervisord.log").read_text()
    assert "exited: bot (exit status 0; expected)" in log or "stopped: bot (exit status 0)" in log
    assert "stopped: engine (exit status 0)" in log or "exited: engine (exit status 0" in log
    # No program survives its supervisor.
    leftovers = subprocess.run(["pgrep", "-f", f"NIJA_DATA_DIR={data_dir}"], capture_output=True)
    assert leftovers.stdout == b""
    for name in ("bot.log", "engine.log", "supervisord.log"):
        path = data_dir / "logs" / name
        assert oct(path.stat().st_mode & 0o777) == "0o600", name  # umask 077
        text = path.read_text()
        assert TEST_TOKEN.split(":")[1] not in text
        assert "Traceback" not in text
    assert (
        not (data_dir / "supervisord.pid").exists()
        or os.path.getsize(data_dir / "supervisord.pid") >= 0
    )


def _requests(api: str) -> list[dict]:
    return _http(f"{api}/_control/requests")["result"]


def test_a_crashing_engine_is_told_to_every_admin(tmp_path, fake_bot_api):
    """The engine keeps crashing (a malformed key in its environment): supervisord gives
    up (FATAL) when each run dies within startsecs, or restarts it for ever when runs
    outlive it; the event listener tells the admin over the Bot API either way, once."""
    root, conf, env = _deploy(tmp_path, fake_bot_api, NIJA_ADMIN_IDS="4242")
    data_dir = root / "data"
    env["NIJA_ENGINE_KEY"] = "not-an-engine-key"  # the engine exits at once, every time
    supervisord = _supervisord(root, conf, env)
    try:
        _wait(lambda: _status(conf, env).get("bot") == "RUNNING", 60, "the bot RUNNING")
        _http(
            f"{fake_bot_api}/_control/call/user_message",
            {"user_id": 4242, "text": "/start", "first_name": "Ada"},
        )

        def alert():
            for r in _requests(fake_bot_api):
                text = str(r.get("params", {}).get("text", ""))
                if r.get("method") == "sendMessage" and "the engine program" in text:
                    return r
            return None

        # a run that dies within startsecs ends in FATAL; one that outlives it is
        # restarted for ever: either way the admin is told, once
        told = _wait(alert, 120, "the engine alert")
        assert str(told["params"]["chat_id"]) == "4242"
        text = told["params"]["text"]
        assert "engine program is FATAL" in text or "3 unexpected exits" in text, text
        _wait(
            lambda: _status(conf, env).get("engine") == "FATAL" or _exits(data_dir) >= 5,
            120,
            "FATAL or two more crashes",
        )
        texts = [str(r.get("params")) for r in _requests(fake_bot_api)]
        # told once per crash loop (and once if it ends in FATAL), not once per crash
        assert sum("keeps crashing" in t for t in texts) <= 1
        assert sum("is FATAL" in t for t in texts) <= 1
    finally:
        supervisord.send_signal(signal.SIGTERM)
        supervisord.wait(timeout=90)
    listener_log = (data_dir / "logs" / "fatal_alert.log").read_text()
    assert "engine alert: 1 admin(s) told" in listener_log
    assert "not-an-engine-key" not in listener_log


def _exits(data_dir: Path) -> int:
    log = (data_dir / "logs" / "supervisord.log").read_text()
    return log.count("exited: engine (exit status 1; not expected)")
