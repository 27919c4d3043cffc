"""The words of every error a user can be told (plain text; callers escape it for
HTML): ``WORDS`` maps an error's code (``core.errors``: each class's ``code``, and the
codes the adapters give, e.g. ``exchange.ccxt_errors``) to its sentence, with
``{name}`` for the error's params. Figures are worded here with the one number format
(``AMOUNTS``: amounts, ``MONEY``: values in a currency).

A param named in ``ECHOED`` is what a user typed: it is quoted and HTML-escaped as the
settings replies echo input (``core.setting_parse.echo``), so those codes' words are
already HTML (their handlers reply them as they are).

``text(err)`` is what handlers and the renderer call: the error's own ``user_message``
when a caller built one (those not moved to codes yet), else its code's words. An
unknown code, or params the words do not fit, read as the generic sentence.
"""

from __future__ import annotations

import html
import logging
from decimal import Decimal, InvalidOperation

from nija_tg.core.errors import ErrorReason, NijaError
from nija_tg.core.number_format import amount, exact, money
from nija_tg.core.setting_parse import echo

log = logging.getLogger(__name__)

GENERIC = "Something went wrong. Please try again later."

WORDS: dict[str, str] = {
    # core.errors classes
    "error": GENERIC,
    "stored_key_unreadable": "Your stored exchange key could not be read. Please /connect again.",
    "seal_key_rotated": (
        "The server's encryption key changed while you were typing, so I kept nothing. "
        "Please send /connect again."
    ),
    "no_seal_key": (
        "Connecting keys is not available yet (the trading engine has not started). "
        "Please try again in a few minutes."
    ),
    "invalid_value": "That value is not valid.",
    "not_allowed": "You are not allowed to do that.",
    "exchange_error": "The exchange returned an error.",
    # a reason an older engine stored as its sentence (core.events_codec.LEGACY_TEXT)
    "legacy_text": "{text}",
    "exchange_not_answering": "The exchange is not answering right now. We will try again.",
    "exchange_unreachable": "Could not reach the exchange. Check the exchange is up and try again.",
    "rate_limited": "The exchange asked us to slow down. We will try again shortly.",
    "order_unconfirmed": "The exchange did not confirm the order; checking its state.",
    "order_rejected": "The exchange rejected the order.",
    "insufficient_funds": "Not enough funds on the exchange for this order.",
    "key_refused": "The exchange refused your API key. Check it or create a new one.",
    "order_not_found": "The exchange does not know that order.",
    "exchange_not_supported": "That exchange is not supported.",
    "exchange_not_allowed": "Keys for that exchange are not accepted here.",
    "key_can_withdraw": (
        "This key can withdraw funds. For your safety, create a key with trading "
        "permission only (no withdrawals) and connect again."
    ),
    # exchange.ccxt_errors (ccxt's classes that say more than our class)
    "key_lacks_permission": (
        "Your API key lacks a permission this needs. Enable trading on the key and retry."
    ),
    "account_suspended": "The exchange says your account is suspended or not enabled for this.",
    "market_closed": "The market is closed on the exchange right now.",
    "manual_interaction_needed": (
        "The exchange needs you to confirm something on its website first."
    ),
    "restricted_location": "The exchange does not allow this from our location.",
    "market_not_listed": "The exchange does not list that market.",
    "duplicate_client_order_id": "An open order with the same client order id already exists.",
    "operation_not_supported": "The exchange does not support this operation.",
    "exchange_maintenance": "The exchange is under maintenance. We will try again later.",
    # exchange adapters (ccxt_account, precision, paper, client_ids, protocol)
    "stop_orders_not_taken": "This exchange does not take our stop orders.",
    "stop_amend_not_supported": "This exchange does not amend our stop orders.",
    "limit_needs_price": "A limit order needs a price.",
    "below_precision": "Order too small for {symbol}: the {what} rounds to zero.",
    "below_min_amount": (
        "Order too small for {symbol}: minimum amount is {min_amount} {base}, "
        "the order was {amount}."
    ),
    "below_min_cost": (
        "Order too small for {symbol}: minimum value is {min_cost} {quote}, "
        "the order was about {cost}."
    ),
    "price_not_positive": "The order price for {symbol} must be above zero.",
    "hedge_mode_not_supported": "This exchange does not support hedge mode.",
    "leverage_not_supported": "This exchange account does not support leverage.",
    "position_mode_refused": (
        "The exchange did not change the position mode: close your positions and open "
        "orders on the exchange first. Trading continues in the account's current mode."
    ),
    "paper_no_stop_orders": "Paper trading does not take stop orders.",
    "invalid_client_order_id": "Internal error: the order id was not valid for the exchange.",
    # core.exchange_catalogue: keys for an exchange not accepted
    "wallet_key_exchange": (
        "That exchange needs a wallet private key, which gives full control of your funds. "
        "For your safety this service does not accept such keys."
    ),
    "unprovable_exchange": (
        "I accept keys only where I can prove the key cannot withdraw: Kraken, BingX and "
        "Coinbase. Pick one of those."
    ),
    # the check of a new key (exchange.ccxt_gateway, engine.key_intake): KeyRefused
    "key_not_accepted": (
        "The exchange refused this key. Check that you copied the key and secret exactly "
        "and that the key is active, then /connect again."
    ),
    "exchange_unreachable_now": (
        "Could not reach {name} right now. Please try again in a few minutes."
    ),
    "exchange_not_in_list": "That exchange is not supported. Pick one from the list.",
    "credential_missing": "The {label} is missing. Please /connect again and send every field.",
    "withdraw_unconfirmed": (
        "I could not confirm this key cannot withdraw, so I did not keep it. Create a key "
        "with trading permissions only and send /connect again."
    ),
    "key_withdraws": (
        "This key can withdraw funds. For your safety I did not keep it: create a key "
        "without withdrawal permission and /connect again."
    ),
    "wallet_key_named": (
        "{name} signs with a wallet private key, which controls your funds, so I never "
        "accept keys for it. Pick an exchange that uses API keys, such as Kraken, BingX or "
        "Coinbase."
    ),
    "unprovable_named": (
        "I cannot check whether a {name} key can withdraw, so I do not accept {name} keys. "
        "Kraken, BingX and Coinbase keys can be checked: please pick one of those."
    ),
    "key_open_failed": (
        "I could not open the key you sent (the server's key changed meanwhile). Nothing "
        "was stored; please send /connect again."
    ),
    # services and storage
    "credential_malformed": (
        "That does not look like a credential (empty or too long). Send it again, or /cancel."
    ),
    "credential_characters": (
        "That text holds characters a credential cannot have. Paste it again, or /cancel."
    ),
    "no_stored_key": "No exchange key is stored for live trading. Please /connect first.",
    "last_admin": "That would leave the bot without an admin: make someone else admin first.",
    "bounds_admins_only": "Only admins set bounds on settings.",
    "unknown_bound": "Unknown setting {sent}.",
    "no_user_with_id": "No user with id {user_id} is registered.",
    # services.admin_service: the admin commands
    "admins_only": "That command is for admins.",
    "no_such_user": "No such user.",
    "no_such_page": "There is no page {page}; pages are 1 to {pages}.",
    "audit_count": "n must be between 1 and {max}.",
    "reason_too_long": "The reason is too long (max {max}).",
    "last_admin_demoted": "You are the last admin: promote another first.",
    "grant_needs_viewer": (
        "User {user_id} is not a viewer (role: {role}). Make them one first: /role {user_id} viewer"
    ),
    "grant_of_viewer": "User {user_id} is a viewer; grants point at a trader or admin.",
    "broadcast_usage": "Usage: /broadcast <text>",
    "broadcast_too_long": "The message is too long: {length} characters (max {max}).",
    "broadcast_too_long_formatted": (
        "The message is too long once formatted (many &, < or > characters); please shorten it."
    ),
    # core.setting_bounds: an admin's /bound
    "bound_range_syntax": "Give {name} a range like 1..3, ..500 or 10.. (you sent {sent}).",
    "bound_not_number": "{name}: {sent} is not a number.",
    "bound_not_whole_number": "{name}: {sent} is not a whole number.",
    "bound_range_empty": "Give {name} at least one end: 1..3.",
    "bound_outside_hard": "{name} can only be narrowed within {lo}..{hi}.",
    "bound_choices": "{name} takes one or more of: {allowed} (you sent {sent}).",
    "bound_assets": "{name} takes asset symbols like BTC,ETH (you sent {sent}).",
    "unknown_bound_listed": "Unknown setting {sent}. Bounds apply to: {names}.",
    # core.setting_parse, core.risk_settings: a value typed to /set, /preset, /pairs
    "setting_range": "{name} must be a number between {lo} and {hi} (you sent {sent}).",
    "setting_range_whole": (
        "{name} must be a whole number between {lo} and {hi} (you sent {sent})."
    ),
    "setting_out_of_range": "{name} must be between {lo} and {hi}.",
    "setting_other_currency": (
        "{name} is counted in your account's currency, {currency}: send the number alone "
        "or with {currency} (you sent {sent})."
    ),
    "setting_choice": "{name} must be one of: {choices} (you sent {sent}).",
    "setting_on_off": "{name} must be on or off (you sent {sent}).",
    "pairs_symbols": (
        "{name} must be asset symbols such as BTC, ETH or BTC/USDT (quotes: {quotes}), "
        "or +SOL / -ADA to add or remove (you sent {sent})."
    ),
    "pair_not_permitted": "{asset} is not permitted for you.",
    "pairs_count": "{name} needs 1 to {max} assets (you sent {sent}).",
    "unknown_preset": "Preset must be one of: {presets} (you sent {sent}).",
    "unknown_setting_listed": "Unknown setting {sent}. Settings: {names}.",
    "strategy_admin_managed": (
        "Your account is trade-only: the strategy and its parameters are managed by an admin."
    ),
    "strategy_param_rule": "{rule} (you sent {sent}).",
    # the backtest (engine.backtest, sim_venue, live_replay; shown by the CLI)
    "no_position_to_reduce": "There is no {symbol} position to reduce.",
    "backtest_market_orders_only": "The backtest's swap account takes market orders only.",
    "backtest_timeframe": (
        "The data file holds {found} candles (median spacing) but {strategy} runs on "
        "{timeframe} candles: give {timeframe} candles."
    ),
    "backtest_timeframe_or_setting": (
        "The data file holds {found} candles (median spacing) but {strategy} runs on "
        "{timeframe} candles: give {timeframe} candles, or run it on {found} with "
        '--settings holding {{"strategy": "{strategy}", '
        '"strategy_params": {{"timeframe": "{found}"}}}}.'
    ),
    "backtest_pair": (
        "--pair must be BASE/QUOTE (spot) or BASE/QUOTE:QUOTE (swap) with QUOTE one of {quotes}."
    ),
    "backtest_no_candles": "The data file holds no candles.",
    # engine outcomes of a refused order (engine.user_closes)
    "nothing_to_act_on": "The exchange found nothing to act on.",
    "telegram_id_not_positive": "A Telegram user id is a positive number.",
    "nothing_sellable": (
        "The position is smaller than the exchange's smallest order, so there was nothing "
        "it could sell; no order was sent."
    ),
}

