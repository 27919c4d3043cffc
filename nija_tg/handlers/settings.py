"""/settings (a short, tappable overview), /set <name> <value> and /preset; ``handlers()``
also gathers the inline editor, /pairs, /notify and /forget from their own modules.

/settings shows one line per risk setting and a button for each; a tap opens that
setting's editor in the same message (settings_editor.py). The strategy's parameters and
the presets are pages of the same message. /preset without a name shows the presets as
buttons. Every change goes through the settings service and its validation, as /set.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from nija_tg.core.errors import NijaError
from nija_tg.handlers import settings_editor, settings_forget, settings_notify, settings_pairs
from nija_tg.handlers.callback_data import PresetButton, SettingsPageButton, on_button
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import reply
from nija_tg.handlers.settings_common import (
    args,
    caller_id,
    edit_in_place,
    is_viewer,
    plain,
    polite,
    service,
)
from nija_tg.handlers.settings_editor import pick_button
from nija_tg.messages import settings as say
from nija_tg.messages.errors import text as error_text
from nija_tg.services.settings_service import PRESET_NAMES, SettingsView


def page_markup(view: SettingsView, page: str) -> InlineKeyboardMarkup | None:
    if view.read_only:
        other = "strategy" if page == "risk" else "risk"
        label = say.STRATEGY_BUTTON if page == "risk" else say.RISK_BUTTON
        rows = [[InlineKeyboardButton(label, callback_data=SettingsPageButton(other).pack())]]
        if page == "risk":  # notifications are the viewer's own to set
            notify = SettingsPageButton("notify").pack()
            rows.append([InlineKeyboardButton(say.NOTIFY_BUTTON, callback_data=notify)])
        return InlineKeyboardMarkup(rows)
    buttons = [pick_button(li) for li in say.page_lines(view, page) if li.name != "allowed_pairs"]
    rows = [[b for b in buttons[i : i + 2] if b is not None] for i in range(0, len(buttons), 2)]
    if page == "risk":
        rows.append(
            [
                InlineKeyboardButton(
                    say.STRATEGY_BUTTON, callback_data=SettingsPageButton("strategy").pack()
                ),
                InlineKeyboardButton(
                    say.PRESETS_BUTTON, callback_data=SettingsPageButton("presets").pack()
                ),
            ]
        )
        rows.append(
            [
                InlineKeyboardButton(
                    say.NOTIFY_BUTTON, callback_data=SettingsPageButton("notify").pack()
                )
            ]
        )
    else:
        rows.append(
            [InlineKeyboardButton(say.RISK_BUTTON, callback_data=SettingsPageButton("risk").pack())]
        )
    return InlineKeyboardMarkup([r for r in rows if r])


@polite
async def show_settings(update: Update, context: BotContext) -> None:
    if args(context):
        await reply(update, say.SETTINGS_USAGE)
        return
    view = await service(context).view(caller_id(context))
    await reply(update, say.settings_page(view, "risk", command=True), page_markup(view, "risk"))


async def page_button(update: Update, context: BotContext, button: SettingsPageButton) -> None:
    query = update.callback_query
    if query is None or context.caller is None:
        return
    if button.page == "notify":  # any role sets their own notifications
        await query.answer()
        text, markup = await settings_notify.page(context)
        await edit_in_place(update, text, markup)
        return
    if button.page == "presets":
        if is_viewer(context):
            await query.answer(plain(say.VIEWER_REFUSAL), show_alert=True)
            return
        await query.answer()
        await edit_in_place(update, say.presets(PRESET_NAMES), presets_markup(back=True))
        return
    view = await service(context).view(caller_id(context))
    await query.answer()
    text = say.settings_page(view, button.page)
    await edit_in_place(update, text, page_markup(view, button.page))


@polite
async def set_setting(update: Update, context: BotContext) -> None:
    if is_viewer(context):
        await reply(update, say.VIEWER_REFUSAL)
        return
    words = args(context)
    if not words:
        await reply(update, say.SET_USAGE)
        return
    settings = service(context)
    if len(words) == 1:
        line = await settings.describe(caller_id(context), words[0])
        await reply(update, say.set_locked(line) if line.locked else say.set_usage(line))
        return
    change = await settings.set_value(caller_id(context), words[0], " ".join(words[1:]))
    await reply(update, say.set_done(change))


# --- presets ---------------------------------------------------------------------------


def presets_markup(*, back: bool = False) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(say.preset_button(name), callback_data=PresetButton(name).pack())  # type: ignore[arg-type]
            for name in PRESET_NAMES
        ]
    ]
    if back:
        rows.append(
            [
                InlineKeyboardButton(
                    say.SETTINGS_BUTTON, callback_data=SettingsPageButton("risk").pack()
                )
            ]
        )
    return InlineKeyboardMarkup(rows)


@polite
async def preset(update: Update, context: BotContext) -> None:
    if is_viewer(context):
        await reply(update, say.VIEWER_REFUSAL)
        return
    words = args(context)
    if not words:
        await reply(update, say.presets(PRESET_NAMES), presets_markup())
        return
    if len(words) != 1:
        await reply(update, say.preset_usage(PRESET_NAMES))
        return
    name = words[0].lower()
    changes = await service(context).apply_preset(caller_id(context), name)
    await reply(update, say.preset_applied(name, changes))


async def preset_button(update: Update, context: BotContext, button: PresetButton) -> None:
    """A preset tapped: applied through the service (viewers refused), and the message
    shows what changed, with the preset buttons again."""
    query = update.callback_query
    if query is None or context.caller is None:
        return
    try:
        changes = await service(context).apply_preset(caller_id(context), button.name)
    except NijaError as exc:
        await query.answer(plain(error_text(exc)), show_alert=True)
        return
    await query.answer(say.preset_toast(button.name, bool(changes)))
    text = say.preset_applied(button.name, changes) + "\n\n" + say.presets(PRESET_NAMES)
    await edit_in_place(update, text, presets_markup(back=True))


def handlers() -> list:
    return [
        CommandHandler("settings", show_settings),
        CommandHandler("set", set_setting),
        CommandHandler("preset", preset),
        on_button(SettingsPageButton, page_button),
        on_button(PresetButton, preset_button),
        *settings_editor.handlers(),
        *settings_pairs.handlers(),
        *settings_notify.handlers(),
        *settings_forget.handlers(),
    ]
