"""The engine and the services queue events, not text; the bot's sender renders them when
it sends (the fake Bot API server, python-telegram-bot unmodified). Rows queued as text
before the events (an old database migrated forward) still send their text, and a row
that cannot be rendered is dropped once, logged without its payload, never retried."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import subprocess
import time
from decimal import Decimal as D

from nija_tg.core import events as ev
from nija_tg.core import events_codec
from nija_tg.engine import notify as engine_notify
from nija_tg.messages.render import render
from nija_tg.services import notify as service_notify
from nija_tg.storage import migrations, outbox
from nija_tg.storage.db import Database
from nija_tg.telegram_out.outbox_sender import Sender
from tests.conftest import PYTHON, REPO, make_env
from tests.engine.test_sender import add_user, all_sent, fake_bot, running, wait_until

FILL = ev.Fill(
    symbol="ETH/USD", base="ETH", quote="USD", buy=False, amount=D("0.5"),
    price=D("2401.2"), fee=D("0.6003"), mode="live", exchange_id="kraken",
    trade_id="T-9", opens=False, realized=D("-26.5737"), price_step=D("0.01"),
)  # fmt: skip
SECRET = "sk-live-0123456789abcdef"


async def test_a_told_event_is_stored_as_data_and_rendered_when_sent(db: Database) -> None:
    await add_user(db, 1)
    await add_user(db, 2)
    stop = ev.StopHit(FILL, D("2300.5"), on_exchange=True)
    async with db.transaction() as tx:
        assert await engine_notify.tell(tx, 1, stop) is not None
        assert await service_notify.tell(tx, 2, ev.PausedByAdmin("maintenance <soon>")) is not None
    [row] = await outbox.list_rows(db, user_id=1)
    assert (row.kind, row.text, row.event_type) == ("stop", "", "stop_hit")
    assert events_codec.loads(row.event_type, row.payload) == stop
    assert '"price":"2401.2"' in row.payload  # the data, not words
    async with fake_bot() as (api, bot):
        async with running(Sender(db, bot)):
            await wait_until(all_sent(db, 2))
        assert api.texts(1) == [render(stop)]
        assert api.texts(2) == [render(ev.PausedByAdmin("maintenance <soon>"))]
        assert "🛑" in api.texts(1)[0] and "&lt;soon&gt;" in api.texts(2)[0]


async def test_event_rows_and_text_rows_of_one_chat_merge_into_one_digest(db: Database) -> None:
    await add_user(db, 1)
    async with db.transaction() as tx:
        await outbox.enqueue(tx, 1, "fill", "queued as text #1")
        await engine_notify.tell(tx, 1, FILL)
    async with fake_bot() as (api, bot):
        async with running(Sender(db, bot)):
            await wait_until(all_sent(db, 2))
        [digest] = api.texts(1)
        assert digest.index("queued as text #1") < digest.index(render(FILL))


def _old_database(path) -> None:
    """A database as the code before migration 12 left it: a user and a pending row
    queued as text (no event columns)."""
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    for version, script in migrations.MIGRATIONS:
        if version >= 12:
            break
        conn.executescript(script)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
    columns = [r[1] for r in conn.execute("PRAGMA table_info(outbox)")]
    assert "event_type" not in columns and "payload" not in columns
    now = time.time()
    conn.execute(
        "INSERT INTO users(user_id, chat_id, first_name, created_at, last_seen_at) "
        "VALUES (5, 5, 'Ann', ?, ?)",
        (now, now),
    )
    conn.execute(
        "INSERT INTO outbox(user_id, chat_id, kind, text, created_at) "
        "VALUES (5, 5, 'stop', '🛑 <b>Stop hit</b> written by the old engine', ?)",
        (now,),
    )
    conn.commit()
    conn.close()


async def test_a_row_queued_as_text_before_the_upgrade_still_sends_its_text(tmp_path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    db = await Database.open(path)  # migrates forward
    try:
        [row] = await outbox.list_rows(db, user_id=5)
        assert row.event_type is None and row.payload is None
        async with fake_bot() as (api, bot):
            async with running(Sender(db, bot)):
                await wait_until(all_sent(db, 1))
            assert api.texts(5) == ["🛑 <b>Stop hit</b> written by the old engine"]
    finally:
        await db.close()


@dataclasses.dataclass(frozen=True, slots=True)
class NoWords:
    """An event the codec stores but the renderer has no text for (a bug)."""

    note: str


async def test_a_row_that_cannot_be_rendered_is_dropped_once_and_logged_without_payload(
    db: Database, caplog, monkeypatch
) -> None:
    monkeypatch.setitem(events_codec.EVENT_TYPES, "no_words", NoWords)
    await add_user(db, 1)
    await add_user(db, 2)
    async with db.transaction() as tx:
        unknown = await outbox.enqueue_event(tx, 1, "fill", "from_the_future", "{}")
        bad = await outbox.enqueue_event(tx, 1, "stop", "fill", f'{{"symbol":"{SECRET}"}}')
        garbled = await outbox.enqueue_event(tx, 1, "fill", "halted", SECRET + "{")
        no_text = await outbox.enqueue_event(tx, 2, "summary", "no_words", f'{{"note":"{SECRET}"}}')
        await engine_notify.tell(tx, 1, FILL)
    caplog.set_level(logging.INFO, logger="nija_tg")
    async with fake_bot() as (api, bot):
        sender = Sender(db, bot, poll_interval=0.05)
        async with running(sender):
            await wait_until(all_sent(db, 1))
            await wait_until(_dropped(db, 4))
            await asyncio.sleep(0.3)  # later cycles (every 0.05 s) find nothing to retry
        assert api.texts(1) == [render(FILL)] and api.texts(2) == []
    assert sender.stats.unrenderable == 4 and sender.stats.dropped == 4
    for outbox_id in (unknown, bad, garbled, no_text):
        row = await outbox.get(db, outbox_id)
        assert row.status == "dropped" and row.attempts == 1, row
    logged = caplog.text
    assert SECRET not in logged
    assert "unknown event type 'from_the_future'" in logged
    assert "fill: missing field" in logged and "halted: the payload is not JSON" in logged
    assert "no_words: rendering failed (TypeError)" in logged


def _dropped(db: Database, n: int):
    async def check() -> bool:
        return (await outbox.counts(db))["dropped"] >= n

    return check


def test_the_engine_process_does_not_import_the_renderer_or_telegram(tmp_path) -> None:
    """The engine queues data: the words (and python-telegram-bot) are the bot's."""
    code = (
        "import nija_tg.engine_main, sys; "
        "bad = sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.') "
        "or m.startswith('nija_tg.messages') or m.startswith('nija_tg.telegram_out')); "
        "assert not bad, bad"
    )
    done = subprocess.run(
        [PYTHON, "-c", code], cwd=REPO, env=make_env(tmp_path), capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()


async def test_events_keep_their_priority_alerts_then_fills_then_summaries(db: Database) -> None:
    """Queued oldest first as a summary, a fill, then a stop: sent one at a time, the
    stop goes first, then the fill, then the summary (the event's kind is its rank)."""
    for uid in (1, 2, 3):
        await add_user(db, uid)
    summary = ev.DailySummary("2026-12-04", D("12.5"), D("1012.5"), (D("12.5"),), "USD")
    async with db.transaction() as tx:
        await engine_notify.tell(tx, 1, summary)
        await engine_notify.tell(tx, 2, FILL)
        await engine_notify.tell(tx, 3, ev.StopHit(FILL, D("2300.5")))
    async with fake_bot() as (api, bot):
        async with running(Sender(db, bot, max_in_flight=1)):
            await wait_until(all_sent(db, 3))
        order = [r.chat_id for r in api.requests if r.ok and r.method == "sendMessage"]
        assert order == [3, 2, 1]
