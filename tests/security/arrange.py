"""Arrange a victim with data everywhere (through the real storage repositories), every
piece carrying a sentinel that must never reach anyone else, and snapshot their rows."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nija_tg.core.models import FillInfo, OrderStatus, OrderType, Side
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.storage import (
    credentials,
    fills,
    orders,
    outbox,
    positions,
    sessions,
    settings_repo,
    snapshots,
    users,
)
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import KeyRing

# Values that appear nowhere but in the victim's rows. Numbers are listed in every form a
# report could print them (plain, with thousands separators).
EQUITY = Decimal("987654.32")
SYMBOL = "ZZZ/USDT"
KEY_TAIL = "QX9Z"
FIRST_NAME = "Vickysentinel"
USERNAME = "vic_sentinel_77"
SESSION_PNL = Decimal("31337.77")
FILL_PRICE = Decimal("55555.57")
TRADE_ID = "TRDSENTINEL5501"
CLIENT_ORDER_ID = "nija-CIDSENTINEL-0001"
EXCHANGE_ORDER_ID = "EXOSENTINEL9931"
ENTRY_PRICE = Decimal("44444.43")
MAX_POSITION = Decimal("8765.43")
OUTBOX_TEXT = "OUTBOXSENTINEL victim notice"
PAUSE_REASON = "PAUSESENTINEL"
SIGNAL_NOTE = "SIGNALSENTINEL"
API_KEY = "VICTIMKEYSENTINEL0000000000000000" + KEY_TAIL
API_SECRET = "VICTIMSECRETSENTINEL/abcdefghijklmnopqrstuvwxyz=="

SENTINELS: tuple[str, ...] = (
    "987654",
    "987,654",
    "ZZZ",
    KEY_TAIL,
    FIRST_NAME,
    USERNAME,
    "31337",
    "31,337",
    "55555",
    "55,555",
    "44444",
    "44,444",
    "8765",
    "8,765",
    "SENTINEL",
    API_KEY[:20],
    API_SECRET[:20],
)


@dataclass(frozen=True)
class VictimIds:
    user_id: int
    session_id: int
    order_id: int
    fill_id: int
    outbox_ids: tuple[int, ...]
    message_ids: list[int] = field(default_factory=list)

    def numbers(self) -> list[int]:
        """Every id of the victim an attacker could type or put in callback data."""
        ids = [self.user_id, self.session_id, self.order_id, self.fill_id, *self.outbox_ids]
        return sorted(set(ids + self.message_ids))


async def arrange_victim(db: Database, vault: KeyRing, user_id: int) -> VictimIds:
    """Give a registered ``user_id`` a snapshot, equity history, a session, an order, a
    fill, a position, verified credentials, custom settings and queued notifications."""
    now_ms = 1_700_000_000_000
    async with db.transaction() as tx:
        await snapshots.save(
            tx,
            user_id,
            snapshots.Snapshot(
                equity=EQUITY,
                balances=[{"currency": "ZZZ", "free": "12.5", "used": "0", "total": "12.5"}],
                positions=[{"symbol": SYMBOL, "side": "long", "amount": "3", "mark": "45000"}],
                last_signal={"symbol": SYMBOL, "side": "buy", "note": SIGNAL_NOTE},
                start_of_day_equity=EQUITY - 1,
                peak_equity=EQUITY + 1,
                day=None,
            ),
        )
        for i in range(3):
            await snapshots.append_equity(tx, user_id, EQUITY + i, ts=1_700_000_000.0 + 60 * i)
        session_id = await sessions.start(
            tx, user_id, "kraken", "paper", EQUITY, {"note": SIGNAL_NOTE}
        )
        await sessions.add_trade_result(tx, user_id, session_id, SESSION_PNL)
        order_id = await orders.create(
            tx,
            user_id=user_id,
            client_order_id=CLIENT_ORDER_ID,
            exchange_id="kraken",
            mode="paper",
            symbol=SYMBOL,
            side=Side.BUY,
            type=OrderType.LIMIT,
            amount=Decimal("3"),
            price=FILL_PRICE,
            session_id=session_id,
            status=OrderStatus.OPEN,
            exchange_order_id=EXCHANGE_ORDER_ID,
        )
        fill = FillInfo(
            trade_id=TRADE_ID,
            symbol=SYMBOL,
            side=Side.BUY,
            amount=Decimal("3"),
            price=FILL_PRICE,
            fee=Decimal("1.25"),
            fee_currency="ZZZ",
            ts=now_ms,
        )
        fill_id = await fills.insert(tx, user_id, order_id, "kraken", fill)
        assert fill_id is not None
        await fills.set_realized_pnl(tx, user_id, fill_id, SESSION_PNL)
        await positions.upsert(
            tx,
            user_id,
            SYMBOL,
            "long",
            amount=Decimal("3"),
            entry_price=ENTRY_PRICE,
            entry_fees=Decimal("1.25"),
            realized_pnl=Decimal("0"),
        )
        await positions.set_stop(tx, user_id, SYMBOL, "long", ENTRY_PRICE - 100)
        sealed = vault.seal(user_id, "kraken", {"apiKey": API_KEY, "secret": API_SECRET})
        await credentials.store(
            tx, user_id, "kraken", sealed, KEY_TAIL, verified=True, permissions=["trade"]
        )
        base = RiskSettings().to_dict()
        base["max_position_usd"] = str(MAX_POSITION)
        await settings_repo.save(tx, user_id, RiskSettings.from_dict(base))
        await users.set_notify_prefs(tx, user_id, {"fills": "silent"})
        box = []
        for kind in ("fill", "info"):  # held back an hour: the bot's own sender would
            # deliver them during the test, changing rows no attacker may change
            oid = await outbox.enqueue(
                tx, user_id, kind, f"{OUTBOX_TEXT} {kind}", not_before=time.time() + 3600
            )
            assert oid is not None
            box.append(oid)
    return VictimIds(user_id, session_id, order_id, fill_id, tuple(box))


# Tables whose rows belong to one user, with the column naming the owner.
OWNED = {
    "users": "user_id",
    "credentials": "user_id",
    "risk_settings": "user_id",
    "trading_sessions": "user_id",
    "orders": "user_id",
    "fills": "user_id",
    "positions": "user_id",
    "snapshots": "user_id",
    "equity_history": "user_id",
    "paper_accounts": "user_id",
    "outbox": "user_id",
}


async def owned_rows(db: Database, user_id: int) -> dict[str, Any]:
    """Everything stored for ``user_id`` (plus grants naming them, actions attributed to
    them and the global halt), as plain comparable values."""
    tables = {r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master")}
    out: dict[str, Any] = {}
    for table, column in OWNED.items():
        if table not in tables:
            continue
        rows = await db.fetchall(f"SELECT * FROM {table} WHERE {column} = ?", (user_id,))
        out[table] = sorted(_plain(r) for r in rows)
    grants = await db.fetchall(
        "SELECT * FROM viewer_grants WHERE viewer_id = ? OR trader_id = ?", (user_id, user_id)
    )
    out["viewer_grants"] = sorted(_plain(r) for r in grants)
    acts = await db.fetchall(
        "SELECT actor_id, action, target_id, detail FROM audit_log "
        "WHERE actor_id = ? OR target_id = ?",
        (user_id, user_id),
    )
    out["audit_log"] = sorted(_plain(r) for r in acts)
    state = await db.fetchall(
        "SELECT key, value FROM app_state WHERE key IN ('halted', 'admin_bounds')"
    )
    out["app_state"] = sorted(_plain(r) for r in state)
    return out


def _plain(row: sqlite3.Row) -> str:
    return json.dumps({k: _value(row[k]) for k in row.keys()}, sort_keys=True)


def _value(value: object) -> object:
    return value.hex() if isinstance(value, bytes) else value


def hits(text: str, needles: tuple[str, ...] | list[str]) -> list[str]:
    """The needles found in ``text`` (case-insensitive)."""
    low = text.lower()
    return [n for n in needles if n.lower() in low]
