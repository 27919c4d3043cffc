"""The project's own error taxonomy.

Every error that can reach a user carries a ``user_message``: a short, polite sentence
that never contains secrets or internals. Adapters translate library exceptions
(ccxt, sqlite, telegram) into these classes at the edge.
"""

from __future__ import annotations


class NijaError(Exception):
    """Base class. ``str(err)`` is safe to log; ``user_message`` is safe to show."""

    user_message = "Something went wrong. Please try again later."

    def __init__(self, message: str = "", *, user_message: str | None = None) -> None:
        super().__init__(message or self.user_message)
        if user_message is not None:
            self.user_message = user_message


class ConfigError(NijaError):
    """An environment variable is missing or malformed. The message names it."""


class VaultError(NijaError):
    """A credential could not be encrypted or decrypted."""

    user_message = "Your stored exchange key could not be read. Please /connect again."


class CiphertextMismatchError(VaultError):
    """A ciphertext decrypted, but belongs to another user or exchange."""


class MasterKeyError(VaultError):
    """No usable master key, or the ciphertext was made under a key we do not have."""


class SealKeyRotatedError(VaultError):
    """A credential was sealed to a public key that is no longer current."""

    user_message = (
        "The server's encryption key changed while you were typing, so I kept nothing. "
        "Please send /connect again."
    )


class NoSealKeyError(VaultError):
    """No public key is published yet: the engine has not been initialised."""

    user_message = (
        "Connecting keys is not available yet (the trading engine has not started). "
        "Please try again in a few minutes."
    )


class ValidationError(NijaError):
    """User input that does not fit; ``user_message`` says what would."""

    user_message = "That value is not valid."


class PermissionDeniedError(NijaError):
    user_message = "You are not allowed to do that."


# --- exchange taxonomy -------------------------------------------------------------


class ExchangeError(NijaError):
    """Base of everything an exchange adapter raises."""

    user_message = "The exchange returned an error."


class RetryableError(ExchangeError):
    """Network trouble, timeout, rate limit, exchange unavailable: safe to try again
    for reads. A *submit* that fails this way before any byte was accepted is also
    retryable; when acceptance is possible the adapter raises UnknownOutcomeError."""

    user_message = "The exchange is not answering right now. We will try again."


class ExchangeUnreachableError(RetryableError):
    user_message = "Could not reach the exchange. Check the exchange is up and try again."


class RateLimitedError(RetryableError):
    user_message = "The exchange asked us to slow down. We will try again shortly."


class UnknownOutcomeError(ExchangeError):
    """A submit whose result we did not see: the order may exist. Resolve by looking it
    up by client order id; never send it again blindly."""

    user_message = "The exchange did not confirm the order; checking its state."


class OrderRejectedError(ExchangeError):
    """Invalid order, bad request, below minimums: never retried."""

    user_message = "The exchange rejected the order."


class InsufficientFundsError(OrderRejectedError):
    user_message = "Not enough funds on the exchange for this order."


class AuthenticationError(ExchangeError):
    """The key is wrong, revoked, expired or lacks a permission."""

    user_message = "The exchange refused your API key. Check it or create a new one."


class NotFoundError(ExchangeError):
    user_message = "The exchange does not know that order."


class UnknownExchangeError(ExchangeError):
    user_message = "That exchange is not supported."


class ExchangeNotAllowedError(NijaError):
    """The exchange exists but keys for it are not accepted (wallet keys, or no proof
    that a key cannot withdraw); ``user_message`` says why, without user text."""

    user_message = "Keys for that exchange are not accepted here."


class WithdrawalPermissionError(ExchangeError):
    """The key can withdraw funds; we refuse such keys."""

    user_message = (
        "This key can withdraw funds. For your safety, create a key with trading "
        "permission only (no withdrawals) and connect again."
    )
