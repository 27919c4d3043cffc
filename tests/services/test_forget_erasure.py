"""/forget: the audit rows about the user stay (action, time) under a pseudonym and
without exchange names, key tails and names; erased rows are gone from the database
file and its WAL, not only from query results (real database, real files)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nija_tg.core.models import Role
from nija_tg.services.settings_service import SettingsService
from nija_tg.storage import audit, credentials, users

ADMIN, ALICE, BOB, VERA = 1, 2002, 3003, 4004
EXCHANGE = "coinbase"  # only Alice uses it
TAIL = "Q7zX"  # distinctive: the last four characters of Alice's API key
USERNAME = "alice_SENTINELname"


@pytest.fixture
async def arranged(db):
    async with db.transaction() as tx:
        await users.upsert_user(tx, ADMIN, ADMIN, "root", None, Role.ADMIN)
        await users.upsert_user(tx, ALICE, ALICE, USERNAME, "Alicia", Role.TRADER)
        await users.upsert_user(tx, BOB, BOB, "bob", None, Role.TRADER)
        await users.upsert_user(tx, VERA, VERA, "vera", None, Role.VIEWER)
        await credentials.store(tx, ALICE, EXCHANGE, b"\x00sealed-a", TAIL, verified=True)
        await credentials.store(tx, BOB, "kraken", b"\x00sealed-b", "bbbb", verified=True)
        await tx.execute(
            "INSERT INTO pending_credentials(user_id, exchange_id, ciphertext, key_tail, "
            "submitted_at) VALUES (?, ?, ?, ?, ?)",
            (ALICE, EXCHANGE, b"\x00pending", TAIL, time.time()),
        )
        await tx.execute(
            "INSERT INTO fills(user_id, exchange_id, trade_id, symbol, side, amount, price, ts) "
            "VALUES (?, ?, 't1', 'BTC/USD', 'buy', '1', '100', ?)",
            (ALICE, EXCHANGE, time.time()),
        )
        # what the services record about Alice, and about others
        await audit.record(tx, ALICE, "register", ALICE, role="trader")
        await audit.record(
            tx,
            ALICE,
            "credentials.connect",
            ALICE,
            exchange=EXCHANGE,
            key_tail=TAIL,
            reason="Coinbase accepted the key",
        )
        await audit.record(tx, ALICE, "credentials.group_attempt", ALICE, chat=-100123)
        await audit.record(tx, ADMIN, "admin.pause", ALICE, reason=f"{USERNAME} over limit")
        await audit.record(tx, ADMIN, "admin.grant", VERA, trader_id=ALICE)
        await audit.record(tx, ALICE, "settings.set", ALICE, name="max_position_usd", new="2")
        await audit.record(tx, BOB, "credentials.connect", BOB, exchange="kraken", key_tail="bbbb")
        await audit.record(tx, ADMIN, "admin.pause", BOB, reason="risk", count=1)
    # everything so far reaches the database file itself, as it would in production
    await db.checkpoint()
    return db


def _on_disk(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_forget_leaves_no_trace_of_exchange_tail_or_name_on_disk(arranged):
    db = arranged
    assert EXCHANGE.encode() in _on_disk(db.path) and TAIL.encode() in _on_disk(db.path)
    assert await SettingsService(db).forget(ALICE) is True
    data = _on_disk(db.path)
    for needle in (EXCHANGE, "Coinbase", TAIL, USERNAME, "Alicia"):
        assert needle.encode() not in data, f"{needle!r} is still in the database files"
    assert b"kraken" in data and b"bbbb" in data  # Bob's rows are untouched


async def test_forget_pseudonymises_the_audit_rows_about_the_user(arranged):
    db = arranged
    before = {r.audit_id: r for r in await audit.recent(db, 200)}
    assert await SettingsService(db).forget(ALICE) is True
    after = {r.audit_id: r for r in await audit.recent(db, 200)}
    assert set(before) <= set(after)
    [forget] = [r for r in after.values() if r.action == "user.forget"]
    pseudonym = forget.target_id
    assert isinstance(pseudonym, str) and pseudonym.startswith("forgotten:")
    assert forget.actor_id == pseudonym
    for audit_id, old in before.items():
        new = after[audit_id]
        assert (new.ts, new.action) == (old.ts, old.action)  # what happened, and when
        assert ALICE not in (new.actor_id, new.target_id)
        text = json.dumps(new.detail).lower()
        for needle in (EXCHANGE, TAIL.lower(), USERNAME.lower(), str(ALICE)):
            assert needle not in text, (new.action, new.detail)
        if ALICE in (old.actor_id, old.target_id):
            assert pseudonym in (new.actor_id, new.target_id)
            assert not {"exchange", "key_tail", "chat"} & set(new.detail)
    by_action = {(r.action, r.target_id): r for r in after.values()}
    assert by_action[("credentials.connect", pseudonym)].detail == {
        "reason": "[erased] accepted the key"
    }
    assert by_action[("admin.pause", pseudonym)].detail["reason"] == "[erased] over limit"
    assert by_action[("settings.set", pseudonym)].detail == {"name": "max_position_usd", "new": "2"}
    grant = by_action[("admin.grant", VERA)]  # someone else's row that names Alice
    assert grant.actor_id == ADMIN and grant.detail == {"trader_id": pseudonym}
    bob = by_action[("credentials.connect", BOB)]  # nothing about Alice: untouched
    assert bob.actor_id == BOB and bob.detail == {"exchange": "kraken", "key_tail": "bbbb"}
    assert await audit.for_user(db, ALICE) == []
    # registering again later starts a new history; the old one stays pseudonymous
    async with db.transaction() as tx:
        await users.upsert_user(tx, ALICE, ALICE, None, None, Role.TRADER)
    assert await audit.for_user(db, ALICE) == []


async def test_both_connections_overwrite_deleted_content(db):
    """secure_delete is set on every connection, whatever the SQLite build's default."""
    assert (await db.fetchone("PRAGMA secure_delete"))[0] == 1
    async with db.transaction() as tx:
        assert (await tx.fetchone("PRAGMA secure_delete"))[0] == 1
