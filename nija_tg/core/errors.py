"""The project's own error taxonomy.

An error that can reach a user says what to tell as data, never as a sentence:
``code`` (stable, snake_case; each class has its own, a subclass without words of its
own inherits its parent's) and ``params`` (the names and figures the words need, as
strings). The words are ``nija_tg.messages.errors``' (``text(err)``); this module is the
lowest layer and imports no words. ``str(err)`` is safe to log: adapters translate
library exceptions (ccxt, sqlite, telegram) into these classes at the edge and never
copy the library's text, which can hold secrets.

``user_message``: a sentence a caller built itself instead of a code (None: the code's
words). Used where the sentence already comes from ``nija_tg/messages`` (the settings
and reports services pass their words through); the renderer shows it as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

_CODE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ErrorReason:
    """What an error tells the user, as data an event can carry (``core.events``):
    the error's ``code`` and its ``params`` (name, value) pairs, sorted by name."""

    code: str
    params: tuple[tuple[str, str], ...] = ()

    def encode(self) -> str:
        """One line: ``code`` or ``code {"name": "value", ...}`` (``decode`` reads it)."""
        if not self.params:
            return self.code
        return f"{self.code} {json.dumps(dict(self.params), sort_keys=True)}"

    @classmethod
    def decode(cls, text: str | None, default: str = "exchange_error") -> ErrorReason:
        """The reason ``encode`` gave; ``default`` for any other text (never copied)."""
        code, _, rest = (text or "").partition(" ")
        if not _CODE.fullmatch(code):
            return cls(default)
        if not rest:
            return cls(code)
        try:
            params = json.loads(rest)
        except ValueError:
            return cls(default)
        if not isinstance(params, dict):
            return cls(default)
        return cls(code, tuple(sorted((str(k), str(v)) for k, v in params.items())))


class NijaError(Exception):
    """Base class. ``str(err)`` is safe to log; ``code`` and ``params`` say what the
    user is told (``nija_tg.messages.errors.text``)."""

    code = "error"
    user_message: str | None = None

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        params: Mapping[str, object] | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(message or user_message or code or self.code)
        if code is not None:
            self.code = code
        self.params = {name: str(value) for name, value in (params or {}).items()}
        if user_message is not None:
            self.user_message = user_message

    @property
    def reason(self) -> ErrorReason:
        return ErrorReason(self.code, tuple(sorted(self.params.items())))


class ConfigError(NijaError):
    """An environment variable is missing or malformed. The message names it."""


class VaultError(NijaError):
    """A credential could not be encrypted or decrypted."""

    code = "stored_key_unreadable"


class CiphertextMismatchError(VaultError):
    """A ciphertext decrypted, but belongs to another user or exchange."""


class MasterKeyError(VaultError):
    """No usable master key, or the ciphertext was made under a key we do not have."""


class SealKeyRotatedError(VaultError):
    """A credential was sealed to a public key that is no longer current."""

    code = "seal_key_rotated"


class NoSealKeyError(VaultError):
    """No public key is published yet: the engine has not been initialised."""

    code = "no_seal_key"


class ValidationError(NijaError):
    """User input that does not fit; the words say what would."""

    code = "invalid_value"


class PermissionDeniedError(NijaError):
    code = "not_allowed"


# --- exchange taxonomy -------------------------------------------------------------


class ExchangeError(NijaError):
    """Base of everything an exchange adapter raises."""

    code = "exchange_error"


class RetryableError(ExchangeError):
    """Network trouble, timeout, rate limit, exchange unavailable: safe to try again
    for reads. A *submit* that fails this way before any byte was accepted is also
    retryable; when acceptance is possible the adapter raises UnknownOutcomeError."""

    code = "exchange_not_answering"


class ExchangeUnreachableError(RetryableError):
    code = "exchange_unreachable"


class RateLimitedError(RetryableError):
    code = "rate_limited"


class UnknownOutcomeError(ExchangeError):
    """A submit whose result we did not see: the order may exist. Resolve by looking it
    up by client order id; never send it again blindly."""

    code = "order_unconfirmed"


class OrderRejectedError(ExchangeError):
    """Invalid order, bad request, below minimums: never retried."""

    code = "order_rejected"


class InsufficientFundsError(OrderRejectedError):
    code = "insufficient_funds"


class AuthenticationError(ExchangeError):
    """The key is wrong, revoked, expired or lacks a permission."""

    code = "key_refused"


class NotFoundError(ExchangeError):
    code = "order_not_found"


class UnknownExchangeError(ExchangeError):
    code = "exchange_not_supported"


class ExchangeNotAllowedError(NijaError):
    """The exchange exists but keys for it are not accepted (wallet keys, or no proof
    that a key cannot withdraw); the code says why, without user text."""

    code = "exchange_not_allowed"


class WithdrawalPermissionError(ExchangeError):
    """The key can withdraw funds; we refuse such keys."""

    code = "key_can_withdraw"
