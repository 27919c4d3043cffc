"""What the user is told when the engine has checked a submitted key (sent through the
outbox). Everything dynamic is escaped; no secret is ever part of it (the key's last
four characters at most)."""

from __future__ import annotations

import html
from decimal import Decimal

from nija_tg.core.models import TradingMode, Verification
from nija_tg.core.number_format import amount

MAX_BALANCES_SHOWN = 8
OPEN_FAILED = (
    "I could not open the key you sent (the server's key changed meanwhile). Nothing was "
    "stored; please send /connect again."
)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def _amount(value: Decimal) -> str:
    return amount(value)  # the one number format


def refused_text(exchange_id: str, reason: str) -> str:
    return (
        f"❌ Your <b>{_esc(exchange_id)}</b> key was not connected: {_esc(reason)}\n"
        "Nothing was stored. /connect to try again."
    )


def accepted_text(
    exchange_id: str, key_tail: str, verification: Verification, mode: TradingMode
) -> str:
    lines = [f"✅ <b>{_esc(exchange_id)}</b> connected with key <code>••••{_esc(key_tail)}</code>."]
    held = [b for b in verification.balances if b.total]
    if held:
        lines.append("Balances found:")
        lines += [
            f"• {_esc(b.currency)}: {_esc(_amount(b.total))}" for b in held[:MAX_BALANCES_SHOWN]
        ]
        if len(held) > MAX_BALANCES_SHOWN:
            lines.append(f"… and {len(held) - MAX_BALANCES_SHOWN} more")
    else:
        lines.append("No balances found on this account yet.")
    if verification.can_withdraw is False:
        lines.append("Checked: this key cannot withdraw funds.")
    else:
        lines.append(
            "This exchange does not tell whether a key can withdraw: make sure withdrawals "
            "are disabled for this key."
        )
    if mode is TradingMode.LIVE:
        lines.append("You trade live: the engine now uses this key. /status shows it.")
    else:
        lines.append(
            "You are in paper mode. /mode live switches to real trading; /trade on starts."
        )
    return "\n".join(lines)
