"""Typed events (``core.events``) to stored data and back (pure): ``encode(event)`` gives
(the event's type name, a JSON-ready payload dict) for an outbox row, ``decode(type,
payload)`` the same event again. ``dumps``/``loads`` do the same through a JSON string.

The type names are stored, so they are fixed here (``EVENT_TYPES``), not taken from the
class names. Payload values: Decimals as their exact string ("0.10" stays "0.10"),
datetimes as ISO 8601, tuples as lists, nested events (a stop hit's fill, a key's
balances) as dicts; every other value is JSON's own. Decoding is strict: an unknown type,
a missing field without a default, an unknown field or a value of the wrong type raises
``EventDecodeError``, whose message names the type and the field, never the value (a
payload may hold what a user typed).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from nija_tg.core import events as ev

# stored type name -> event class (never rename a stored name: rows in the outbox use it)
EVENT_TYPES: dict[str, type] = {
    "fill": ev.Fill,
    "stop_hit": ev.StopHit,
    "closed_outside": ev.ClosedOutside,
    "stop_order_refused": ev.StopOrderRefused,
    "exit_refused": ev.ExitRefused,
    "entry_refused": ev.EntryRefused,
    "entry_no_funds": ev.EntryNoFunds,
    "entry_blocked": ev.EntryBlocked,
    "position_mode_refused": ev.PositionModeRefused,
    "close_nothing": ev.CloseNothing,
    "close_expired": ev.CloseExpired,
    "close_refused": ev.CloseRefused,
    "daily_loss_limit": ev.DailyLossLimit,
    "drawdown_paused": ev.DrawdownPaused,
    "paused_by_admin": ev.PausedByAdmin,
    "resumed_by_admin": ev.ResumedByAdmin,
    "halted": ev.Halted,
    "key_dead": ev.KeyDead,
    "key_verified": ev.KeyVerified,
    "key_refused": ev.KeyRefused,
    "loop_crashed": ev.LoopCrashed,
    "daily_summary": ev.DailySummary,
    "role_changed": ev.RoleChanged,
    "view_granted": ev.ViewGranted,
    "broadcast": ev.Broadcast,
    "settings_clamped": ev.SettingsClamped,
    "admin_demoted": ev.AdminDemoted,
}
_TYPE_OF: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}


class EventEncodeError(TypeError):
    """An object the codec cannot store (not a registered event; a bug)."""


class EventDecodeError(ValueError):
    """A stored event this version cannot read back (unknown type or bad payload)."""


# --- encode ----------------------------------------------------------------------------


def type_name(event: object) -> str:
    """The stored type name of ``event``'s class."""
    name = _TYPE_OF.get(type(event))
    if name is None:
        raise EventEncodeError(f"not a stored event type: {type(event).__name__}")
    return name


def encode(event: object) -> tuple[str, dict[str, Any]]:
    """(type name, payload) of ``event``; the payload holds only JSON values."""
    name = type_name(event)
    return name, to_payload(event)


def dumps(event: object) -> tuple[str, str]:
    """(type name, payload as a JSON string)."""
    name, payload = encode(event)
    return name, json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def to_payload(obj: object) -> dict[str, Any]:
    """The fields of the dataclass ``obj`` as JSON values (``encode``'s payload)."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise EventEncodeError(f"not a dataclass: {type(obj).__name__}")
    return {f.name: _encode_value(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _encode_value(value: object) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise EventEncodeError("a float that JSON cannot hold")
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_payload(value)
    raise EventEncodeError(f"cannot store a {type(value).__name__}")


# --- decode ----------------------------------------------------------------------------


def decode(name: str, payload: object) -> object:
    """The event stored as ``name`` with ``payload`` (a dict, as ``encode`` gave it)."""
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise EventDecodeError(f"unknown event type {name!r}"[:80])
    return from_payload(cls, payload, name)


def loads(name: str, payload: str) -> object:
    """The event stored as ``name`` with ``payload`` as a JSON string."""
    try:
        data = json.loads(payload)
    except (TypeError, ValueError) as exc:
        raise EventDecodeError(f"{name}: the payload is not JSON") from exc
    return decode(name, data)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_payload(cls: type, data: object, where: str = "") -> Any:
    """The dataclass ``cls`` from ``to_payload``'s dict (strict, as ``decode``)."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise EventDecodeError(f"{where}: expected an object")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise EventDecodeError(f"{where}: unknown field(s) {sorted(map(str, unknown))}"[:200])
    kwargs = {}
    for name, field in fields.items():
        if name not in data:
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise EventDecodeError(f"{where}: missing field {name}")
            continue
        kwargs[name] = _decode_value(hints[name], data[name], f"{where}.{name}")
    return cls(**kwargs)


def _decode_value(hint: Any, value: object, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise EventDecodeError(f"{where}: null not allowed")
        real = [o for o in options if o is not type(None)]
        if len(real) == 1:
            return _decode_value(real[0], value, where)
        raise EventDecodeError(f"{where}: ambiguous type")  # no event field has one
    if origin is tuple:
        if not isinstance(value, list):
            raise EventDecodeError(f"{where}: expected a list")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise EventDecodeError(f"{where}: expected {len(args)} items")
        pairs = enumerate(zip(args, value, strict=True))
        return tuple(_decode_value(a, v, f"{where}[{i}]") for i, (a, v) in pairs)
    if hint is Decimal:
        if not isinstance(value, str):
            raise EventDecodeError(f"{where}: expected a decimal string")
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise EventDecodeError(f"{where}: not a decimal") from exc
    if hint is datetime:
        if not isinstance(value, str):
            raise EventDecodeError(f"{where}: expected an ISO datetime")
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise EventDecodeError(f"{where}: not an ISO datetime") from exc
    if hint is bool:
        if not isinstance(value, bool):
            raise EventDecodeError(f"{where}: expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EventDecodeError(f"{where}: expected an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EventDecodeError(f"{where}: expected a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise EventDecodeError(f"{where}: expected a string")
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_payload(hint, value, where)
    raise EventDecodeError(f"{where}: unsupported field type")
