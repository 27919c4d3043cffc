"""Admin bounds on users' settings: list, set, lift.

Setting a bound also brings every affected user's stored settings inside it at once
(in the same transaction): a tightened limit holds from the next candle, not from the
user's next /set. Each user whose values moved is told what changed; every change is
audited, refusals too. The engine's running loops reload the settings of the users a bound
applies to before their next decision (``settings_repo.bump_version``, same transaction).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.events import SettingChange, SettingsClamped
from nija_tg.core.models import Role
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.setting_bounds import (
    bound_names,
    clamp_to_bounds,
    describe,
    parse_bound,
    with_default_bounds,
)
from nija_tg.core.setting_parse import Bound, normalise_name
from nija_tg.services.notify import tell
from nija_tg.storage import admin_bounds, admin_queries, audit, settings_repo, users
from nija_tg.storage.db import Database, Transaction

EVERYONE = admin_bounds.EVERYONE


@dataclass(frozen=True)
class BoundChange:
    name: str
    bound: Bound | None  # None: lifted
    target_id: int | None  # None: everyone
    clamped: dict[int, list[SettingChange]] = field(default_factory=dict)  # user -> changes


def _stored(value: object) -> tuple[str, ...]:
    """A stored value as the event carries it: a list's items, else the one value."""
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _changes(before: RiskSettings, after: RiskSettings) -> list[SettingChange]:
    old, new = before.to_dict(), after.to_dict()
    out = []
    for key in new:
        if key == "strategy_params":
            for pname, value in new[key].items():
                prev = old.get(key, {}).get(pname)
                if prev != value:
                    out.append(SettingChange(f"strategy.{pname}", _stored(prev), _stored(value)))
        elif old.get(key) != new[key]:
            out.append(SettingChange(key, _stored(old.get(key)), _stored(new[key])))
    return out


class BoundsService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _require_admin(self, actor_id: int, command: str) -> None:
        if await admin_queries.role_of(self._db, actor_id) is not Role.ADMIN:
            async with self._db.transaction() as tx:
                await audit.record(tx, actor_id, "admin.denied", None, command=command)
            raise PermissionDeniedError("not an admin", code="bounds_admins_only")

    async def everything(self, actor_id: int) -> dict[str, dict[str, Bound]]:
        """Every stored bound: ``"*"`` (everyone) and per user id, unmerged."""
        await self._require_admin(actor_id, "bound")
        return await admin_bounds.everything(self._db)

    async def set_from_text(
        self, actor_id: int, target_id: int | None, name: str, text: str
    ) -> BoundChange:
        """``/bound <name> <lo..hi | choices | off> [user]`` after the admin check."""
        await self._require_admin(actor_id, "bound")
        key, bound = parse_bound(name, text)
        return await self._apply(actor_id, target_id, key, bound)

    async def set_bound(
        self, actor_id: int, target_id: int | None, name: str, bound: Bound | None
    ) -> BoundChange:
        """Narrow (or with None lift) one setting for a user or everyone."""
        await self._require_admin(actor_id, "bound")
        key = normalise_name(name)
        if key not in bound_names():
            raise ValidationError(
                f"unknown bound {key}", code="unknown_bound", params={"sent": name}
            )
        return await self._apply(actor_id, target_id, key, bound)

    async def _apply(
        self, actor_id: int, target_id: int | None, key: str, bound: Bound | None
    ) -> BoundChange:
        if target_id is not None and await users.get_user(self._db, target_id) is None:
            raise ValidationError(
                "unknown target", code="no_user_with_id", params={"user_id": target_id}
            )
        async with self._db.transaction() as tx:
            await admin_bounds.set_bound(tx, target_id, key, bound)
            # the running loops of the users it applies to reload on their next close
            await settings_repo.bump_version(tx, target_id)
            await audit.record(
                tx, actor_id, "settings.bound", target_id, name=key,
                bound=None if bound is None else admin_bounds.encode(bound),
            )  # fmt: skip
            # lifting a bound may narrow too: a default bound holds again (leverage 5x)
            clamped = await self._clamp_all(tx, actor_id, target_id)
        return BoundChange(key, bound, target_id, clamped)

    async def _clamp_all(
        self, tx: Transaction, actor_id: int, target_id: int | None
    ) -> dict[int, list[SettingChange]]:
        ids = [target_id] if target_id is not None else await settings_repo.trader_ids(tx)
        out: dict[int, list[SettingChange]] = {}
        for uid in ids:
            before = await settings_repo.load_stored_in(tx, uid)
            after = clamp_to_bounds(before, await admin_bounds.for_user(tx, uid))
            if after == before:
                continue
            lines = _changes(before, after)
            await settings_repo.save(tx, uid, after)
            changes = [dataclasses.asdict(c) for c in lines]
            await audit.record(tx, actor_id, "settings.clamped", uid, changes=changes)
            await tell(tx, uid, SettingsClamped(tuple(lines)))
            out[uid] = lines
        return out


def bound_lines(doc: dict[str, dict[str, Bound]]) -> list[str]:
    """The bounds in effect, one line each, everyone first: ``everyone:
    max_position_usd ..500``. Everyone's lines include the default bounds
    (``DEFAULT_BOUNDS``: leverage up to 5x) where no admin bound replaces them, marked
    ``(default)``; a user's line shows what holds for them (their own bound narrowed by
    everyone's and the defaults), for each setting bounded for them."""
    stored_everyone = doc.get(EVERYONE, {})
    everyone = with_default_bounds(stored_everyone)
    lines = []
    for name, bound in sorted(everyone.items()):
        stored = stored_everyone.get(name)
        lines.append(f"everyone: {name} {describe(bound)}{_default_note(stored, bound)}")
    for who in sorted((w for w in doc if w != EVERYONE), key=_user_order):
        for name, own in sorted(doc[who].items()):
            merged = admin_bounds.narrow(stored_everyone.get(name), own) or own
            bound = with_default_bounds({name: merged})[name]
            lines.append(f"user {who}: {name} {describe(bound)}{_default_note(merged, bound)}")
    return lines


def _default_note(stored: Bound | None, shown: Bound) -> str:
    """How much of ``shown`` is a default bound rather than what admins stored."""
    if stored is None:
        return " (default)"
    if stored != shown:
        return " (upper end: default)"
    return ""


def _user_order(who: str) -> tuple[int, str]:
    return (int(who), who) if who.isdigit() else (0, who)
