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
from nija_tg.handlers.replies import esc, reply
from nija_tg.handlers.settings_common import (
    VIEWER_REFUSAL,
    args,
    caller_id,
    edit_in_place,
    is_viewer,
    plain,
    polite,
    service,
)
from nija_tg.handlers.settings_editor import pick_button
from nija_tg.services.settings_service import PRESET_NAMES, Change, SettingLine, SettingsView

SET_USAGE = (
    "Usage: /set &lt;name&gt; &lt;value&gt;, e.g. <code>/set max_position_usd 250</code>. "
    "Or tap a setting in /settings."
)
PRESET_USAGE = f"Usage: /preset {'|'.join(PRESET_NAMES)} (or /preset alone for buttons)"
PRESET_MEANS = {
    "conservative": "small positions, tight daily loss and drawdown limits, up to 2x",
    "moderate": "the defaults",
    "aggressive": "larger positions and limits, up to 5x",
}
PAGE_TITLES = {"risk": "⚙️ <b>Your settings</b>", "strategy": "🧠 <b>Strategy</b>"}


def _line(line: SettingLine) -> str:
    lock = " 🔒" if line.locked else ""
    return f"• {esc(line.label)}: <b>{esc(line.value)}</b>{lock}"


def _page_lines(view: SettingsView, page: str) -> list[SettingLine]:
    if page == "risk":
        return [li for li in view.lines if li.section == "risk"] + [
            li for li in view.lines if li.name == "strategy"
        ]
    return [li for li in view.lines if li.section == "strategy" and li.name != "strategy"]


def page_text(view: SettingsView, page: str) -> str:
    parts = [PAGE_TITLES[page], *(_line(li) for li in _page_lines(view, page))]
    if view.read_only:
        parts.append("\nRead-only: viewers cannot change settings.")
    elif view.trade_only:
        parts.append("\n🔒 Your account is trade-only: an admin manages the strategy.")
    if not view.read_only:
        parts.append("\nTap a setting to change it.")
    return "\n".join(parts)


def page_markup(view: SettingsView, page: str) -> InlineKeyboardMarkup | None:
    if view.read_only:
        other = "strategy" if page == "risk" else "risk"
        label = "🧠 Strategy parameters ›" if page == "risk" else "‹ Risk settings"
        rows = [[InlineKeyboardButton(label, callback_data=SettingsPageButton(other).pack())]]
        if page == "risk":  # notifications are the viewer's own to set
            notify = SettingsPageButton("notify").pack()
            rows.append([InlineKeyboardButton("🔔 Notifications ›", callback_data=notify)])
        return InlineKeyboardMarkup(rows)
    buttons = [
        pick_button(li.label, li.name, li.locked)
        for li in _page_lines(view, page)
        if li.name != "allowed_pairs"
    ]
    rows = [[b for b in buttons[i : i + 2] if b is not None] for i in range(0, len(buttons), 2)]
    if page == "risk":
        rows.append(
            [
                InlineKeyboardButton(
                    "🧠 Strategy parameters ›", callback_data=SettingsPageButton("strategy").pack()
                ),
                InlineKeyboardButton(
                    "🎚 Presets ›", callback_data=SettingsPageButton("presets").pack()
                ),
            ]
        )
        rows.append(
            [
                InlineKeyboardButton(
                    "🔔 Notifications ›", callback_data=SettingsPageButton("notify").pack()
                )
            ]
        )
    else:
        rows.append(
            [
                InlineKeyboardButton(
                    "‹ Risk settings", callback_data=SettingsPageButton("risk").pack()
                )
            ]
        )
    return InlineKeyboardMarkup([r for r in rows if r])


@polite
async def show_settings(update: Update, context: BotContext) -> None:
    if args(context):
        await reply(update, "Usage: /settings (no arguments), then tap a setting to change it.")
        return
    view = await service(context).view(caller_id(context))
    text = page_text(view, "risk") + "\nPairs: /pairs"
    await reply(update, text, page_markup(view, "risk"))


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
            await query.answer(plain(VIEWER_REFUSAL), show_alert=True)
            return
        await query.answer()
        await edit_in_place(update, presets_text(), presets_markup(back=True))
        return
    view = await service(context).view(caller_id(context))
    await query.answer()
    await edit_in_place(update, page_text(view, button.page), page_markup(view, button.page))


@polite
async def set_setting(update: Update, context: BotContext) -> None:
    if is_viewer(context):
        await reply(update, VIEWER_REFUSAL)
        return
    words = args(context)
    if not words:
        await reply(update, SET_USAGE)
        return
    settings = service(context)
    if len(words) == 1:
        line = await settings.describe(caller_id(context), words[0])
        if line.locked:
            await reply(update, f"{esc(line.name)} is managed by an admin on your account.")
            return
        usage = f"Usage: /set {esc(line.name)} &lt;value&gt; — {esc(line.allowed)}."
        await reply(update, usage)
        return
    change = await settings.set_value(caller_id(context), words[0], " ".join(words[1:]))
    if change.old == change.new:
        await reply(update, f"{esc(change.name)} is already {esc(change.new)}.")
        return
    await reply(
        update,
        f"✅ <code>{esc(change.name)}</code>: {esc(change.old)} → <b>{esc(change.new)}</b>",
    )


# --- presets ---------------------------------------------------------------------------


def presets_text() -> str:
    lines = ["🎚 <b>Risk presets</b> (your pairs and strategy stay as they are)"]
    lines += [f"• <b>{esc(name)}</b>: {esc(PRESET_MEANS.get(name, ''))}" for name in PRESET_NAMES]
    lines.append("\nTap one to apply it; admin bounds still hold.")
    return "\n".join(lines)


def presets_markup(*, back: bool = False) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(name.capitalize(), callback_data=PresetButton(name).pack())  # type: ignore[arg-type]
            for name in PRESET_NAMES
        ]
    ]
    if back:
        rows.append(
            [InlineKeyboardButton("‹ Settings", callback_data=SettingsPageButton("risk").pack())]
        )
    return InlineKeyboardMarkup(rows)


def preset_result(name: str, changes: list[Change]) -> str:
    if not changes:
        return f"Your risk limits already match the {esc(name)} preset."
    lines = [f"✅ Preset <b>{esc(name)}</b> applied. What changed:"]
    lines += [f"• <code>{esc(c.name)}</code>: {esc(c.old)} → <b>{esc(c.new)}</b>" for c in changes]
    return "\n".join(lines)


@polite
async def preset(update: Update, context: BotContext) -> None:
    if is_viewer(context):
        await reply(update, VIEWER_REFUSAL)
        return
    words = args(context)
    if not words:
        await reply(update, presets_text(), presets_markup())
        return
    if len(words) != 1:
        await reply(update, PRESET_USAGE)
        return
    name = words[0].lower()
    changes = await service(context).apply_preset(caller_id(context), name)
    await reply(update, preset_result(name, changes))


async def preset_button(update: Update, context: BotContext, button: PresetButton) -> None:
    """A preset tapped: applied through the service (viewers refused), and the message
    shows what changed, with the preset buttons again."""
    query = update.callback_query
    if query is None or context.caller is None:
        return
    try:
        changes = await service(context).apply_preset(caller_id(context), button.name)
    except NijaError as exc:
        await query.answer(plain(exc.user_message), show_alert=True)
        return
    await query.answer(f"{button.name.capitalize()} applied" if changes else "No change")
    text = preset_result(button.name, changes) + "\n\n" + presets_text()
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
