"""What /connect and /disconnect say. Fixed texts: nothing a user typed is ever shown back here (an
exchange id appears only after it matched the exchange-id grammar, and escaped)."""

from __future__ import annotations

from nija_tg.messages.text import esc

GROUP_REFUSAL = (
    "For your safety /connect works only in a private chat with me: open my profile and "
    "press Start. If you posted an API key or secret in this group, revoke that key on the "
    "exchange now and create a new one."
)
VIEWER_REFUSAL = "Viewers have read-only access and cannot connect an exchange."
# a message that looked like a key, outside the /connect conversation
# (handlers/secret_guard.py)
PASTED_SECRET = (
    "That looked like an API key or secret, so I deleted it and kept nothing of it. "
    "Revoke that key on the exchange now and create a new one: a key that was posted in a "
    "chat is no longer safe. To link your exchange, send /connect in a private chat with "
    "me and paste each credential when I ask."
)
PASTED_SECRET_NOT_DELETED = (
    "⚠️ That looked like an API key or secret, and I could not delete it. Delete the "
    "message yourself now, and revoke that key on the exchange and create a new one."
)
TOO_MANY_ATTEMPTS = "Too many /connect attempts; please wait a few minutes and try again."
WHICH_EXCHANGE = (
    "Which exchange? Pick one, or type any exchange id that ccxt supports "
    "(e.g. <code>binance</code>, <code>okx</code>). /cancel stops."
)
NOT_AN_EXCHANGE = (
    "That is not an exchange id I offer; I deleted your message in case it held a key. "
    "Pick a button, or /cancel."
)
NOT_AN_EXCHANGE_NOT_DELETED = (
    "That is not an exchange id I offer. ⚠️ I could not delete your message: if it held a "
    "key, delete it yourself and revoke that key on the exchange. Pick a button, or /cancel."
)
PICK_ANOTHER = "Pick another exchange, or /cancel."
ONE_PER_MESSAGE = (
    "I deleted that message. Please send each credential in its own message when I ask."
)
DELETE_FAILED = (
    "⚠️ I could not delete your message. Please delete it yourself now, and rotate (revoke "
    "and re-create) that key on the exchange to be safe. I kept nothing; send /connect to "
    "start again with the new key."
)
PLAIN_TEXT_PLEASE = "Please send the credential as plain text, or /cancel."
CHECKING = "Checking your key with the exchange… I will tell you the result here in a few seconds."
CANCELLED = "Cancelled. Nothing was stored."
EXPIRED = "That /connect step expired, so I kept nothing. Send /connect to start again."
EXPIRED_DELETED = (
    "That /connect step had expired: I deleted your message and kept nothing. Send "
    "/connect to start again."
)
TIMED_OUT = "The /connect step timed out; nothing was stored. Send /connect to start again."
NO_CONNECTION = "Viewers have no exchange connection to remove."
DISCONNECTED = (
    "Your exchange keys are erased and trading is off. Also delete the key on the "
    "exchange's website if you no longer use it. Stop-loss orders we placed for open "
    "positions stay on the exchange: cancel them there if you close those positions "
    "yourself."
)
NOTHING_TO_DISCONNECT = "You have no exchange connected. /connect links one."
DISCONNECT_CONFIRM = (
    "⚠️ <b>Disconnect your exchange?</b>\n"
    "This erases {what} here and stops live trading. Open positions are not closed; "
    "stop-loss orders already on the exchange stay there."
)


# Where to make a key and which permissions to tick, per exchange the engine can check
# (docs/key-permissions.md: a key that can withdraw is refused).
KEY_GUIDES = {
    "kraken": (
        "On kraken.com: <b>Settings → API → Create API key</b>. Tick <b>Query Funds</b>, "
        "<b>Query Open Orders &amp; Trades</b>, <b>Query Closed Orders &amp; Trades</b>, "
        "<b>Create &amp; Modify Orders</b> and <b>Cancel/Close Orders</b>. Never tick "
        "<b>Withdraw Funds</b> (such a key is refused) or Deposit Funds."
    ),
    "bingx": (
        "On bingx.com: <b>Account → API Management → Create API</b>. Tick <b>Read</b>, "
        "<b>Spot Trading</b> and <b>Perpetual Futures Trading</b>. Never tick "
        "<b>Withdraw</b> (such a key is refused) or transfer permissions."
    ),
    "coinbase": (
        "On the Coinbase Developer Platform: <b>API keys → Create API key</b> (a secret "
        "API key, signature algorithm <b>ECDSA</b>). Give it the <b>View</b> and "
        "<b>Trade</b> scopes. Never <b>Transfer</b> (such a key is refused). The key name "
        "looks like <code>organizations/…/apiKeys/…</code>; the secret is the whole private "
        "key, including its BEGIN and END lines."
    ),
}
GENERIC_GUIDE = (
    "On the exchange's website, create an API key that can <b>trade</b> and read "
    "balances, with <b>no withdrawals</b> and no transfers."
)


def key_guide(exchange_id: str) -> str:
    return KEY_GUIDES.get(exchange_id, GENERIC_GUIDE)


def ask_for(
    exchange_id: str, fields: list[tuple[str, str]], index: int, server_ip: str | None = None
) -> str:
    _name, label = fields[index]
    step = f"({index + 1}/{len(fields)})"
    text = (
        f"{step} Send your <b>{esc(exchange_id)}</b> {esc(label)}. I delete your message the "
        "moment it arrives and keep it only encrypted. Use a key with trading permission and "
        "<b>no withdrawals</b>. /cancel stops."
    )
    if index == 0:
        text = key_guide(exchange_id) + "\n\n" + text
    if index == 0 and server_ip:
        text += (
            "\nOn the exchange, restrict the key to this server's IP address: "
            f"<code>{esc(server_ip)}</code> (a copied key is then useless elsewhere)."
        )
    return text
