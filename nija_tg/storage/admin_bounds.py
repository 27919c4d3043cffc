"""Admin bounds on users' settings: one JSON document in ``app_state`` key 'admin_bounds'.

Layout: ``{"*": {name: bound}, "<user_id>": {name: bound}}`` where a bound is
``{"lo": "10", "hi": "500", "choices": ["BTC", "ETH"]}`` (each part optional). "*" holds
bounds for everyone; a user's own entry narrows them further (never widens).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nija_tg.core.account_currency import stored_decimal
from nija_tg.core.risk_settings import Bound
from nija_tg.core.setting_bounds import with_default_bounds
from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.users import bump_change_counter

KEY = "admin_bounds"
EVERYONE = "*"


def _bound(raw: Any) -> Bound | None:
    if not isinstance(raw, Mapping):
        return None
    choices = raw.get("choices")
    picked = (
        frozenset(c for c in choices if isinstance(c, str)) if isinstance(choices, list) else None
    )
    return Bound(lo=stored_decimal(raw.get("lo")), hi=stored_decimal(raw.get("hi")), choices=picked)


def encode(bound: Bound) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if bound.lo is not None:
        out["lo"] = str(bound.lo)
    if bound.hi is not None:
        out["hi"] = str(bound.hi)
    if bound.choices is not None:
        out["choices"] = sorted(bound.choices)
    return out


def _parse(text: str | None) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)}


def _section(doc: Mapping[str, Any], who: str) -> dict[str, Bound]:
    out: dict[str, Bound] = {}
    for name, raw in (doc.get(who) or {}).items():
        bound = _bound(raw)
        if bound is not None:
            out[name] = bound
    return out


def narrow(a: Bound | None, b: Bound | None) -> Bound | None:
    """The intersection of two bounds (None means unbounded)."""
    if a is None or b is None:
        return a or b
    los = [x for x in (a.lo, b.lo) if x is not None]
    his = [x for x in (a.hi, b.hi) if x is not None]
    if a.choices is not None and b.choices is not None:
        choices: frozenset[str] | None = a.choices & b.choices
    else:
        choices = a.choices if a.choices is not None else b.choices
    return Bound(lo=max(los) if los else None, hi=min(his) if his else None, choices=choices)


async def _read(db_or_tx: Database | Transaction) -> dict[str, dict[str, Any]]:
    row = await db_or_tx.fetchone("SELECT value FROM app_state WHERE key = ?", (KEY,))
    return _parse(row["value"] if row else None)


async def for_user(db_or_tx: Database | Transaction, user_id: int) -> dict[str, Bound]:
    """The bounds that apply to ``user_id``: everyone's, narrowed by the user's own, and
    the default bounds where neither sets one (core.setting_bounds.DEFAULT_BOUNDS)."""
    doc = await _read(db_or_tx)
    merged = _section(doc, EVERYONE)
    for name, bound in _section(doc, str(user_id)).items():
        merged[name] = narrow(merged.get(name), bound) or bound
    return with_default_bounds(merged)


async def for_target(db: Database, user_id: int | None) -> dict[str, Bound]:
    """Exactly the bounds stored for one user (or everyone when None), unmerged."""
    return _section(await _read(db), EVERYONE if user_id is None else str(user_id))


async def everything(db: Database) -> dict[str, dict[str, Bound]]:
    """Every stored section (``"*"`` and user ids), unmerged, empty ones left out."""
    doc = await _read(db)
    sections = {who: _section(doc, who) for who in doc}
    return {who: bounds for who, bounds in sections.items() if bounds}


async def set_bound(tx: Transaction, user_id: int | None, name: str, bound: Bound | None) -> None:
    """Store (or with None remove) the bound on ``name`` for one user or everyone."""
    doc = await _read(tx)
    who = EVERYONE if user_id is None else str(user_id)
    section = dict(doc.get(who) or {})
    if bound is None:
        section.pop(name, None)
    else:
        section[name] = encode(bound)
    if section:
        doc[who] = section
    else:
        doc.pop(who, None)
    await _write(tx, doc)


async def forget_user(tx: Transaction, user_id: int) -> None:
    """Drop a user's own bounds (their row is being erased)."""
    doc = await _read(tx)
    if doc.pop(str(user_id), None) is not None:
        await _write(tx, doc)


async def _write(tx: Transaction, doc: Mapping[str, Any]) -> None:
    await tx.execute(
        "INSERT INTO app_state(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (KEY, json.dumps(doc, sort_keys=True)),
    )
    await bump_change_counter(tx)
