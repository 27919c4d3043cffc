"""Translate ccxt exceptions into the project's taxonomy (``nija_tg.core.errors``).

One table, :data:`ERROR_TABLE`, drives the mapping, the documentation
(docs/exchange-errors.md) and the tests. A ccxt exception is matched by walking its
MRO, most specific class first, so ``RateLimitExceeded`` (which in ccxt 4.x is *not* a
subclass of ``DDoSProtection``) gets its own row. The raw ccxt text is never copied:
it can hold request URLs, bodies and keys. Our messages carry only the exchange id, the
operation and the ccxt class name.

On an order submit the class decides what the engine does (``ErrorRow.submit_outcome``):
"not processed" (a ``RetryableError``: the exchange's answer proves the order was not
placed, or the request never left us) is a rejection without look-ups, sent again at
once for exits and stops; "unknown" (``UnknownOutcomeError``) is looked up by client id;
"refused" and "nothing to act on" are rejections the exchange stated.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Literal

import aiohttp
import ccxt

from nija_tg.core import errors as E

log = logging.getLogger(__name__)

Op = Literal["read", "submit"]

# What a row tells the user: a code of its own (``messages.errors.WORDS`` words it), or
# None for the words of the class it maps to (``core.errors``: ``code``).
_CLASS = None
_PERM = "key_lacks_permission"
_SUSPENDED = "account_suspended"
_MAINT = "exchange_maintenance"
_SYMBOL = "market_not_listed"
_DUP = "duplicate_client_order_id"


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """How one ccxt exception class maps, on a read and on an order submit."""

    ccxt_name: str
    on_read: type[E.ExchangeError]
    on_submit: type[E.ExchangeError]
    code: str | None  # the user is told this code's words (None: the target class's)
    note: str = ""

    @property
    def read_retried(self) -> bool:
        return issubclass(self.on_read, E.RetryableError)

    @property
    def submit_outcome(self) -> str:
        """What the engine's executor makes of this answer to an order submit."""
        return submit_outcome(self.on_submit)


def submit_outcome(cls: type[E.ExchangeError]) -> str:
    """ "not processed", "unknown", "refused", "key refused" or "nothing to act on"."""
    if issubclass(cls, E.RetryableError):
        return "not processed"  # no look-up; exits and stops are sent again at once
    if issubclass(cls, E.AuthenticationError):
        return "key refused"  # rejected; the user is paused (reason connection)
    if issubclass(cls, E.OrderRejectedError):
        return "refused"  # rejected; the user is told once (until it changes or succeeds)
    if issubclass(cls, E.NotFoundError):
        return "nothing to act on"  # rejected without look-up, not told
    return "unknown"  # looked up by client id with backoff


R = ErrorRow
# Every class in ccxt.base.errors has a row; the test suite checks this.
ERROR_TABLE: tuple[ErrorRow, ...] = (
    # --- authentication / permission ---
    R("AuthenticationError", E.AuthenticationError, E.AuthenticationError, _CLASS),
    R("PermissionDenied", E.AuthenticationError, E.AuthenticationError, _PERM),
    R("AccountNotEnabled", E.AuthenticationError, E.AuthenticationError, _SUSPENDED),
    R("AccountSuspended", E.AuthenticationError, E.AuthenticationError, _SUSPENDED),
    # --- rejected requests ---
    R("ArgumentsRequired", E.OrderRejectedError, E.OrderRejectedError, _CLASS),
    R("BadRequest", E.OrderRejectedError, E.OrderRejectedError, _CLASS),
    R("BadSymbol", E.ExchangeError, E.OrderRejectedError, _SYMBOL),
    R("OperationRejected", E.OrderRejectedError, E.OrderRejectedError, _CLASS),
    R(
        "NoChange",
        E.OrderRejectedError,
        E.OrderRejectedError,
        _CLASS,
        "set_leverage / set_position_mode treat it as success",
    ),
    R(
        "MarginModeAlreadySet",
        E.OrderRejectedError,
        E.OrderRejectedError,
        _CLASS,
        "treated as success where it means 'already so'",
    ),
    R(
        "MarketClosed",
        E.OrderRejectedError,
        E.OrderRejectedError,
        "market_closed",
    ),
    R(
        "ManualInteractionNeeded",
        E.OrderRejectedError,
        E.OrderRejectedError,
        "manual_interaction_needed",
    ),
    R(
        "RestrictedLocation",
        E.OrderRejectedError,
        E.OrderRejectedError,
        "restricted_location",
    ),
    R("InsufficientFunds", E.InsufficientFundsError, E.InsufficientFundsError, _CLASS),
    R("InvalidAddress", E.ExchangeError, E.OrderRejectedError, _CLASS),
    R("AddressPending", E.ExchangeError, E.OrderRejectedError, _CLASS),
    R("InvalidOrder", E.OrderRejectedError, E.OrderRejectedError, _CLASS),
    R(
        "OrderNotFound",
        E.NotFoundError,
        E.NotFoundError,
        _CLASS,
        "fetch by client id returns None instead",
    ),
    R("OrderNotCached", E.NotFoundError, E.NotFoundError, _CLASS),
    R("OrderImmediatelyFillable", E.OrderRejectedError, E.OrderRejectedError, _CLASS),
    R("OrderNotFillable", E.OrderRejectedError, E.OrderRejectedError, _CLASS),
    R("DuplicateOrderId", E.OrderRejectedError, E.OrderRejectedError, _DUP),
    R("ContractUnavailable", E.OrderRejectedError, E.OrderRejectedError, _CLASS),
    R(
        "NotSupported",
        E.ExchangeError,
        E.OrderRejectedError,
        "operation_not_supported",
    ),
    R("InvalidProxySettings", E.ExchangeError, E.ExchangeError, _CLASS),
    R("ExchangeClosedByUser", E.ExchangeError, E.ExchangeError, _CLASS),
    R(
        "ExchangeError",
        E.ExchangeError,
        E.OrderRejectedError,
        _CLASS,
        "an error answer we cannot classify: on submit the exchange answered, so rejected",
    ),
    # --- transient: reads retry, submits may have reached the exchange ---
    R(
        "RateLimitExceeded",
        E.RateLimitedError,
        E.RateLimitedError,
        _CLASS,
        "refused before processing: a submit may be retried",
    ),
    R("DDoSProtection", E.RateLimitedError, E.RateLimitedError, _CLASS),
    R("InvalidNonce", E.RetryableError, E.RetryableError, _CLASS, "refused before processing"),
    R("ChecksumError", E.RetryableError, E.RetryableError, _CLASS),
    R(
        "OnMaintenance",
        E.ExchangeUnreachableError,
        E.ExchangeUnreachableError,
        _MAINT,
        "the exchange said it is in maintenance: not processed",
    ),
    R(
        "ExchangeNotAvailable",
        E.ExchangeUnreachableError,
        E.UnknownOutcomeError,
        _CLASS,
        "submit: connection refused / DNS failure -> ExchangeUnreachableError (never sent)",
    ),
    R("RequestTimeout", E.RetryableError, E.UnknownOutcomeError, _CLASS),
    R("NetworkError", E.RetryableError, E.UnknownOutcomeError, _CLASS),
    R("NullResponse", E.RetryableError, E.UnknownOutcomeError, _CLASS),
    R("BadResponse", E.RetryableError, E.UnknownOutcomeError, _CLASS),
    R("CancelPending", E.RetryableError, E.UnknownOutcomeError, _CLASS),
    R("OperationFailed", E.RetryableError, E.UnknownOutcomeError, _CLASS),
    R("UnsubscribeError", E.ExchangeError, E.ExchangeError, _CLASS),
    R("BaseError", E.ExchangeError, E.UnknownOutcomeError, _CLASS),
)
_BY_NAME = {row.ccxt_name: row for row in ERROR_TABLE}

