"""Typed callback data: every inline button's data, packed and unpacked in one place.

A button's data is a small frozen dataclass with a prefix, a version and typed fields.
On the wire it reads ``<prefix>:<version>:<field>:...`` (only the last field may hold a
``:``, e.g. a swap symbol ``ETH/USDT:USDT``), at most 64 bytes (Telegram's limit).
Field types: ``int`` (digits, optionally ``Annotated[int, Range(lo, hi)]``), ``int | None``
(empty when None), a ``StrEnum``, a ``Literal`` of strings, or
``Annotated[str, Pattern(regex)]``. A plain ``str`` is refused: every field has a grammar.

A handler registers with ``on_button(SomeButton, callback)``: its pattern is the class's
regex (``SomeButton.pattern()``, derived from the prefix, the version and the fields'
grammars) and the callback receives the unpacked object. Data the regex does not take (an
older version of the button, a malformed field, an unknown prefix) reaches no feature
handler: the fallback (handlers/fallback.py) answers ``EXPIRED_BUTTON`` and nothing is
acted on or edited. Data the regex takes but a field's bounds refuse is answered the same.

Bump a class's ``version`` whenever the meaning or the layout of its fields changes:
buttons still showing in old messages then answer "expired" instead of acting.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

from telegram import Update
from telegram.ext import CallbackQueryHandler

from nija_tg.core.exchange_catalogue import EXCHANGE_ID_RE
from nija_tg.core.models import TradingMode
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.messages.common import EXPIRED_BUTTON

MAX_BYTES = 64  # Telegram's limit on callback_data
SEP = ":"
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,15}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_PREFIXES: dict[str, type[CallbackData]] = {}


class CallbackDataError(ValueError):
    """A button's data cannot be packed: a field out of its grammar, or over 64 bytes."""


@dataclass(frozen=True)
class Range:
    """``Annotated[int, Range(lo, hi)]``: an int field bounded on both sides."""

    lo: int
    hi: int


@dataclass(frozen=True)
class Pattern:
    """``Annotated[str, Pattern(regex)]``: a str field that must fully match ``regex``."""

    regex: str | re.Pattern[str]


@dataclass(frozen=True)
class _Codec:
    encode: Callable[[Any], str]
    decode: Callable[[str], Any]  # raises ValueError on data outside the grammar
    regex: str  # the field's grammar on the wire, for the handler's pattern


def _int_codec(lo: int = 0, hi: int = 10**19 - 1) -> _Codec:
    def decode(text: str) -> int:
        if not _DIGITS.fullmatch(text) or not lo <= int(text) <= hi:
            raise ValueError(text)
        return int(text)

    return _Codec(str, decode, f"[0-9]{{1,{len(str(hi))}}}")


def _choice_codec(values: tuple[str, ...], make: Callable[[str], Any]) -> _Codec:
    def decode(text: str) -> Any:
        if text not in values:
            raise ValueError(text)
        return make(text)

    return _Codec(str, decode, "(?:" + "|".join(map(re.escape, values)) + ")")


