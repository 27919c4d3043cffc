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
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from json.encoder import encode_basestring as _encode_string
from typing import Any

from nija_tg.core import events as ev
from nija_tg.core.errors import ErrorReason

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
    "stored_words": ev.StoredWords,
}
# An error's reason an older engine stored as its sentence (the words were ours): read
# back as this code, whose words are the stored text (``messages.errors``).
LEGACY_TEXT = "legacy_text"
_TYPE_OF: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}
# classes nested in events, written by ``_json_text`` directly (others: the generic path)
_TEXT_NESTED = frozenset(EVENT_TYPES.values())


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


# ``json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)``
# with its encoder made once (``json.dumps`` builds one per call when given options)
_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def dumps(event: object) -> tuple[str, str]:
    """(type name, payload as a JSON string): ``_to_json(encode(event)[1])``, the same
    text written directly (one per order filled: this is on a close's path)."""
    return type_name(event), _json_text(event)


# dataclass -> (field name, its JSON key and colon), sorted by name as ``sort_keys``
_JSON_KEYS: dict[type, tuple[tuple[str, str], ...]] = {}
_JSON_CONSTANTS = {None: "null", True: "true", False: "false"}


def _json_text(obj: object) -> str:
    """``_to_json(to_payload(obj))`` for the dataclass ``obj``, written field by field:
    strings through JSON's own escaping (``json.encoder.encode_basestring``, as the
    encoder with ``ensure_ascii=False``), Decimals as their quoted string (digits,
    sign, point, exponent or a special name: nothing to escape), booleans, None and
    ints as JSON writes them, nested events likewise; any other value (floats,
    datetimes, tuples, subclasses) through ``_encode_value`` and the encoder itself."""
    cls = type(obj)
    keys = _JSON_KEYS.get(cls)
    if keys is None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            raise EventEncodeError(f"not a dataclass: {cls.__name__}")
        names = sorted(f.name for f in dataclasses.fields(obj))
        keys = _JSON_KEYS[cls] = tuple((n, _encode_string(n) + ":") for n in names)
    parts = []
    for name, key in keys:
        value = getattr(obj, name)
        kind = type(value)
        if kind is str:
            parts.append(key + _encode_string(value))
        elif kind is Decimal:
            parts.append(f'{key}"{value}"')
        elif kind is bool or value is None:
            parts.append(key + _JSON_CONSTANTS[value])
        elif kind is int:
            parts.append(key + int.__repr__(value))
        elif kind in _TEXT_NESTED:
            parts.append(key + _json_text(value))
        else:
            parts.append(key + _to_json(_encode_value(value)))
    return "{" + ",".join(parts) + "}"


# dataclass -> its field names, read once per class (``dataclasses.fields`` per event
# was a good part of an event's encoding: one per order filled)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
# values stored as they are (exact types; subclasses take ``_encode_value``'s checks)
_PLAIN = frozenset({str, int, bool, type(None)})


def to_payload(obj: object) -> dict[str, Any]:
    """The fields of the dataclass ``obj`` as JSON values (``encode``'s payload)."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            raise EventEncodeError(f"not a dataclass: {cls.__name__}")
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(obj))
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        kind = type(value)
        if kind in _PLAIN:
            out[name] = value
        elif kind is Decimal:
            out[name] = str(value)
        else:
            out[name] = _encode_value(value)
    return out


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
    older = _older_shape(name, payload)
    if older is not None:
        return older
    return from_payload(cls, payload, name)


def _older_shape(name: str, payload: object) -> object | None:
    """The event an older engine stored with its words written in (before events carried
    only data), else None. A reason stored as a sentence reads back as ``LEGACY_TEXT``
    wherever a reason is expected (``_reason``); these had no reason field to put it in."""
    if not isinstance(payload, dict):
        return None
    if name == "entry_blocked" and isinstance(payload.get("why"), str):
        symbol = payload.get("symbol")
        return ev.StoredWords(name, symbol if isinstance(symbol, str) else "", (payload["why"],))
    if name == "position_mode_refused" and "why" in payload and "reason" not in payload:
        return from_payload(
            ev.PositionModeRefused,
            {("reason" if k == "why" else k): v for k, v in payload.items()},
            name,
        )
    changes = payload.get("changes")
    if name == "settings_clamped" and isinstance(changes, list) and changes:
        if all(isinstance(c, str) for c in changes):
            return ev.StoredWords(name, "", tuple(changes))
    return None


def loads(name: str, payload: str) -> object:
    """The event stored as ``name`` with ``payload`` as a JSON string."""
    try:
        data = json.loads(payload)
    except (TypeError, ValueError) as exc:
        raise EventDecodeError(f"{name}: the payload is not JSON") from exc
    return decode(name, data)


Decoder = Callable[[object, str], Any]  # (stored value, where) -> value


@cache
def _fields(cls: type) -> tuple[tuple[str, bool, Decoder], ...]:
    """(name, required, decoder) of each field of ``cls``, worked out once per class."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (
            f.name,
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            _decoder(hints[f.name]),
        )
        for f in dataclasses.fields(cls)
    )


