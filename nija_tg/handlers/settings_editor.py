"""The inline editor of one setting: picked on /settings, it shows the value, the
allowed range (hard bounds narrowed by admin bounds) and buttons: +/- steps, each
preset's value, or the choices. A tap saves through the settings service (the same
validation and audit as /set) and redraws the editor in place; a refused value (out of
the bounds, a viewer, a trade-only user's strategy) is answered with the reason and
changes nothing."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from nija_tg.core.errors import NijaError
from nija_tg.handlers.callback_data import (
    CallbackDataError,
    SettingPickButton,
    SettingsPageButton,
    SettingValueButton,
    on_button,
)
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.settings_common import caller_id, edit_in_place, plain, service
from nija_tg.messages import settings as say
from nija_tg.messages.errors import text as error_text
from nija_tg.services.settings_service import Option, SettingEditor, SettingLine


def pick_button(line: SettingLine) -> InlineKeyboardButton | None:
    """The overview's button of one setting (None if its name cannot be packed)."""
    try:
        data = SettingPickButton(line.name).pack()
    except CallbackDataError:
        return None
    return InlineKeyboardButton(say.pick_button(line), callback_data=data)


def _button(option: Option, name: str) -> InlineKeyboardButton | None:
    try:
        data = SettingValueButton(option.value, name).pack()
    except CallbackDataError:
        return None
    return InlineKeyboardButton(say.option_button(option), callback_data=data)


def editor_markup(editor: SettingEditor) -> InlineKeyboardMarkup:
    name = editor.line.name
    rows: list[list[InlineKeyboardButton]] = []
    for options, per_row in ((editor.steps, 2), (editor.values, 3)):
        buttons = [b for b in (_button(o, name) for o in options) if b is not None]
        rows += [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    back = "strategy" if name.startswith("strategy.") else "risk"
    rows.append(
        [InlineKeyboardButton(say.BACK_BUTTON, callback_data=SettingsPageButton(back).pack())]  # type: ignore[arg-type]
    )
    return InlineKeyboardMarkup(rows)


async def pick(update: Update, context: BotContext, button: SettingPickButton) -> None:
    query = update.callback_query
    if query is None or context.caller is None:
        return
    try:
        editor = await service(context).editor(caller_id(context), button.name)
    except NijaError as exc:
        await query.answer(plain(error_text(exc)), show_alert=True)
        return
    await query.answer()
    await edit_in_place(update, say.editor(editor), editor_markup(editor))


async def put(update: Update, context: BotContext, button: SettingValueButton) -> None:
    """A value tapped: saved through the service, then the editor redrawn in place."""
    query = update.callback_query
    if query is None or context.caller is None:
        return
    settings = service(context)
    try:
        change = await settings.set_value(caller_id(context), button.name, button.value)
    except NijaError as exc:
        await query.answer(plain(error_text(exc)), show_alert=True)
        return
    editor = await settings.editor(caller_id(context), change.name)
    await query.answer(plain(say.saved_toast(editor.line, change)))
    await edit_in_place(update, say.editor(editor, change), editor_markup(editor))


def handlers() -> list:
    return [on_button(SettingPickButton, pick), on_button(SettingValueButton, put)]
