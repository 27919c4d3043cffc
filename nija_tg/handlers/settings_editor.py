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
from nija_tg.handlers.replies import esc
from nija_tg.handlers.settings_common import caller_id, edit_in_place, plain, service
from nija_tg.services.settings_service import Change, Option, SettingEditor

LABEL_LIMIT = 32


def pick_button(label: str, name: str, locked: bool) -> InlineKeyboardButton | None:
    """The overview's button of one setting (None if its name cannot be packed)."""
    try:
        data = SettingPickButton(name).pack()
    except CallbackDataError:
        return None
    text = ("🔒 " if locked else "") + label[:LABEL_LIMIT]
    return InlineKeyboardButton(text, callback_data=data)


def editor_text(editor: SettingEditor, change: Change | None = None) -> str:
    line = editor.line
    lines = [f"⚙️ <b>{esc(line.label)}</b>", f"Now: <b>{esc(line.value)}</b>"]
    if change is not None and change.old != change.new:
        lines.append(f"✅ Saved: {esc(change.old)} → <b>{esc(change.new)}</b>")
    if line.locked:
        lines.append("🔒 Managed by an admin on your account (or read-only).")
    else:
        lines.append(f"Allowed: {esc(line.allowed)}")
        if line.name == "allowed_pairs":
            lines.append("Change with /pairs add SOL or /pairs remove ADA.")
        elif editor.steps or editor.values:
            lines.append("Tap a new value.")
        lines.append(f"Or type <code>/set {esc(line.name)} &lt;value&gt;</code>.")
    return "\n".join(lines)


def _button(option: Option, name: str) -> InlineKeyboardButton | None:
    try:
        data = SettingValueButton(option.value, name).pack()
    except CallbackDataError:
        return None
    label = ("• " if option.current else "") + option.label
    return InlineKeyboardButton(label[:LABEL_LIMIT], callback_data=data)


def editor_markup(editor: SettingEditor) -> InlineKeyboardMarkup:
    name = editor.line.name
    rows: list[list[InlineKeyboardButton]] = []
    for options, per_row in ((editor.steps, 2), (editor.values, 3)):
        buttons = [b for b in (_button(o, name) for o in options) if b is not None]
        rows += [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    back = "strategy" if name.startswith("strategy.") else "risk"
    rows.append(
        [InlineKeyboardButton("‹ Back", callback_data=SettingsPageButton(back).pack())]  # type: ignore[arg-type]
    )
    return InlineKeyboardMarkup(rows)


async def pick(update: Update, context: BotContext, button: SettingPickButton) -> None:
    query = update.callback_query
    if query is None or context.caller is None:
        return
    try:
        editor = await service(context).editor(caller_id(context), button.name)
    except NijaError as exc:
        await query.answer(plain(exc.user_message), show_alert=True)
        return
    await query.answer()
    await edit_in_place(update, editor_text(editor), editor_markup(editor))


async def put(update: Update, context: BotContext, button: SettingValueButton) -> None:
    """A value tapped: saved through the service, then the editor redrawn in place."""
    query = update.callback_query
    if query is None or context.caller is None:
        return
    settings = service(context)
    try:
        change = await settings.set_value(caller_id(context), button.name, button.value)
    except NijaError as exc:
        await query.answer(plain(exc.user_message), show_alert=True)
        return
    editor = await settings.editor(caller_id(context), change.name)
    if change.old == change.new:
        await query.answer(f"Already {change.new}")
    else:
        await query.answer(plain(f"✅ {editor.line.label}: {change.old} → {change.new}"))
    await edit_in_place(update, editor_text(editor, change), editor_markup(editor))


def handlers() -> list:
    return [on_button(SettingPickButton, pick), on_button(SettingValueButton, put)]
