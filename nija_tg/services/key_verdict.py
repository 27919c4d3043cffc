"""What the user is told when the engine has checked a submitted key (sent through the
outbox), as events (``core.events.KeyVerified`` / ``KeyRefused``): the words are
``messages.render``'s, which escapes everything dynamic. No secret is ever part of it
(the key's last four characters at most)."""

from __future__ import annotations

from nija_tg.core.errors import ErrorReason
from nija_tg.core.events import BalanceFound, KeyRefused, KeyVerified
from nija_tg.core.models import TradingMode, Verification

OPEN_FAILED = ErrorReason("key_open_failed")


def refused(exchange_id: str, reason: ErrorReason | None) -> KeyRefused:
    return KeyRefused(exchange_id, reason or ErrorReason("key_not_accepted"))


def accepted(
    exchange_id: str, key_tail: str, verification: Verification, mode: TradingMode
) -> KeyVerified:
    return KeyVerified(
        exchange_id=exchange_id,
        key_tail=key_tail,
        balances=tuple(BalanceFound(b.currency, b.total) for b in verification.balances),
        cannot_withdraw=verification.can_withdraw is False,
        live=mode is TradingMode.LIVE,
    )
