"""The outbox: enqueue honouring preferences, the delivery-side queries and digests."""

from __future__ import annotations

import time

from nija_tg.core.models import Role
from nija_tg.messages.render import digest_header
from nija_tg.storage import outbox, users
from nija_tg.storage.db import Database


async def add_user(db: Database, user_id: int, chat_id: int | None = None, **prefs: str) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, user_id, chat_id or user_id, None, "Ann", Role.TRADER)
        if prefs:
            await users.set_notify_prefs(tx, user_id, prefs)


async def put(db: Database, user_id: int, text: str, kind: str = "fill", **kw) -> int | None:
    async with db.transaction() as tx:
        return await outbox.enqueue(tx, user_id, kind, text, **kw)


def row(i: int, text: str, *, silent: bool = False, chat_id: int = 7) -> outbox.OutboxRow:
    return outbox.OutboxRow(i, 1, chat_id, "fill", text, silent, "pending", 0, 0.0, 0.0, None)


async def test_enqueue_honours_preferences_and_dedupe(db: Database) -> None:
    await add_user(db, 1, fills="silent", stops="off")
    assert await put(db, 1, "filled") is not None
    assert await put(db, 1, "stopped", kind="stop") is None
    assert await put(db, 1, "hello", kind="info") is not None  # service kinds always go
    assert await put(db, 1, "x", dedupe_key="k1") is not None
    assert await put(db, 1, "x again", dedupe_key="k1") is None
    assert await put(db, 999, "nobody") is None
    found = await outbox.list_rows(db, user_id=1)
    assert [(r.text, r.silent) for r in found] == [("filled", True), ("hello", False), ("x", True)]


async def test_due_chats_order_exclude_and_not_before(db: Database) -> None:
    for uid in (1, 2, 3):
        await add_user(db, uid, chat_id=100 + uid)
    await put(db, 2, "b1")
    await put(db, 1, "a1")
    await put(db, 3, "later", not_before=time.time() + 60)
    await put(db, 2, "b2")
    now = time.time()
    assert await outbox.due_chats(db, now) == [102, 101]
    assert await outbox.due_chats(db, now, exclude=[102]) == [101]
    assert await outbox.due_chats(db, now, limit=1) == [102]
    assert await outbox.due_chats(db, now + 120) == [102, 101, 103]
    assert await outbox.next_due_at(db) is not None
    assert await outbox.deliverable_count(db) == 4


async def test_claim_due_caps_rows_per_chat(db: Database) -> None:
    await add_user(db, 1)
    await add_user(db, 2)
    for i in range(5):
        await put(db, 1, f"a{i}")
        await put(db, 2, f"b{i}")
    claimed = await outbox.claim_due(db, time.time(), per_chat=3)
    assert [r.text for r in claimed] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    only = await outbox.claim_due(db, time.time(), chat_ids=[2])
    assert [r.text for r in only] == [f"b{i}" for i in range(5)]
    assert await outbox.claim_due(db, time.time(), chat_ids=[]) == []


async def test_unreachable_user_is_skipped_until_upsert(db: Database) -> None:
    await add_user(db, 1)
    await add_user(db, 2)
    await put(db, 1, "a")
    await put(db, 2, "b")
    await outbox.mark_unreachable(db, {1})
    assert await outbox.due_chats(db, time.time()) == [2]
    assert [r.text for r in await outbox.claim_due(db, time.time())] == ["b"]
    assert await outbox.deliverable_count(db) == 1
    assert (await outbox.counts(db))["pending"] == 2  # kept, not dropped
    await add_user(db, 1)  # the user writes /start again
    assert await outbox.due_chats(db, time.time()) == [1, 2]


async def test_mark_sent_reschedule_drop_and_counts(db: Database) -> None:
    await add_user(db, 1)
    ids = [await put(db, 1, f"m{i}") for i in range(4)]
    assert all(i is not None for i in ids)
    a, b, c, d = (int(i) for i in ids if i is not None)
    await outbox.mark_sent(db, [a])
    await outbox.reschedule(db, [b], time.time() + 30)
    await outbox.drop(db, [c])
    await outbox.mark_sent(db, [c])  # a dropped row stays dropped
    assert await outbox.counts(db) == {"pending": 2, "sent": 1, "dropped": 1}
    assert [r.outbox_id for r in await outbox.claim_due(db, time.time())] == [d]
    sent = await outbox.get(db, a)
    assert sent is not None and sent.status == "sent" and sent.sent_at and sent.attempts == 1
    later = await outbox.get(db, b)
    assert later is not None and later.attempts == 1 and later.not_before > time.time()


