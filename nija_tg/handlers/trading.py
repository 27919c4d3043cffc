"""Trading controls: /trade on|exits|off (and the dashboard buttons), /close
<symbol|all> and the Close buttons of /positions (each confirmed by a second button),
/mode paper|live (live only with verified keys and an explicit confirmation button)."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from nija_tg.core.models import Role, TradingMode
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import echo, esc, reply

TRADE_USAGE = "Usage: /trade on, /trade exits or /trade off"
TRADE_MEANS = (
    "on: new positions as your strategy signals · exits: no new positions, exits and "
    "stops run · off: only stops run"
)
MODE_USAGE = "Usage: /mode paper or /mode live"
CLOSE_USAGE = "Usage: /close <symbol or asset> or /close all, e.g. /close ETH"
SWITCH_WORDS = {
    "on": TradingSwitch.ON,
    "start": TradingSwitch.ON,
    "exits": TradingSwitch.EXITS,
    "exit": TradingSwitch.EXITS,
    "off": TradingSwitch.OFF,
    "stop": TradingSwitch.OFF,
}
SWITCH_LABEL = {
    TradingSwitch.ON: "ON",
    TradingSwitch.EXITS: "EXITS ONLY",
    TradingSwitch.OFF: "OFF",
}
CLOSE_TARGET = re.compile(r"[A-Za-z0-9]{1,15}(/[A-Za-z0-9]{1,10}(:[A-Za-z0-9]{1,10})?)?")

# Typed callback data of the Close buttons: "close:ask|yes:<symbol>:<side>", "close:no".
SYMBOL = r"[A-Z0-9]{1,15}/[A-Z0-9]{1,10}(?::[A-Z0-9]{1,10})?"
CLOSE_PATTERN = re.compile(rf"^close:(ask|yes):({SYMBOL}):(long|short)$|^close:no$")


def close_data(action: str, symbol: str, side: str) -> str | None:
    """Callback data of a Close button (``action`` ask or yes), at most 64 bytes; None
    for a symbol the pattern does not take (that position is closed with /close)."""
    data = f"close:{action}:{symbol}:{side}"
    if not CLOSE_PATTERN.match(data) or len(data.encode()) > 64:
        return None
    return data


async def trade_command(update: Update, context: BotContext) -> None:
    args = context.args or []
    if len(args) != 1 or args[0].lower() not in SWITCH_WORDS:
        caller = context.caller
        state = SWITCH_LABEL[caller.switch] if caller is not None else "OFF"
        got = f" (you sent {echo(' '.join(args), 30)})" if args else ""
        await reply(update, f"Trading is {state}. {TRADE_USAGE}{got}\n{TRADE_MEANS}")
        return
    outcome = await context.services.trading.set_switch(
        context.caller.user_id, SWITCH_WORDS[args[0].lower()]
    )
    await reply(update, esc(outcome.message))


async def trade_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    switch = TradingSwitch(query.data.split(":", 1)[1])
    outcome = await context.services.trading.set_switch(context.caller.user_id, switch)
    await query.answer(outcome.message[:190], show_alert=not outcome.ok)
    await reply(update, esc(outcome.message))


async def close_command(update: Update, context: BotContext) -> None:
    args = context.args or []
    if context.caller is None:
        return
    if len(args) != 1 or not CLOSE_TARGET.fullmatch(args[0]):
        got = f" (you sent {echo(' '.join(args), 30)})" if args else ""
        await reply(update, f"{esc(CLOSE_USAGE)}{got}\n/positions lists what is open.")
        return
    outcome = await context.services.trading.request_close(context.caller.user_id, args[0])
    await reply(update, esc(outcome.message))


async def close_button(update: Update, context: BotContext) -> None:
    """A Close button of /positions asks for a confirmation; the confirmation closes."""
    query = update.callback_query
    if query is None or context.caller is None:
        return
    match = CLOSE_PATTERN.match(query.data or "")
    if match is None or context.caller.role is Role.VIEWER:
        await query.answer("This button is not for you.")
        return
    if query.data == "close:no":
        await query.answer("Kept open.")
        await _drop_buttons(update)
        await reply(update, "Nothing closed: the position stays open and keeps its stop.")
        return
    action, symbol, side = match.group(1), match.group(2), match.group(3)
    if action == "ask":
        await query.answer()
        yes = close_data("yes", symbol, side)
        assert yes is not None  # the same symbol and side the pattern just took
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(f"Yes, close {symbol} {side}", callback_data=yes),
                    InlineKeyboardButton("No, keep it", callback_data="close:no"),
                ]
            ]
        )
        await reply(
            update,
            f"Close your <b>{esc(symbol)}</b> {esc(side)} at market now? Its stop-loss ends "
            "with it.",
            keyboard,
        )
        return
    await query.answer("Closing…")
    await _drop_buttons(update)
    outcome = await context.services.trading.request_close_position(
        context.caller.user_id, symbol, side
    )
    await reply(update, esc(outcome.message))


async def _drop_buttons(update: Update) -> None:
    try:
        await update.callback_query.edit_message_reply_markup(reply_markup=None)
    except TelegramError:
        pass  # a used confirmation is harmless: the request is idempotent


async def mode_command(update: Update, context: BotContext) -> None:
    args = context.args or []
    if len(args) != 1 or args[0].lower() not in ("paper", "live"):
        current = context.caller.mode.value if context.caller else "paper"
        got = f" (you sent {echo(' '.join(args), 30)})" if args else ""
        await reply(update, f"You are in {current} mode. {MODE_USAGE}{got}")
        return
    if args[0].lower() == "paper":
        outcome = await context.services.trading.set_mode(
            context.caller.user_id, TradingMode.PAPER, confirmed=True
        )
        await reply(update, esc(outcome.message))
        return
    allowed = await context.services.trading.live_allowed(context.caller.user_id)
    if not allowed.ok:
        await reply(update, esc(allowed.message))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Yes, trade real money", callback_data="mode:live:yes")],
            [InlineKeyboardButton("No, stay in paper", callback_data="mode:no")],
        ]
    )
    await reply(
        update,
        f"⚠️ {esc(allowed.message)}\nIn live mode the engine places real orders with your "
        "money, within your risk limits (/settings). Confirm?",
        keyboard,
    )


async def mode_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await query.answer()
    if query.data != "mode:live:yes":
        await query.edit_message_text("Staying in paper mode.")
        return
    outcome = await context.services.trading.set_mode(
        context.caller.user_id, TradingMode.LIVE, confirmed=True
    )
    await query.edit_message_text(outcome.message)


def handlers() -> list:
    return [
        CommandHandler("trade", trade_command),
        CommandHandler("close", close_command),
        CommandHandler("mode", mode_command),
        CallbackQueryHandler(trade_button, pattern=r"^trade:(on|exits|off)$"),
        CallbackQueryHandler(close_button, pattern=CLOSE_PATTERN),
        CallbackQueryHandler(mode_button, pattern=r"^mode:(live:yes|no)$"),
    ]
