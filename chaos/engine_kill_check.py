"""The engine kill run's checker: compare the exchange emulator's ledger with the
database after a kill -9 and restart (see chaos/engine_kill.py for the rules)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

EPS = Decimal("1e-9")
UNRESOLVED = ("intent", "submitted")


def connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def unresolved(db_path: Path) -> dict[str, str]:
    """Client id -> status of the orders left intent/submitted."""
    with closing(connect(db_path)) as conn:
        rows = conn.execute(
            "SELECT client_order_id, status FROM orders WHERE status IN ('intent','submitted')"
        )
        return {r[0]: r[1] for r in rows}


def outcomes(db_path: Path, left: dict[str, str]) -> dict[str, int]:
    """How the orders a kill left unresolved ended: ``"submitted -> filled"``, ..."""
    with closing(connect(db_path)) as conn:
        final = {
            r[0]: (r[1], r[2])
            for r in conn.execute("SELECT client_order_id, status, error FROM orders")
        }
    out: Counter[str] = Counter()
    for cid, before in left.items():
        status, error = final.get(cid, ("missing", None))
        out[f"{before} -> {status}" + (f" ({error})" if status == "rejected" else "")] += 1
    return dict(out)


def check(
    db_path: Path,
    emu: Any,
    by_key: dict[str, int],
    since: float,
    strict: bool,
    settled: set[str] | None = None,
) -> dict:
    """Compare the exchange's ledger with the database (call while the child cannot
    write: frozen or gone). Returns failures and counts.

    A stop order resting on the exchange can execute at any moment (the emulator
    triggers every account's stops on any request), so one the engine has not polled
    since is "pending", not a failure, and its user is treated as in flight. Stops in
    ``settled`` (exchange ids of stops that had executed before the last engine start,
    whose reconciliation must have seen them) are held to the strict rule."""
    from nija_tg.exchange.client_ids import is_ours

    fails: list[str] = []
    ledger = emu.ledger
    ours = [o for o in ledger.orders if is_ours(o.client_id)]
    fills_by_order: dict[str, list] = {}
    for f in ledger.fills:
        fills_by_order.setdefault(f.order_id, []).append(f)
    conn = connect(db_path)
    try:
        conn.execute("BEGIN")
        orders = {r["client_order_id"]: r for r in conn.execute("SELECT * FROM orders")}
        db_fills: dict[int, list] = {}
        for r in conn.execute("SELECT * FROM fills"):
            db_fills.setdefault(r["order_id"], []).append(r)
        notes = {
            r["dedupe_key"]: r
            for r in conn.execute(
                "SELECT dedupe_key, text FROM outbox WHERE kind IN ('fill', 'stop') "
                "AND dedupe_key LIKE 'fill:%'"
            )
        }
        positions = {
            (r["user_id"], r["symbol"]): Decimal(r["amount"])
            for r in conn.execute("SELECT * FROM positions WHERE side = 'long'")
        }
        conn.execute("COMMIT")
    finally:
        conn.close()

    dups = [cid for cid, n in Counter(o.client_id for o in ours).items() if n > 1]
    fails += [f"duplicate exchange orders for client id {cid}" for cid in dups]
    inflight_users: set[int] = set()
    unknown = mismatched = pending_stops = 0
    for o in ours:
        uid = by_key.get(o.account)
        row = orders.get(o.client_id)
        if row is None or row["user_id"] != uid or not is_ours(o.client_id, uid):
            unknown += 1
            fails.append(f"exchange order {o.client_id} unknown to the database (user {uid})")
            continue
        if row["status"] in UNRESOLVED:
            if strict or row["created_at"] < since:
                fails.append(f"{o.client_id} still {row['status']} after reconciliation")
            inflight_users.add(uid)
            continue
        stop_not_seen = o.trigger_price is not None and row["status"] == "open"
        if stop_not_seen and o.status != "open" and o.order_id not in (settled or set()):
            pending_stops += 1
            inflight_users.add(uid)
            continue
        want = {"closed": "filled", "open": "open", "canceled": "canceled"}[o.status]
        if row["status"] != want:
            mismatched += 1
            fails.append(f"{o.client_id}: database {row['status']}, exchange {o.status}")
        ef, df = fills_by_order.get(o.order_id, []), db_fills.get(row["order_id"], [])
        e_amt = sum((f.amount for f in ef), Decimal(0))
        d_amt = sum((Decimal(f["amount"]) for f in df), Decimal(0))
        if len(ef) != len(df) or abs(e_amt - d_amt) > EPS:
            mismatched += 1
            fails.append(
                f"{o.client_id}: exchange {len(ef)} fills ({e_amt}), database {len(df)} ({d_amt})"
            )
    on_exchange = {o.client_id for o in ours}
    for cid, row in orders.items():
        if cid not in on_exchange and row["status"] not in ("rejected", *UNRESOLVED):
            fails.append(f"{cid} is {row['status']} in the database but not on the exchange")
    all_fills = [f for rows in db_fills.values() for f in rows]
    keys = Counter((f["user_id"], f["exchange_id"], f["trade_id"]) for f in all_fills)
    fails += [f"fill {k} recorded {n} times" for k, n in keys.items() if n > 1]
    expected = {f"fill:{f['user_id']}:{f['exchange_id']}:{f['trade_id']}" for f in all_fills}
    unnotified = expected - set(notes)
    extra = set(notes) - expected
    fails += [f"fill without its notification: {k}" for k in sorted(unnotified)]
    fails += [f"fill notification without a fill: {k}" for k in sorted(extra)]
    # issue 16: no fill of ours sold more than our position (the emulator's sell audit,
    # tests/fakes/sell_audit.py: our quantity per account and asset from our fills,
    # clamped to the balance after every change we did not make)
    oversold = list(ledger.audit.violations)
    fails += [f"sold more than our position: {v}" for v in oversold]
    for key, uid in by_key.items():
        if uid in inflight_users:
            continue
        acct = emu.ledger.accounts[key]
        for symbol in {o.symbol for o in ours}:
            base = symbol.split("/")[0]
            have = acct.balances.get(base, Decimal(0))
            held = positions.get((uid, symbol), Decimal(0))
            if abs(have - held) > EPS:
                fails.append(f"user {uid} {symbol}: position {held}, exchange balance {have}")
    return {
        "failures": fails,
        "orders": len(ours),
        "filled_orders": sum(1 for o in ours if o.status == "closed"),
        "stop_orders": sum(1 for o in ours if o.trigger_price is not None),
        "fills": len(all_fills),
        "notifications": len(notes),
        "duplicates": len(dups),
        "unknown": unknown,
        "mismatched": mismatched,
        "unnotified": len(unnotified),
        "extra_notifications": len(extra),
        "inflight": len(inflight_users),
        "pending_stops": pending_stops,
        "sells_beyond_position": len(oversold),
        "bot_sells_audited": ledger.audit.bot_sells,
    }
