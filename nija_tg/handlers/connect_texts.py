"""What /connect says. Everything dynamic is escaped; secrets never appear."""

from __future__ import annotations

from nija_tg.handlers.replies import esc

GROUP_REFUSAL = (
    "For your safety /connect works only in a private chat with me: open my profile and "
    "press Start. If you posted an API key or secret in this group, revoke that key on the "
    "exchange now and create a new one."
)
DELETE_FAILED = (
    "⚠️ I could not delete your message. Please delete it yourself now, and rotate (revoke "
    "and re-create) that key on the exchange to be safe."
)


def ask_for(exchange_id: str, fields: list[tuple[str, str]], index: int) -> str:
    _name, label = fields[index]
    step = f"({index + 1}/{len(fields)})"
    return (
        f"{step} Send your <b>{esc(exchange_id)}</b> {esc(label)}. I delete your message the "
        "moment it arrives and keep it only encrypted. Use a key with trading permission and "
        "<b>no withdrawals</b>. /cancel stops."
    )
