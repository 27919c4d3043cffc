"""What /connect says. Everything dynamic is escaped; secrets never appear."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.handlers.replies import esc
from nija_tg.services.connect_service import ConnectResult

GROUP_REFUSAL = (
    "For your safety /connect works only in a private chat with me: open my profile and "
    "press Start. If you posted an API key or secret in this group, revoke that key on the "
    "exchange now and create a new one."
)
DELETE_FAILED = (
    "⚠️ I could not delete your message. Please delete it yourself now, and rotate (revoke "
    "and re-create) that key on the exchange to be safe."
)
MAX_BALANCES_SHOWN = 8


def ask_for(exchange_id: str, fields: list[tuple[str, str]], index: int) -> str:
    _name, label = fields[index]
    step = f"({index + 1}/{len(fields)})"
    return (
        f"{step} Send your <b>{esc(exchange_id)}</b> {esc(label)}. I delete your message the "
        "moment it arrives and keep it only encrypted. Use a key with trading permission and "
        "<b>no withdrawals</b>. /cancel stops."
    )


def _amount(value: Decimal) -> str:
    return f"{value:,.8f}".rstrip("0").rstrip(".")


def result_text(result: ConnectResult) -> str:
    if not result.ok:
        return f"❌ Not connected: {esc(result.reason)}\nNothing was stored. /connect to retry."
    lines = [
        f"✅ <b>{esc(result.exchange_id)}</b> connected with key <code>{esc(result.key_tail)}"
        "</code>."
    ]
    held = [b for b in result.balances if b.total]
    if held:
        lines.append("Balances found:")
        lines += [
            f"• {esc(b.currency)}: {esc(_amount(b.total))}" for b in held[:MAX_BALANCES_SHOWN]
        ]
        if len(held) > MAX_BALANCES_SHOWN:
            lines.append(f"… and {len(held) - MAX_BALANCES_SHOWN} more")
    else:
        lines.append("No balances found on this account yet.")
    if result.permissions:
        lines.append("Permissions the exchange reports: " + esc(", ".join(result.permissions)))
    elif result.can_withdraw is None:
        lines.append(
            "This exchange does not report a key's permissions: make sure withdrawals are "
            "disabled for this key."
        )
    lines.append("You are in paper mode. /mode live switches to real trading; /trade on starts.")
    return "\n".join(lines)
