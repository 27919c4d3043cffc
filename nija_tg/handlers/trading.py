"""Trading controls: /trade on|exits|off (and the dashboard buttons), /close
<symbol|all> and the Close buttons of /positions (each confirmed by a second button),
/mode paper|live (live only with verified keys and an explicit confirmation button)."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from nija_tg.core.models import Role, TradingMode
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.handlers.callback_data import (
    CallbackDataError,
    CloseButton,
    KeepOpenButton,
    ModeButton,
    TradeButton,
    on_button,
)
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.reports_dashboard import edit_dashboard
from nija_tg.messages import trading as say
from nija_tg.messages.text import esc

SWITCH_WORDS = {
    "on": TradingSwitch.ON,
    "start": TradingSwitch.ON,
    "exits": TradingSwitch.EXITS,
    "exit": TradingSwitch.EXITS,
    "off": TradingSwitch.OFF,
    "stop": TradingSwitch.OFF,
}
LIVE_YES = ModeButton(TradingMode.LIVE).pack()
STAY_PAPER = ModeButton(TradingMode.PAPER).pack()
CLOSE_TARGET = re.compile(r"[A-Za-z0-9]{1,15}(/[A-Za-z0-9]{1,10}(:[A-Za-z0-9]{1,10})?)?")


def close_data(action: str, symbol: str, side: str) -> str | None:
    """Packed data of a Close button (``action`` ask or yes), at most 64 bytes; None
    for a symbol or side the button does not take (that position is closed with /close)."""
    try:
        return CloseButton(action, side, symbol).pack()  # type: ignore[arg-type]
    except CallbackDataError:
        return None


async def trade_command(update: Update, context: BotContext) -> None:
    args = context.args or []
    if len(args) != 1 or args[0].lower() not in SWITCH_WORDS:
        caller = context.caller
        await reply(update, say.trade_usage(caller.switch if caller else None, args))
        return
    outcome = await context.services.trading.set_switch(
        context.caller.user_id, SWITCH_WORDS[args[0].lower()]
    )
    await reply(update, esc(say.outcome_text(outcome)))


TOAST = 190  # characters of a callback answer (Telegram: 200)


async def trade_button(update: Update, context: BotContext, button: TradeButton) -> None:
    query = update.callback_query
    outcome = await context.services.trading.set_switch(context.caller.user_id, button.switch)
    text = say.outcome_text(outcome)
    await query.answer(text[:TOAST], show_alert=not outcome.ok)
    # the buttons sit under the dashboard: it shows the new state in place (no new
    # message, no stale button); what the toast cannot hold whole goes to the chat too
    edited = await edit_dashboard(update, context, None)
    if edited == "failed" or not outcome.ok or len(text) > TOAST:
        await reply(update, esc(text))


async def close_command(update: Update, context: BotContext) -> None:
    args = context.args or []
    if context.caller is None:
        return
    if len(args) != 1 or not CLOSE_TARGET.fullmatch(args[0]):
        await reply(update, say.close_usage(args))
        return
    outcome = await context.services.trading.request_close(context.caller.user_id, args[0])
    await reply(update, esc(say.outcome_text(outcome)))


async def _may_close(update: Update, context: BotContext) -> bool:
    query = update.callback_query
    if query is None or context.caller is None:
        return False
    if context.caller.role is Role.VIEWER:
        await query.answer(say.NOT_FOR_YOU)
        return False
    return True


async def keep_button(update: Update, context: BotContext, _button: KeepOpenButton) -> None:
    """ "No, keep it" under a close confirmation."""
    if not await _may_close(update, context):
        return
    await update.callback_query.answer(say.KEPT_TOAST)
    await _drop_buttons(update)
    await reply(update, say.KEPT)


async def close_button(update: Update, context: BotContext, button: CloseButton) -> None:
    """A Close button of /positions asks for a confirmation; the confirmation closes."""
    if not await _may_close(update, context):
        return
    query = update.callback_query
    symbol, side = button.symbol, button.side
    if button.action == "ask":
        await query.answer()
        yes = CloseButton("yes", side, symbol).pack()
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(say.close_yes_button(symbol, side), callback_data=yes),
                    InlineKeyboardButton(say.KEEP_BUTTON, callback_data=KeepOpenButton().pack()),
                ]
            ]
        )
        await reply(update, say.close_question(symbol, side), keyboard)
        return
    await query.answer(say.CLOSING_TOAST)
    await _drop_buttons(update)
    outcome = await context.services.trading.request_close_position(
        context.caller.user_id, symbol, side
    )
    await reply(update, esc(say.outcome_text(outcome)))


async def _drop_buttons(update: Update) -> None:
    try:
        await update.callback_query.edit_message_reply_markup(reply_markup=None)
    except TelegramError:
        pass  # a used confirmation is harmless: the request is idempotent


async def mode_command(update: Update, context: BotContext) -> None:
    args = context.args or []
    if len(args) != 1 or args[0].lower() not in ("paper", "live"):
        current = context.caller.mode if context.caller else TradingMode.PAPER
        await reply(update, say.mode_usage(current.value, args))
        return
    if args[0].lower() == "paper":
        outcome = await context.services.trading.set_mode(
            context.caller.user_id, TradingMode.PAPER, confirmed=True
        )
        await reply(update, esc(say.outcome_text(outcome)))
        return
    allowed = await context.services.trading.live_allowed(context.caller.user_id)
    if not allowed.ok:
        await reply(update, esc(say.outcome_text(allowed)))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(say.LIVE_YES_BUTTON, callback_data=LIVE_YES)],
            [InlineKeyboardButton(say.STAY_PAPER_BUTTON, callback_data=STAY_PAPER)],
        ]
    )
    await reply(update, say.live_question(say.outcome_text(allowed)), keyboard)


async def mode_button(update: Update, context: BotContext, button: ModeButton) -> None:
    query = update.callback_query
    await query.answer()
    if button.mode is not TradingMode.LIVE:
        await query.edit_message_text(say.STAYING_PAPER)
        return
    outcome = await context.services.trading.set_mode(
        context.caller.user_id, TradingMode.LIVE, confirmed=True
    )
    await query.edit_message_text(say.outcome_text(outcome))


def handlers() -> list:
    return [
        CommandHandler("trade", trade_command),
        CommandHandler("close", close_command),
        CommandHandler("mode", mode_command),
        on_button(TradeButton, trade_button),
        on_button(CloseButton, close_button),
        on_button(KeepOpenButton, keep_button),
        on_button(ModeButton, mode_button),
    ]
