"""Key custody across processes: the bot runs with no private key anywhere in its
environment or files and never loads ccxt, yet /connect completes, because the engine
(another process, with its key file in a directory of its own) opens and verifies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess

from nija_tg.storage import credentials, seal_keys
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import KeyRing, read_key_file
from tests.conftest import PYTHON, REPO, TEST_TOKEN, make_env
from tests.fakes.kraken import KrakenEmulator
from tests.fakes.telegram_api import FakeBotAPI

ALICE = 7001
KEY_VARIABLES = ("NIJA_ENGINE_KEY", "NIJA_ENGINE_KEY_FILE", "NIJA_MASTER_KEY")


def test_bot_entry_point_loads_no_exchange_client_and_no_key_ring():
    code = (
        "import nija_tg.bot_main, sys; "
        "assert 'ccxt' not in sys.modules, 'ccxt'; "
        "assert 'nija_tg.vault.keyring' not in sys.modules, 'keyring'"
    )
    done = subprocess.run([PYTHON, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def _process(args, env, log):
    return await asyncio.create_subprocess_exec(
        PYTHON, "-m", "nija_tg", *args, cwd=REPO, env=env, stdout=log, stderr=log
    )


async def test_bot_without_any_private_key_completes_connect(tmp_path):
    api = FakeBotAPI(token=TEST_TOKEN)
    await api.start()
    emu = KrakenEmulator()
    await emu.start()
    data, secrets = tmp_path / "data", tmp_path / "engine-only"
    data.mkdir()
    secrets.mkdir(mode=0o700)
    common = {
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_BASE_URL": api.url,
        "NIJA_EXCHANGE_URLS": json.dumps({"kraken": emu.base_url}),
    }
    engine_env = make_env(data, NIJA_ENGINE_KEY_FILE=str(secrets / "engine.key"), **common)
    bot_env = make_env(data, **common)
    assert not any(k in bot_env for k in KEY_VARIABLES)
    init = await _process(["init"], engine_env, asyncio.subprocess.PIPE)
    _out, err = await init.communicate()
    assert init.returncode == 0, err.decode()
    # the bot's whole data directory holds no key file: only the database (and logs)
    assert not [p for p in data.rglob("*") if p.is_file() and p.suffix == ".key"]
    log = await asyncio.to_thread(open, tmp_path / "processes.log", "wb")
    engine = await _process(["engine"], engine_env, log)
    bot = await _process(["bot"], bot_env, log)
    try:
        account = emu.add_account()
        creds = emu.credentials(account)
        api.user_message(ALICE, "/start")
        await api.wait_for("sendMessage", lambda r: str(r.chat_id) == str(ALICE), timeout=30)
        since = api.mark()
        api.user_message(ALICE, "/connect kraken")
        await api.wait_for("sendMessage", lambda r: "(1/2)" in str(r.params), since=since)
        for value in (creds["apiKey"], creds["secret"]):
            since = api.mark()
            api.user_message(ALICE, value)
            await api.wait_for("deleteMessage", lambda r: True, timeout=20, since=since)
        verdict = await api.wait_for(
            "sendMessage", lambda r: "connected" in str(r.params.get("text")), timeout=30
        )
        assert "✅" in verdict.params["text"], verdict.params["text"]
        db = await Database.open(data / "nija.sqlite3")
        try:
            row = await credentials.get(db, ALICE)
            assert row is not None and row.verified
            current = await seal_keys.current(db)
        finally:
            await db.close()
        engine_ring = KeyRing(read_key_file(secrets / "engine.key"))
        assert engine_ring.primary.key_id == current.key_id
        assert engine_ring.open(row.ciphertext, ALICE, "kraken")["apiKey"] == creds["apiKey"]
        for request in api.requests:
            for value in creds.values():
                assert value not in json.dumps(request.params)
    finally:
        for proc in (bot, engine):
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in (bot, engine):
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
        log.close()
        await emu.stop()
        await api.stop()
