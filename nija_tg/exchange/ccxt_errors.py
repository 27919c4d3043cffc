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

_AUTH_MSG = E.AuthenticationError.user_message
_PERM_MSG = "Your API key lacks a permission this needs. Enable trading on the key and retry."
_SUSPENDED_MSG = "The exchange says your account is suspended or not enabled for this."
_REJECT_MSG = E.OrderRejectedError.user_message
_FUNDS_MSG = E.InsufficientFundsError.user_message
_DOWN_MSG = E.ExchangeUnreachableError.user_message
_RATE_MSG = E.RateLimitedError.user_message
_RETRY_MSG = E.RetryableError.user_message
_UNKNOWN_MSG = E.UnknownOutcomeError.user_message
_NOT_FOUND_MSG = E.NotFoundError.user_message
_GENERIC_MSG = E.ExchangeError.user_message
_MAINT_MSG = "The exchange is under maintenance. We will try again later."
_SYMBOL_MSG = "The exchange does not list that market."
_DUP_MSG = "An open order with the same client order id already exists."


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """How one ccxt exception class maps, on a read and on an order submit."""

    ccxt_name: str
    on_read: type[E.ExchangeError]
    on_submit: type[E.ExchangeError]
    user_message: str
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
    R("AuthenticationError", E.AuthenticationError, E.AuthenticationError, _AUTH_MSG),
    R("PermissionDenied", E.AuthenticationError, E.AuthenticationError, _PERM_MSG),
    R("AccountNotEnabled", E.AuthenticationError, E.AuthenticationError, _SUSPENDED_MSG),
    R("AccountSuspended", E.AuthenticationError, E.AuthenticationError, _SUSPENDED_MSG),
    # --- rejected requests ---
    R("ArgumentsRequired", E.OrderRejectedError, E.OrderRejectedError, _REJECT_MSG),
    R("BadRequest", E.OrderRejectedError, E.OrderRejectedError, _REJECT_MSG),
    R("BadSymbol", E.ExchangeError, E.OrderRejectedError, _SYMBOL_MSG),
    R("OperationRejected", E.OrderRejectedError, E.OrderRejectedError, _REJECT_MSG),
    R(
        "NoChange",
        E.OrderRejectedError,
        E.OrderRejectedError,
        _REJECT_MSG,
        "set_leverage / set_position_mode treat it as success",
    ),
    R(
        "MarginModeAlreadySet",
        E.OrderRejectedError,
        E.OrderRejectedError,
        _REJECT_MSG,
        "treated as success where it means 'already so'",
    ),
    R(
        "MarketClosed",
        E.OrderRejectedError,
        E.OrderRejectedError,
        "The market is closed on the exchange right now.",
    ),
    R(
        "ManualInteractionNeeded",
        E.OrderRejectedError,
        E.OrderRejectedError,
        "The exchange needs you to confirm something on its website first.",
    ),
    R(
        "RestrictedLocation",
        E.OrderRejectedError,
        E.OrderRejectedError,
        "The exchange does not allow this from our location.",
    ),
    R("InsufficientFunds", E.InsufficientFundsError, E.InsufficientFundsError, _FUNDS_MSG),
    R("InvalidAddress", E.ExchangeError, E.OrderRejectedError, _GENERIC_MSG),
    R("AddressPending", E.ExchangeError, E.OrderRejectedError, _GENERIC_MSG),
    R("InvalidOrder", E.OrderRejectedError, E.OrderRejectedError, _REJECT_MSG),
    R(
        "OrderNotFound",
        E.NotFoundError,
        E.NotFoundError,
        _NOT_FOUND_MSG,
        "fetch by client id returns None instead",
    ),
    R("OrderNotCached", E.NotFoundError, E.NotFoundError, _NOT_FOUND_MSG),
    R("OrderImmediatelyFillable", E.OrderRejectedError, E.OrderRejectedError, _REJECT_MSG),
    R("OrderNotFillable", E.OrderRejectedError, E.OrderRejectedError, _REJECT_MSG),
    R("DuplicateOrderId", E.OrderRejectedError, E.OrderRejectedError, _DUP_MSG),
    R("ContractUnavailable", E.OrderRejectedError, E.OrderRejectedError, _REJECT_MSG),
    R(
        "NotSupported",
        E.ExchangeError,
        E.OrderRejectedError,
        "The exchange does not support this operation.",
    ),
    R("InvalidProxySettings", E.ExchangeError, E.ExchangeError, _GENERIC_MSG),
    R("ExchangeClosedByUser", E.ExchangeError, E.ExchangeError, _GENERIC_MSG),
    R(
        "ExchangeError",
        E.ExchangeError,
        E.OrderRejectedError,
        _GENERIC_MSG,
        "an error answer we cannot classify: on submit the exchange answered, so rejected",
    ),
    # --- transient: reads retry, submits may have reached the exchange ---
    R(
        "RateLimitExceeded",
        E.RateLimitedError,
        E.RateLimitedError,
        _RATE_MSG,
        "refused before processing: a submit may be retried",
    ),
    R("DDoSProtection", E.RateLimitedError, E.RateLimitedError, _RATE_MSG),
    R("InvalidNonce", E.RetryableError, E.RetryableError, _RETRY_MSG, "refused before processing"),
    R("ChecksumError", E.RetryableError, E.RetryableError, _RETRY_MSG),
    R(
        "OnMaintenance",
        E.ExchangeUnreachableError,
        E.ExchangeUnreachableError,
        _MAINT_MSG,
        "the exchange said it is in maintenance: not processed",
    ),
    R(
        "ExchangeNotAvailable",
        E.ExchangeUnreachableError,
        E.UnknownOutcomeError,
        _DOWN_MSG,
        "submit: connection refused / DNS failure -> ExchangeUnreachableError (never sent)",
    ),
    R("RequestTimeout", E.RetryableError, E.UnknownOutcomeError, _RETRY_MSG),
    R("NetworkError", E.RetryableError, E.UnknownOutcomeError, _RETRY_MSG),
    R("NullResponse", E.RetryableError, E.UnknownOutcomeError, _RETRY_MSG),
    R("BadResponse", E.RetryableError, E.UnknownOutcomeError, _RETRY_MSG),
    R("CancelPending", E.RetryableError, E.UnknownOutcomeError, _RETRY_MSG),
    R("OperationFailed", E.RetryableError, E.UnknownOutcomeError, _RETRY_MSG),
    R("UnsubscribeError", E.ExchangeError, E.ExchangeError, _GENERIC_MSG),
    R("BaseError", E.ExchangeError, E.UnknownOutcomeError, _GENERIC_MSG),
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
    user_message = row.user_message
    if op == "submit" and target is E.UnknownOutcomeError:
        if isinstance(exc, ccxt.ExchangeNotAvailable) and _never_sent(exc):
            target = E.ExchangeUnreachableError
        else:
            user_message = _UNKNOWN_MSG
    elif op == "submit" and target is E.OrderRejectedError and row.user_message == _GENERIC_MSG:
        user_message = _REJECT_MSG
    message = f"{exchange_id}: {action} failed ({name})"
    return target(message, user_message=user_message)


def is_ccxt_error(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.BaseError)