def from_payload(cls: type, data: object, where: str = "") -> Any:
    """The dataclass ``cls`` from ``to_payload``'s dict (strict, as ``decode``)."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise EventDecodeError(f"{where}: expected an object")
    fields = _fields(cls)
    if len(data) > len(fields) or not data.keys() <= {name for name, _, _ in fields}:
        unknown = set(data) - {name for name, _, _ in fields}
        raise EventDecodeError(f"{where}: unknown field(s) {sorted(map(str, unknown))}"[:200])
    kwargs = {}
    for name, required, decoder in fields:
        if name in data:
            kwargs[name] = decoder(data[name], f"{where}.{name}")
        elif required:
            raise EventDecodeError(f"{where}: missing field {name}")
    return cls(**kwargs)


@cache
def _decoder(hint: Any) -> Decoder:
    """The function that reads a stored value of type ``hint`` back (strict)."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        real = [o for o in options if o is not type(None)]
        if len(real) != 1:
            raise TypeError(f"unsupported union {hint}")  # no event field has one
        inner, nullable = _decoder(real[0]), type(None) in options

        def optional(value: object, where: str) -> Any:
            if value is None:
                if nullable:
                    return None
                raise EventDecodeError(f"{where}: null not allowed")
            return inner(value, where)

        return optional
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])

            def many(value: object, where: str) -> tuple:
                if not isinstance(value, list):
                    raise EventDecodeError(f"{where}: expected a list")
                return tuple(item(v, f"{where}[{i}]") for i, v in enumerate(value))

            return many
        items = tuple(_decoder(a) for a in args)

        def fixed(value: object, where: str) -> tuple:
            if not isinstance(value, list):
                raise EventDecodeError(f"{where}: expected a list")
            if len(value) != len(items):
                raise EventDecodeError(f"{where}: expected {len(items)} items")
            pairs = enumerate(zip(items, value, strict=True))
            return tuple(d(v, f"{where}[{i}]") for i, (d, v) in pairs)

        return fixed
    if hint is ErrorReason:
        return _reason
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda value, where: from_payload(hint, value, where)
    found = _SCALARS.get(hint)
    if found is None:
        raise TypeError(f"unsupported field type {hint}")
    return found


def _reason(value: object, where: str) -> ErrorReason:
    """An error's reason; a sentence an older engine stored instead reads as
    ``LEGACY_TEXT`` carrying it."""
    if isinstance(value, str):
        return ErrorReason(LEGACY_TEXT, (("text", value),))
    return from_payload(ErrorReason, value, where)


def _decimal(value: object, where: str) -> Decimal:
    if not isinstance(value, str):
        raise EventDecodeError(f"{where}: expected a decimal string")
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise EventDecodeError(f"{where}: not a decimal") from exc


def _datetime(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise EventDecodeError(f"{where}: expected an ISO datetime")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise EventDecodeError(f"{where}: not an ISO datetime") from exc


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise EventDecodeError(f"{where}: expected true or false")
    return value


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventDecodeError(f"{where}: expected an integer")
    return value


def _float(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventDecodeError(f"{where}: expected a number")
    return float(value)


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise EventDecodeError(f"{where}: expected a string")
    return value


_SCALARS: dict[Any, Decoder] = {
    Decimal: _decimal,
    datetime: _datetime,
    bool: _bool,
    int: _int,
    float: _float,
    str: _str,
}
