"""Per-user settings: risk limits, strategy parameters, presets, pairs, notifications,
and /forget (erase a user).

Every method takes the id of the user it concerns; edits check the caller's role
(viewers read only; trade-only users may not touch the strategy). ``user_message`` of
every error raised here is HTML-safe (dynamic parts escaped), ready to send as is.
The service returns data: a setting's value as stored with its unit and what it accepts
(``SettingLine``, ``Allowed``), a change's old and new values (``Change``), the editor's
options (``Option``: the value to set and whether it is a step, a preset's value or a
choice). Money settings (unit ``usd``; the names keep "usd" for compatibility) carry the
account's currency, ``core.account_currency``'s rule as /status uses it (USDT on a BingX
key), and /pairs the one quote and exchange the engine trades them on.
``nija_tg/messages/settings.py`` words them (labels, units, ranges, button labels); the
errors' user messages come from ``messages/setting_values.py``. The one
read of credentials (/forget) is ``storage.credentials.exchanges_and_tails``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.core.account_currency import PAPER_EXCHANGE, account_currency, exchange_quote
from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.models import Role
from nija_tg.core.risk_settings import (
    PRESETS,
    SPECS,
    Bound,
    RiskSettings,
    SettingSpec,
    apply_preset,
    apply_setting,
)
from nija_tg.messages import onboarding
from nija_tg.messages import setting_values as words
from nija_tg.storage import (
    admin_bounds,
    audit,
    credentials,
    report_queries,
    settings_repo,
    snapshots,
    users,
)
from nija_tg.storage.db import Database
from nija_tg.storage.outbox import GROUPS, PREF_VALUES
from nija_tg.storage.users import UserRow
from nija_tg.strategies import available
from nija_tg.strategies.base import ParamSpec, param_specs

log = logging.getLogger("nija_tg.settings")
GROUP_ALIASES = {g.removesuffix("s"): g for g in GROUPS} | {g: g for g in GROUPS}
MAX_PAIR_ARGS = 20
PRESET_NAMES = tuple(PRESETS)


def _normalise(name: str) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_").removeprefix("/")


def _range(lo: Any, hi: Any, bound: Bound | None) -> tuple[Decimal, Decimal]:
    lo, hi = Decimal(str(lo)), Decimal(str(hi))
    if bound is not None and bound.lo is not None:
        lo = max(lo, bound.lo)
    if bound is not None and bound.hi is not None:
        hi = min(hi, bound.hi)
    return lo, hi


def _choices(choices: tuple[str, ...], bound: Bound | None) -> tuple[str, ...]:
    if bound is None or bound.choices is None:
        return choices
    return tuple(c for c in choices if c in bound.choices)


def _plain(value: Decimal) -> str:
    """A number as /set takes it back (no exponent, no trailing zeros): ``0.5``, ``250``."""
    return format(value.normalize(), "f")


def _recorded(value: Any) -> Any:
    """A setting's value as the audit row keeps it (JSON): a number as /set takes it
    (``250``, not ``250.0``), a list of assets, a switch, a name."""
    if isinstance(value, Decimal):
        return _plain(value)
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True, slots=True)
class Allowed:
    """What a setting accepts (the renderer words it): a ``range`` ``lo``..``hi`` (whole
    numbers or not, in the setting's unit); ``on_off``; ``either`` or ``one_of`` the
    ``choices``; ``pairs``: assets from ``choices`` (an admin's permitted list; None: any)."""

    kind: str  # "range" | "on_off" | "either" | "one_of" | "pairs"
    lo: Decimal | None = None
    hi: Decimal | None = None
    whole: bool = False
    choices: tuple[str, ...] | None = ()


def _allowed_spec(spec: SettingSpec, bound: Bound | None) -> Allowed:
    if spec.kind in ("decimal", "int"):
        lo, hi = _range(spec.lo, spec.hi, bound)
        return Allowed("range", lo, hi, whole=spec.kind == "int")
    if spec.kind == "bool":
        return Allowed("on_off")
    if spec.kind == "choice":
        return Allowed("either", choices=_choices(spec.choices, bound))
    if spec.kind == "pairs":
        permitted = None if bound is None or bound.choices is None else tuple(bound.choices)
        return Allowed("pairs", choices=permitted)
    return Allowed("one_of", choices=_choices(tuple(available()), bound))


def _allowed_param(pspec: ParamSpec, bound: Bound | None) -> Allowed:
    if pspec.kind is str:
        return Allowed("one_of", choices=_choices(pspec.choices, bound))
    lo, hi = _range(pspec.lo, pspec.hi, bound)
    return Allowed("range", lo, hi, whole=pspec.kind is int)


@dataclass(frozen=True, slots=True)
class SettingLine:
    """One setting as data: its /set name, its value as stored (a Decimal, int, bool,
    str or tuple of assets) with its unit (``usd``: money, in the account's
    ``currency``; ``%``, ``x`` or none), what it accepts; ``messages/settings.py`` words
    all of it (label, value, range)."""

    name: str  # what to type after /set
    value: Any
    unit: str
    allowed: Allowed
    section: str  # "risk" | "strategy"
    locked: bool  # the caller may not change it
    currency: str = "USD"  # the account's (``account_currency``): a money setting's unit


@dataclass(frozen=True, slots=True)
class SettingsView:
    lines: tuple[SettingLine, ...]
    read_only: bool
    trade_only: bool


@dataclass(frozen=True, slots=True)
class Change:
    """One setting's value before and after (as stored), with its unit (a money
    setting's in the account's ``currency``)."""

    name: str
    old: Any
    new: Any
    unit: str = ""
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class PairsView:
    """The allowed pairs and where the engine trades them: each base against ``quote``
    only (``exchange_quote``: USD on Kraken and Coinbase, USDT elsewhere) on
    ``exchange_id`` (the key's; without one the default paper exchange, ``connected``
    False)."""

    pairs: tuple[str, ...]
    permitted: tuple[str, ...] | None  # None: any asset
    quote: str
    exchange_id: str
    connected: bool
    read_only: bool


@dataclass(frozen=True, slots=True)
class PairsEdit:
    pairs: tuple[str, ...]
    changed: tuple[str, ...]  # assets actually added or removed
    unchanged: tuple[str, ...]  # already there (add) or not there (remove)


@dataclass(frozen=True, slots=True)
class Option:
    """One value a setting's editor offers: the text to set (``value``), what the button
    says it is (``kind``: ``step`` by ``delta`` from the current value, a ``preset``'s
    value, or a ``choice``), and whether it is the current value."""

    value: str
    kind: str = "choice"  # "step" | "preset" | "choice"
    delta: Decimal | None = None  # a step: signed, from the current value
    preset: str | None = None  # a preset's name
    current: bool = False


@dataclass(frozen=True, slots=True)
class SettingEditor:
    """What the inline editor of one setting shows: the setting (value, allowed range,
    locked or not), +/- steps inside the range, and preset values or choices."""

    line: SettingLine
    steps: tuple[Option, ...]
    values: tuple[Option, ...]  # each preset's value (risk settings), or the choices


# +/- steps of the numeric risk settings (small, large); strategy parameters derive
# theirs from their range (``_param_steps``)
STEPS: dict[str, tuple[str, str]] = {
    "max_position_usd": ("50", "250"),
    "max_open_positions": ("1", "3"),
    "risk_per_trade_pct": ("0.1", "0.5"),
    "daily_loss_pct": ("0.5", "2"),
    "daily_loss_usd": ("10", "50"),
    "max_drawdown_pct": ("1", "5"),
    "leverage_cap": ("1", "2"),
    "trailing_atr_multiplier": ("0.1", "0.5"),
}
NOTIFY_GROUPS = GROUPS
NOTIFY_VALUES = PREF_VALUES


def _param_steps(lo: Decimal, hi: Decimal, whole: bool) -> tuple[Decimal, Decimal]:
    span = hi - lo
    if span <= 0:
        return Decimal(1), Decimal(1)
    small = Decimal(1).scaleb(span.adjusted() - 1)  # a tenth of the span's magnitude
    if whole:
        small = max(Decimal(1), small.to_integral_value())
    return small, small * 5


def _steps(
    value: Decimal, lo: Decimal, hi: Decimal, small: Decimal, big: Decimal
) -> tuple[Option, ...]:
    out: dict[str, Option] = {}
    for delta in (-big, -small, small, big):
        target = min(max(value + delta, lo), hi)
        if target == value:
            continue
        text = _plain(target)
        out.setdefault(text, Option(text, "step", delta=target - value))
    return tuple(sorted(out.values(), key=lambda o: Decimal(o.value)))


class SettingsService:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- reading -----------------------------------------------------------------------
    async def _user(self, user_id: int) -> UserRow:
        user = await users.get_user(self._db, user_id)
        if user is None:
            raise PermissionDeniedError("unknown user", user_message=onboarding.START_FIRST_TOAST)
        return user

    async def bounds(self, user_id: int) -> dict[str, Bound]:
        return await admin_bounds.for_user(self._db, user_id)

    async def load(self, user_id: int) -> RiskSettings:
        return await settings_repo.load(self._db, user_id)

    async def currency(self, user_id: int) -> str:
        """What the user's money settings are counted in: their account's currency, by
        ``core.account_currency``'s rule (their key's exchange's quote; without a key
        the cash their snapshot holds most of), as /status and the alerts count it."""
        exchange = await report_queries.exchange_of(self._db, user_id)
        if exchange is not None:
            return account_currency(exchange, None)
        snap = await snapshots.get(self._db, user_id)
        return account_currency(None, None if snap is None else snap.balances)

    def _lines(
        self,
        s: RiskSettings,
        bounds: Mapping[str, Bound],
        *,
        read_only: bool,
        trade_only: bool,
        currency: str,
    ) -> tuple[SettingLine, ...]:
        lines = []
        for name, spec in SPECS.items():
            strategy = spec.kind == "strategy"
            lines.append(
                SettingLine(
                    name=name,
                    value=getattr(s, name),
                    unit=spec.unit,
                    allowed=_allowed_spec(spec, bounds.get(name)),
                    section="strategy" if strategy else "risk",
                    locked=read_only or (strategy and trade_only),
                    currency=currency,
                )
            )
        for pname, pspec in param_specs(type(s.strategy_params)).items():
            bound = bounds.get(f"strategy.{pname}") or bounds.get(pname)
            lines.append(
                SettingLine(
                    name=f"strategy.{pname}",
                    value=getattr(s.strategy_params, pname),
                    unit="",
                    allowed=_allowed_param(pspec, bound),
                    section="strategy",
                    locked=read_only or trade_only,
                    currency=currency,
                )
            )
        return tuple(lines)

    async def view(self, user_id: int) -> SettingsView:
        """Every setting of ``user_id`` with its /set name and allowed range."""
        user = await self._user(user_id)
        read_only = user.role is Role.VIEWER
        lines = self._lines(
            await self.load(user_id),
            await self.bounds(user_id),
            read_only=read_only,
            trade_only=user.trade_only,
            currency=await self.currency(user_id),
        )
        return SettingsView(lines=lines, read_only=read_only, trade_only=user.trade_only)

    async def describe(self, user_id: int, name: str) -> SettingLine:
        """One setting by the name a user typed (ValidationError names the known ones)."""
        view = await self.view(user_id)
        key = _normalise(name)
        for line in view.lines:
            if line.name == key or line.name == f"strategy.{key}":
                return line
        known = [line.name for line in view.lines]
        raise ValidationError("unknown setting", user_message=words.unknown_setting(name, known))

    async def editor(self, user_id: int, name: str) -> SettingEditor:
        """The inline editor of one setting (``name`` as /set takes it): +/- steps and
        preset values or choices, all inside the range that applies to this user (hard
        bounds narrowed by admin bounds). ValidationError for an unknown name."""
        line = await self.describe(user_id, name)
        if line.locked:
            return SettingEditor(line, (), ())
        settings = await self.load(user_id)
        bounds = await self.bounds(user_id)
        key = line.name
        if key in SPECS:
            return self._spec_editor(line, SPECS[key], settings, bounds.get(key))
        pname = key.removeprefix("strategy.")
        pspec = param_specs(type(settings.strategy_params))[pname]
        bound = bounds.get(key) or bounds.get(pname)
        value = getattr(settings.strategy_params, pname)
        if pspec.kind is str:
            choices = _choices(pspec.choices, bound)
            return SettingEditor(line, (), tuple(Option(c, current=c == value) for c in choices))
        lo, hi = _range(pspec.lo, pspec.hi, bound)
        small, big = _param_steps(lo, hi, pspec.kind is int)
        return SettingEditor(line, _steps(Decimal(str(value)), lo, hi, small, big), ())

    @staticmethod
    def _spec_editor(
        line: SettingLine, spec: SettingSpec, settings: RiskSettings, bound: Bound | None
    ) -> SettingEditor:
        value = getattr(settings, spec.name)
        if spec.kind == "bool":
            return SettingEditor(
                line,
                (),
                (Option("on", current=value is True), Option("off", current=value is False)),
            )
        if spec.kind == "choice":
            choices = _choices(spec.choices, bound)
            return SettingEditor(line, (), tuple(Option(c, current=c == value) for c in choices))
        if spec.kind == "strategy":
            choices = _choices(tuple(available()), bound)
            return SettingEditor(line, (), tuple(Option(c, current=c == value) for c in choices))
        if spec.kind not in ("decimal", "int"):  # allowed_pairs: /pairs edits it
            return SettingEditor(line, (), ())
        lo, hi = _range(spec.lo, spec.hi, bound)
        small, big = (Decimal(x) for x in STEPS.get(spec.name, ("1", "5")))
        steps = _steps(Decimal(value), lo, hi, small, big)
        presets = []
        for preset, values in PRESETS.items():
            if spec.name in values:
                target = min(max(Decimal(str(values[spec.name])), lo), hi)
                presets.append(
                    Option(
                        _plain(target), "preset", preset=preset, current=target == Decimal(value)
                    )
                )
        return SettingEditor(line, steps, tuple(presets))

    # --- editing -----------------------------------------------------------------------
    async def _editor(self, actor_id: int, user_id: int) -> bool:
        """Check ``actor_id`` may edit ``user_id``'s settings; True if the strategy too."""
        actor = await self._user(actor_id)
        if actor_id != user_id:
            if actor.role is not Role.ADMIN:
                raise PermissionDeniedError(user_message=words.OWN_SETTINGS_ONLY)
            await self._user(user_id)
            return True
        if actor.role is Role.VIEWER:
            raise PermissionDeniedError("viewer edit", user_message=words.VIEWERS_READ_ONLY)
        return not actor.trade_only

    async def _edit(
        self, actor_id: int, user_id: int, name: str, raw: str
    ) -> tuple[RiskSettings, RiskSettings, Change]:
        can_strategy = await self._editor(actor_id, user_id)
        bounds = await self.bounds(user_id)
        currency = await self.currency(user_id)
        async with self._db.transaction() as tx:
            before = await settings_repo.load_in(tx, user_id)
            after = apply_setting(
                before,
                name,
                raw,
                admin_bounds=bounds,
                can_change_strategy=can_strategy,
                currency=currency,
            )
            change = _diff(before, after, _normalise(name), currency)
            if after != before:
                await settings_repo.save(tx, user_id, after)
                await audit.record(
                    tx,
                    actor_id,
                    "settings.set",
                    user_id,
                    name=change.name,
                    old=_recorded(change.old),
                    new=_recorded(change.new),
                )
        return before, after, change

    async def set_value(
        self, user_id: int, name: str, raw: str, *, actor_id: int | None = None
    ) -> Change:
        """Change one setting from user text; audited. A money setting's value is in the
        account's currency (``currency``): typed with another currency's code it is
        refused, not taken as the account's. Raises ValidationError (with the allowed
        range) or PermissionDeniedError."""
        actor = user_id if actor_id is None else actor_id
        return (await self._edit(actor, user_id, name, raw))[2]

    async def apply_preset(
        self, user_id: int, preset: str, *, actor_id: int | None = None
    ) -> list[Change]:
        """Apply a risk preset (clamped into admin bounds); returns what changed."""
        actor = user_id if actor_id is None else actor_id
        await self._editor(actor, user_id)
        bounds = await self.bounds(user_id)
        currency = await self.currency(user_id)
        key = str(preset).strip().lower()
        async with self._db.transaction() as tx:
            before = await settings_repo.load_in(tx, user_id)
            after = apply_preset(before, key, admin_bounds=bounds)
            changes = [
                Change(n, getattr(before, n), getattr(after, n), s.unit, currency)
                for n, s in SPECS.items()
                if getattr(before, n) != getattr(after, n)
            ]
            if changes:
                await settings_repo.save(tx, user_id, after)
                await audit.record(
                    tx,
                    actor,
                    "settings.preset",
                    user_id,
                    preset=key,
                    changed=[c.name for c in changes],
                )
        return changes

    # --- pairs -------------------------------------------------------------------------
    async def pairs(self, user_id: int) -> PairsView:
        user = await self._user(user_id)
        settings = await self.load(user_id)
        bound = (await self.bounds(user_id)).get("allowed_pairs")
        permitted = None if bound is None or bound.choices is None else tuple(sorted(bound.choices))
        exchange = await report_queries.exchange_of(self._db, user_id)
        return PairsView(
            pairs=settings.allowed_pairs,
            permitted=permitted,
            quote=exchange_quote(exchange),
            exchange_id=exchange or PAPER_EXCHANGE,
            connected=exchange is not None,
            read_only=user.role is Role.VIEWER,
        )

    async def edit_pairs(
        self, user_id: int, action: str, assets: list[str], *, actor_id: int | None = None
    ) -> PairsEdit:
        """``action`` "add" or "remove" some assets (within the admin's permitted list)."""
        if action not in ("add", "remove") or not assets or len(assets) > MAX_PAIR_ARGS:
            raise ValidationError(
                "bad pairs edit",
                user_message=words.pairs_usage(MAX_PAIR_ARGS),
            )
        sign = "+" if action == "add" else "-"
        raw = " ".join(sign + a.lstrip("+-") for a in assets)
        actor = user_id if actor_id is None else actor_id
        old, new, _ = await self._edit(actor, user_id, "allowed_pairs", raw)
        before, after = old.allowed_pairs, new.allowed_pairs
        moved = set(after) ^ set(before)
        tokens = [_base(a) for a in assets]
        return PairsEdit(
            pairs=after,
            changed=tuple(dict.fromkeys(t for t in tokens if t in moved)),
            unchanged=tuple(dict.fromkeys(t for t in tokens if t not in moved)),
        )

    # --- notifications -----------------------------------------------------------------
    async def notify_prefs(self, user_id: int) -> dict[str, str]:
        """Every event group with its value (on when never set)."""
        user = await self._user(user_id)
        return {g: user.notify_prefs.get(g, "on") for g in GROUPS}

    async def set_notify(self, user_id: int, group: str, value: str) -> dict[str, str]:
        """Set one group (or "all") to on, silent or off; any role may (own chat only)."""
        key = str(group).strip().lower()
        choice = str(value).strip().lower()
        targets = GROUPS if key == "all" else (GROUP_ALIASES.get(key),)
        if None in targets or choice not in PREF_VALUES:
            raise ValidationError(
                "bad notify args",
                user_message=words.notify_usage(GROUPS, f"{group} {value}".strip()),
            )
        async with self._db.transaction() as tx:
            user = await users.get_user(tx, user_id)  # type: ignore[arg-type]
            if user is None:
                raise PermissionDeniedError(user_message=onboarding.START_FIRST_TOAST)
            prefs = {g: user.notify_prefs.get(g, "on") for g in GROUPS}
            prefs.update({g: choice for g in targets if g is not None})
            await users.set_notify_prefs(tx, user_id, prefs)
            await audit.record(tx, user_id, "notify.set", user_id, group=key, value=choice)
        return prefs

    # --- erase ---------------------------------------------------------------------------
    async def forget(self, user_id: int) -> bool:
        """Erase ``user_id``: keys, settings, history (cascade), their admin bounds; stop
        trading. The audit rows about them stay, with action and time, under a pseudonym
        and without their exchange names, key tails and names. Erased rows are
        overwritten on disk (secure_delete) and the WAL is checkpointed so that its old
        pages go too. False if already gone; refused for the last admin."""
        async with self._db.transaction() as tx:
            user = await users.get_user(tx, user_id)  # type: ignore[arg-type]
            if user is None:
                return False
            try:
                await users.refuse_last_admin(tx, user_id)
            except users.LastAdminError as exc:
                raise users.LastAdminError(str(exc), user_message=words.FORGET_LAST_ADMIN) from None
            erase = [user.username or "", user.first_name or ""]
            for exchange_id, key_tail in await credentials.exchanges_and_tails(tx, user_id):
                erase += [exchange_id, key_tail]
            await users.set_trading(tx, user_id, False)
            await credentials.delete(tx, user_id)
            await admin_bounds.forget_user(tx, user_id)
            await users.delete_user(tx, user_id)
            pseudonym = await audit.pseudonymise(tx, user_id, erase)
            await audit.record(tx, pseudonym, "user.forget", pseudonym)
        await self._checkpoint()
        return True

    async def _checkpoint(self) -> None:
        """Copy the committed pages (erased rows zeroed) into the database file and empty
        the WAL, whose older frames still hold the erased rows. Best effort: a busy
        database leaves them until the next checkpoint."""
        try:
            busy, _, _ = await self._db.checkpoint()
        except sqlite3.Error as exc:
            log.warning("checkpoint after /forget failed: %s", exc)
            return
        if busy:
            log.warning("checkpoint after /forget was blocked; the WAL keeps old pages for now")


def _base(token: str) -> str:
    """``sol``, ``+SOL``, ``SOL/USDT`` or ``SOL-USD:USD`` -> ``SOL`` (for the reply only)."""
    text = token.lstrip("+-").upper().split(":", 1)[0]
    return text.split("/", 1)[0].split("-", 1)[0]


def _diff(before: RiskSettings, after: RiskSettings, key: str, currency: str) -> Change:
    """What one apply_setting call changed, for the reply and the audit log (a money
    setting's in the account's ``currency``)."""
    if key in SPECS and key != "strategy":
        spec = SPECS[key]
        return Change(key, getattr(before, key), getattr(after, key), spec.unit, currency)
    if key == "strategy":
        return Change(key, before.strategy, after.strategy)
    pname = key.removeprefix("strategy.")
    old = getattr(before.strategy_params, pname, None)
    new = getattr(after.strategy_params, pname, None)
    return Change(f"strategy.{pname}", old, new)
