"""/notify (each event group with its value, and buttons) and /notify <group|all>
on|silent|off. A button sets one group (or all) and redraws the message in place."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from nija_tg.core.errors import NijaError
from nija_tg.handlers.callback_data import NotifyButton, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.settings_common import args, caller_id, edit_in_place, plain, polite, service
from nija_tg.messages import settings as say
from nija_tg.messages.errors import text as error_text


def _markup(prefs: dict[str, str]) -> InlineKeyboardMarkup:
    rows = []
    for group in [*prefs, "all"]:
        row = []
        for value in say.NOTIFY_ICONS:
            current = prefs.get(group) == value or (
                group == "all" and set(prefs.values()) == {value}
            )
            label = say.notify_button(group, value, current)
            data = NotifyButton(group, value).pack()  # type: ignore[arg-type]
            row.append(InlineKeyboardButton(label, callback_data=data))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


async def page(context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    """The caller's notifications with their buttons (also a page of /settings)."""
    prefs = await service(context).notify_prefs(caller_id(context))
    return say.notify(prefs), _markup(prefs)


@polite
async def notify(update: Update, context: BotContext) -> None:
    words = args(context)
    settings = service(context)
    if not words:
        text, markup = await page(context)
        await reply(update, text, markup)
        return
    if len(words) != 2:
        await reply(update, say.NOTIFY_USAGE)
        return
    prefs = await settings.set_notify(caller_id(context), words[0], words[1])
    await reply(update, say.notify(prefs, updated=True), _markup(prefs))


async def notify_button(update: Update, context: BotContext, button: NotifyButton) -> None:
    query = update.callback_query
    if query is None or context.caller is None:
        return
    try:
        prefs = await service(context).set_notify(caller_id(context), button.group, button.value)
    except NijaError as exc:
        await query.answer(plain(error_text(exc)), show_alert=True)
        return
    await query.answer(say.notify_toast(button.group, button.value))
    await edit_in_place(update, say.notify(prefs, updated=True), _markup(prefs))


def handlers() -> list:
    return [CommandHandler("notify", notify), on_button(NotifyButton, notify_button)]