async def test_move_chat_follows_migration(db: Database) -> None:
    await add_user(db, 1, chat_id=-5)
    await put(db, 1, "g")
    await outbox.move_chat(db, -5, -1005)
    assert await outbox.due_chats(db, time.time()) == [-1005]


def test_merge_single_row_is_the_text() -> None:
    digest = outbox.merge([row(1, "  <b>hi</b> ", silent=True)])
    assert digest.text == "<b>hi</b>" and digest.silent and digest.ids == [1]


def test_merge_several_rows_in_order_with_header() -> None:
    rows = [row(1, "one", silent=True), row(2, "two"), row(3, "three")]
    digest = outbox.merge(rows, header=digest_header)
    assert digest.text.startswith("📬 3 updates\n\none")
    assert outbox.merge(rows).text.startswith("one")  # storage words nothing itself
    assert outbox.tg_len(digest_header(10_000)) <= outbox._HEADER_RESERVE
    assert digest.text.index("one") < digest.text.index("two") < digest.text.index("three")
    assert not digest.silent  # silent only when every merged row is
    assert outbox.merge([row(1, "a", silent=True), row(2, "b", silent=True)]).silent


def test_merge_stops_before_the_limit_and_leaves_the_rest() -> None:
    rows = [row(i, f"{i}:" + "x" * 1000) for i in range(10)]
    digest = outbox.merge(rows)
    assert outbox.tg_len(digest.text) <= outbox.MAX_MESSAGE_UNITS
    assert 1 < len(digest.rows) < 10
    assert digest.ids == list(range(len(digest.rows)))


def test_merge_cuts_a_single_oversized_row_counting_utf16() -> None:
    digest = outbox.merge([row(1, "😀" * 3000), row(2, "next")])
    assert digest.ids == [1]
    assert outbox.tg_len(digest.text) <= outbox.MAX_MESSAGE_UNITS
    assert digest.text.endswith("…")


async def test_events_left_for_the_commit_share_one_statement_and_honour_preferences(
    db: Database,
) -> None:
    """``enqueue_event_later``: every body's rows in one INSERT that reads the chat and
    preference itself: off -> no row, silent -> silent, no such user -> no row, the
    dedupe key holds, rows in the order left; a body that raises drops its row."""
    import asyncio

    await add_user(db, 1, chat_id=101, fills="silent", stops="off")
    await add_user(db, 2, chat_id=102)
    seen: list[str] = []
    db._writer.set_trace_callback(seen.append)

    async def body(user_id: int, kind: str, tag: str, dedupe: str | None = None) -> None:
        async with db.transaction() as tx:
            outbox.enqueue_event_later(
                tx, user_id, kind, "Fill", f'{{"t":"{tag}"}}', dedupe_key=dedupe
            )
            if tag == "boom":
                raise RuntimeError("boom")

    results = await asyncio.gather(
        body(1, "fill", "a"),
        body(1, "stop", "off"),
        body(2, "fill", "b", "k"),
        body(999, "fill", "nobody"),
        body(2, "fill", "b again", "k"),
        body(2, "fill", "boom"),
        body(2, "info", "c"),
        body(1, "info", "d"),
        return_exceptions=True,
    )
    assert isinstance(results[5], RuntimeError)
    db._writer.set_trace_callback(None)
    got = [(r.user_id, r.chat_id, r.payload, r.silent) for r in await outbox.list_rows(db)]
    assert got == [
        (1, 101, '{"t":"a"}', True),
        (2, 102, '{"t":"b"}', False),
        (2, 102, '{"t":"c"}', False),
        (1, 101, '{"t":"d"}', False),
    ]
    assert all(r.event_type == "Fill" and r.text == "" for r in await outbox.list_rows(db))
    assert len([s for s in seen if s.startswith("INSERT OR IGNORE INTO outbox")]) < 3