AMOUNTS = frozenset({"amount", "min_amount"})
MONEY = frozenset({"cost", "min_cost"})
EXACT = frozenset({"lo", "hi"})  # a setting's bounds: every digit (``number_format.exact``)
# what the user typed, quoted as the settings replies quote it (``echo``: at most 20
# characters, HTML-escaped)
ECHOED = frozenset({"sent"})
# text from inside the code base that may hold markup characters (a strategy's own rule,
# ``adx_length ... must be >= 2``): HTML-escaped, since the words around ``sent`` are HTML
ESCAPED = frozenset({"rule"})


def _shown(name: str, value: str) -> str:
    if name in ECHOED:
        return echo(value)
    if name in ESCAPED:
        return html.escape(value, quote=False)
    if name in EXACT:
        try:
            return exact(Decimal(value))
        except InvalidOperation:
            return value
    if name in AMOUNTS or name in MONEY:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        return amount(number) if name in AMOUNTS else money(number)
    return value


def words(reason: ErrorReason) -> str:
    """The sentence of ``reason`` (its code's words with its params filled in)."""
    template = WORDS.get(reason.code)
    if template is None:
        log.warning("no words for error code %r", reason.code[:40])
        return GENERIC
    try:
        return template.format_map({k: _shown(k, v) for k, v in reason.params})
    except (KeyError, IndexError, ValueError):
        log.warning("error code %r: params do not fit its words", reason.code)
        return GENERIC


def text(source: NijaError | ErrorReason) -> str:
    """What the user is told of an error: a caller's own ``user_message``, else the
    words of its code."""
    if isinstance(source, NijaError):
        if source.user_message:
            return source.user_message
        source = source.reason
    return words(source)