def _pattern_codec(regex: str | re.Pattern[str]) -> _Codec:
    source = regex if isinstance(regex, str) else regex.pattern
    source = source.removeprefix("^").removesuffix("$")
    compiled = re.compile(source)

    def decode(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError(text)
        return text

    return _Codec(str, decode, f"(?:{source})")


def _optional(inner: _Codec) -> _Codec:
    return _Codec(
        lambda v: "" if v is None else inner.encode(v),
        lambda t: None if t == "" else inner.decode(t),
        f"(?:{inner.regex})?",
    )


def _codec(hint: Any) -> _Codec:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        base, marks = args[0], args[1:]
        for mark in marks:
            if isinstance(mark, Range) and base is int:
                return _int_codec(mark.lo, mark.hi)
            if isinstance(mark, Pattern) and base is str:
                return _pattern_codec(mark.regex)
        raise TypeError(f"unsupported callback field {hint!r}")
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        if len(args) == 2 and len(rest) == 1:
            return _optional(_codec(rest[0]))
    if origin is Literal and all(isinstance(a, str) for a in args):
        return _choice_codec(args, str)
    if hint is int:
        return _int_codec()
    if isinstance(hint, type) and issubclass(hint, enum.StrEnum):
        return _choice_codec(tuple(m.value for m in hint), hint)
    raise TypeError(f"unsupported callback field {hint!r} (a plain str needs a Pattern)")


class CallbackData:
    """Base of every button's data; subclass as a frozen dataclass::

    @dataclass(frozen=True)
    class TradeButton(CallbackData, prefix="trade", version=1):
        switch: TradingSwitch
    """

    prefix: ClassVar[str]
    version: ClassVar[int]

    def __init_subclass__(cls, *, prefix: str, version: int, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _PREFIX.fullmatch(prefix) or version < 1:
            raise TypeError(f"bad callback prefix/version {prefix!r} {version!r}")
        if prefix in _PREFIXES:
            raise TypeError(f"callback prefix {prefix!r} is already {_PREFIXES[prefix]}")
        _PREFIXES[prefix] = cls
        cls.prefix, cls.version = prefix, version

    @classmethod
    @functools.cache
    def _codecs(cls) -> tuple[_Codec, ...]:
        hints = typing.get_type_hints(cls, include_extras=True)
        return tuple(_codec(hints[f.name]) for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def pack(self) -> str:
        """The wire form; CallbackDataError if a field is outside its grammar or the
        result exceeds 64 bytes (checked by unpacking it again)."""
        values = [getattr(self, f.name) for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        parts = [self.prefix, str(self.version)]
        parts += [codec.encode(v) for codec, v in zip(self._codecs(), values, strict=True)]
        data = SEP.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise CallbackDataError(f"{self.prefix}: {len(data.encode())} bytes > {MAX_BYTES}")
        if type(self).unpack(data) != self:
            raise CallbackDataError(f"{self.prefix}: a field is outside its grammar")
        return data

    @classmethod
    def unpack(cls, data: str) -> Self | None:
        """The typed object, or None for anything else (another prefix, another
        version, a malformed field, over 64 bytes)."""
        codecs = cls._codecs()
        if len(data.encode()) > MAX_BYTES:
            return None
        parts = data.split(SEP, 1 + len(codecs))
        if len(parts) != 2 + len(codecs) or parts[:2] != [cls.prefix, str(cls.version)]:
            return None
        try:
            values = [codec.decode(p) for codec, p in zip(codecs, parts[2:], strict=True)]
        except ValueError:
            return None
        return cls(*values)

    @classmethod
    @functools.cache
    def pattern(cls) -> re.Pattern[str]:
        """The regex of this version's wire form (what its handler registers with)."""
        parts = [re.escape(cls.prefix), str(cls.version), *(c.regex for c in cls._codecs())]
        return re.compile("^" + re.escape(SEP).join(parts) + r"\Z")


ButtonCallback = Callable[[Update, Any, Any], Awaitable[Any]]


def on_button(cls: type[CallbackData], callback: ButtonCallback) -> CallbackQueryHandler:
    """The handler for ``cls``'s buttons: ``callback(update, context, button)`` gets the
    unpacked object; data the pattern takes but the fields' bounds refuse is answered
    "expired" (other data never reach it: the fallback answers them the same)."""

    async def run(update: Update, context: Any) -> Any:
        query = update.callback_query
        button = cls.unpack(query.data or "") if query is not None else None
        if button is None:
            if query is not None:
                await query.answer(EXPIRED_BUTTON)
            return None
        return await callback(update, context, button)

    run.__name__ = run.__qualname__ = f"{getattr(callback, '__name__', 'button')}[{cls.prefix}]"
    return CallbackQueryHandler(run, pattern=cls.pattern())


# --- every button of the bot ------------------------------------------------------------

SYMBOL = r"[A-Z0-9]{1,15}/[A-Z0-9]{1,10}(?::[A-Z0-9]{1,10})?"


@dataclass(frozen=True)
class TradeButton(CallbackData, prefix="trade", version=1):
    """▶️ Start / ⏸ Stop trading on the dashboard."""

    switch: TradingSwitch


@dataclass(frozen=True)
class RefreshButton(CallbackData, prefix="status", version=1):
    """🔄 Refresh on a dashboard: the caller's own (None) or a granted trader's."""

    user_id: Annotated[int, Range(1, 10**15 - 1)] | None = None


@dataclass(frozen=True)
class CloseButton(CallbackData, prefix="close", version=1):
    """✖️ Close on /positions (``ask``) and its confirmation (``yes``)."""

    action: Literal["ask", "yes"]
    side: Literal["long", "short"]
    symbol: Annotated[str, Pattern(SYMBOL)]


@dataclass(frozen=True)
class KeepOpenButton(CallbackData, prefix="keep", version=1):
    """ "No, keep it" under a close confirmation."""


@dataclass(frozen=True)
class ModeButton(CallbackData, prefix="mode", version=1):
    """The /mode live confirmation: ``live`` confirms, ``paper`` stays."""

    mode: TradingMode


@dataclass(frozen=True)
class ForgetButton(CallbackData, prefix="forget", version=1):
    """The /forget confirmation: erase everything, or cancel."""

    erase: Literal["yes", "no"]


@dataclass(frozen=True)
class JoinButton(CallbackData, prefix="join", version=1):
    """An admin's Approve / Reject of a newcomer (approval registration mode)."""

    verdict: Literal["approve", "reject"]
    user_id: int


@dataclass(frozen=True)
class UsersPageButton(CallbackData, prefix="users", version=1):
    """‹ Prev / Next › under /users."""

    page: Annotated[int, Range(1, 999_999)]


@dataclass(frozen=True)
class ExchangeButton(CallbackData, prefix="exchange", version=1):
    """An exchange picked at /connect's first step."""

    exchange_id: Annotated[str, Pattern(EXCHANGE_ID_RE)]


@dataclass(frozen=True)
class ConnectCancelButton(CallbackData, prefix="connect", version=1):
    """Cancel at /connect's first step."""


PERIOD = Literal["day", "week", "month", "all"]
SETTING_NAME = r"[a-z][a-z0-9_]{0,31}(?:\.[a-z][a-z0-9_]{0,31})?"
SETTING_VALUE = r"[0-9]{1,7}(?:\.[0-9]{1,8})?|[a-z0-9][a-z0-9_]{0,23}"
TARGET_ID = Annotated[int, Range(1, 10**15 - 1)] | None


@dataclass(frozen=True)
class PnlButton(CallbackData, prefix="pnl", version=1):
    """A period under /pnl (edits the report in place), or ``chart`` for its image."""

    period: PERIOD
    chart: Literal["text", "chart"] = "text"
    user_id: TARGET_ID = None


@dataclass(frozen=True)
class SettingsPageButton(CallbackData, prefix="settings", version=1):
    """The settings pages: ``risk`` (the overview), ``strategy`` (its parameters),
    ``presets``, ``notify`` (notifications)."""

    page: Literal["risk", "strategy", "presets", "notify"]


@dataclass(frozen=True)
class SettingPickButton(CallbackData, prefix="setpick", version=1):
    """A setting picked on the overview: opens its editor in place."""

    name: Annotated[str, Pattern(SETTING_NAME)]


@dataclass(frozen=True)
class SettingValueButton(CallbackData, prefix="setval", version=1):
    """A value tapped in a setting's editor (a +/- step, a preset's value, a choice)."""

    value: Annotated[str, Pattern(SETTING_VALUE)]
    name: Annotated[str, Pattern(SETTING_NAME)]


@dataclass(frozen=True)
class PresetButton(CallbackData, prefix="preset", version=1):
    """A risk preset under /preset."""

    name: Literal["conservative", "moderate", "aggressive"]


@dataclass(frozen=True)
class NotifyButton(CallbackData, prefix="notify", version=1):
    """One notification group (or all) set to on, silent or off under /notify."""

    group: Literal["fills", "stops", "halts", "errors", "summary", "all"]
    value: Literal["on", "silent", "off"]


# Yes/No under a confirmation: ``token`` names the question asked, kept with the asker
# (handlers/confirm.py); each question has its own class.
TOKEN = Annotated[int, Range(1, 999_999_999)]


@dataclass(frozen=True)
class DisconnectConfirm(CallbackData, prefix="disconnect", version=1):
    """/disconnect: erase the exchange keys?"""

    answer: Literal["yes", "no"]
    token: TOKEN


@dataclass(frozen=True)
class PauseAllConfirm(CallbackData, prefix="pauseall", version=1):
    """An admin's /pause all."""

    answer: Literal["yes", "no"]
    token: TOKEN


@dataclass(frozen=True)
class HaltConfirm(CallbackData, prefix="halt", version=1):
    """An admin's /halt."""

    answer: Literal["yes", "no"]
    token: TOKEN


@dataclass(frozen=True)
class BroadcastConfirm(CallbackData, prefix="broadcast", version=1):
    """An admin's /broadcast, after its preview."""

    answer: Literal["yes", "no"]
    token: TOKEN
