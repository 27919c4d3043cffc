"""/settings (show), /set <name> <value> and /preset <name>; ``handlers()`` also gathers
/pairs, /notify and /forget from their own modules."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from nija_tg.handlers import settings_forget, settings_notify, settings_pairs
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import esc, reply
from nija_tg.handlers.settings_common import (
    VIEWER_REFUSAL,
    args,
    caller_id,
    is_viewer,
    polite,
    service,
)
from nija_tg.services.settings_service import PRESET_NAMES, SettingLine

SET_USAGE = (
    "Usage: /set &lt;name&gt; &lt;value&gt;, e.g. <code>/set max_position_usd 250</code>. "
    "/settings lists every name with its allowed range."
)
PRESET_USAGE = f"Usage: /preset {'|'.join(PRESET_NAMES)}"


def _line(line: SettingLine) -> str:
    head = f"• {esc(line.label)}: <b>{esc(line.value)}</b>"
    if line.locked:
        return f"{head}\n   <code>{esc(line.name)}</code> (🔒 {esc(line.allowed)})"
    return f"{head}\n   /set <code>{esc(line.name)}</code> — {esc(line.allowed)}"


@polite
async def show_settings(update: Update, context: BotContext) -> None:
    if args(context):
        await reply(
            update,
            "Usage: /settings (no arguments). To change one: /set &lt;name&gt; &lt;value&gt;.",
        )
        return
    view = await service(context).view(caller_id(context))
    risk = [_line(li) for li in view.lines if li.section == "risk"]
    strategy = [_line(li) for li in view.lines if li.section == "strategy"]
    parts = ["<b>Your risk limits</b>", *risk, "", "<b>Strategy</b>", *strategy, ""]
    if view.read_only:
        parts.append("Read-only: viewers cannot change settings.")
    else:
        if view.trade_only:
            parts.append("🔒 Your account is trade-only: an admin manages the strategy.")
        parts.append("Change one with /set &lt;name&gt; &lt;value&gt;, or apply a preset:")
        parts.append(f"/preset {'|'.join(PRESET_NAMES)}")
    await reply(update, "\n".join(parts))


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


@polite
async def preset(update: Update, context: BotContext) -> None:
    if is_viewer(context):
        await reply(update, VIEWER_REFUSAL)
        return
    words = args(context)
    if len(words) != 1:
        await reply(update, PRESET_USAGE)
        return
    name = words[0].lower()
    changes = await service(context).apply_preset(caller_id(context), name)
    if not changes:
        await reply(update, f"Your risk limits already match the {esc(name)} preset.")
        return
    lines = [f"✅ Preset <b>{esc(name)}</b> applied. What changed:"]
    lines += [f"• <code>{esc(c.name)}</code>: {esc(c.old)} → <b>{esc(c.new)}</b>" for c in changes]
    await reply(update, "\n".join(lines))


def handlers() -> list:
    return [
        CommandHandler("settings", show_settings),
        CommandHandler("set", set_setting),
        CommandHandler("preset", preset),
        *settings_pairs.handlers(),
        *settings_notify.handlers(),
        *settings_forget.handlers(),
    ]
