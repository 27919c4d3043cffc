"""Trading controls: /trade on|off (and the dashboard buttons), /mode paper|live (live
only with verified keys and an explicit confirmation button)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from nija_tg.core.models import TradingMode
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import echo, esc, reply

TRADE_USAGE = "Usage: /trade on or /trade off"
MODE_USAGE = "Usage: /mode paper or /mode live"
ON_WORDS = {"on": True, "start": True, "off": False, "stop": False}


async def trade_command(update: Update, context: BotContext) -> None:
    args = context.args or []
    if len(args) != 1 or args[0].lower() not in ON_WORDS:
        state = "ON" if context.caller and context.caller.trading_on else "OFF"
        got = f" (you sent {echo(' '.join(args), 30)})" if args else ""
        await reply(update, f"Trading is {state}. {TRADE_USAGE}{got}")
        return
    outcome = await context.services.trading.set_trading(
        context.caller.user_id, ON_WORDS[args[0].lower()]
    )
    await reply(update, esc(outcome.message))


async def trade_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    on = query.data == "trade:on"
    outcome = await context.services.trading.set_trading(context.caller.user_id, on)
    await query.answer(outcome.message[:190], show_alert=not outcome.ok)
    await reply(update, esc(outcome.message))


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
        CommandHandler("mode", mode_command),
        CallbackQueryHandler(trade_button, pattern=r"^trade:(on|off)$"),
        CallbackQueryHandler(mode_button, pattern=r"^mode:(live:yes|no)$"),
    ]