# Well-known answers ccxt leaves unclassified or misclassified, matched on the exchange's
# own error text (the text itself is never copied into our messages):
# (exchange id -> (ccxt class it arrives as, needle, class to treat it as)).
RECLASSIFY: dict[str, tuple[tuple[str, str, str], ...]] = {
    # Kraken answers a wrong secret with EAPI:Invalid signature; ccxt leaves it plain.
    "kraken": (("ExchangeError", "EAPI:Invalid signature", "AuthenticationError"),),
    # BingX 100421 is a stale timestamp (a nonce problem); ccxt maps it to BadSymbol.
    # BingX 100410 (ccxt: OperationFailed, an unknown outcome on a submit) and 109429
    # (ccxt: plain ExchangeError, a refusal on a submit) are its rate limits: the request
    # was refused before it was processed.
    "bingx": (
        ("BadSymbol", '"code":100421', "InvalidNonce"),
        ("OperationFailed", '"code":100410', "RateLimitExceeded"),
        ("ExchangeError", '"code":109429', "RateLimitExceeded"),
    ),
}


def row_for(exc_type: type[BaseException]) -> ErrorRow | None:
    """The table row of the most specific ccxt class in ``exc_type``'s MRO."""
    for klass in exc_type.__mro__:
        if klass.__module__.startswith("ccxt") and klass.__name__ in _BY_NAME:
            return _BY_NAME[klass.__name__]
    return None


def _never_sent(exc: BaseException) -> bool:
    """True when the cause shows the request never left us (connect failed, DNS)."""
    cause = exc.__cause__
    never = aiohttp.ClientConnectorError | socket.gaierror | ConnectionRefusedError
    return isinstance(cause, never)


def map_error(exc: BaseException, *, exchange_id: str, action: str, op: Op = "read") -> E.NijaError:
    """Our exception for ``exc`` raised by ccxt while doing ``action``.

    ``op="submit"`` is only for the order-placing call: there a timeout or a dropped
    response means the order may exist (UnknownOutcomeError).
    """
    if isinstance(exc, E.NijaError):
        return exc
    name = type(exc).__name__
    row = row_for(type(exc))
    for arrives_as, needle, as_name in RECLASSIFY.get(exchange_id, ()):
        if name == arrives_as and needle.replace(" ", "") in str(exc).replace(" ", ""):
            row, name = _BY_NAME[as_name], f"{name}->{as_name}"
            break
    if row is None:
        if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | OSError):
            row = _BY_NAME["NetworkError"]
        else:
            log.warning("%s %s: unexpected %s", exchange_id, action, name)
            row = _BY_NAME["BaseError"]
    target = row.on_submit if op == "submit" else row.on_read
    code = row.code
    if op == "submit" and target is E.UnknownOutcomeError:
        if isinstance(exc, ccxt.ExchangeNotAvailable) and _never_sent(exc):
            target = E.ExchangeUnreachableError
        else:
            code = None  # the order may exist: the unknown outcome's own words
    message = f"{exchange_id}: {action} failed ({name})"
    return target(message, code=code)


def is_ccxt_error(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.BaseError)
