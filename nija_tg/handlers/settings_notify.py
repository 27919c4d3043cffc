"""/notify (each event group with its value) and /notify <group|all> on|silent|off."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import esc, reply
from nija_tg.handlers.settings_common import args, caller_id, polite, service

GROUP_HELP = {
    "fills": "your orders filling",
    "stops": "stop-losses and take-profits",
    "halts": "daily loss / drawdown halts and pauses",
    "errors": "exchange and connection problems",
    "summary": "the daily summary",
}
ICONS = {"on": "🔔", "silent": "🔕", "off": "⛔"}
USAGE = (
    "Usage: /notify &lt;group&gt; on|silent|off — groups: "
    f"{', '.join(GROUP_HELP)}, all (e.g. <code>/notify fills silent</code>)"
)


def _render(prefs: dict[str, str], title: str) -> str:
    lines = [title]
    for group, value in prefs.items():
        icon = ICONS.get(value, "")
        what = GROUP_HELP.get(group, "")
        lines.append(f"{icon} <b>{esc(group)}</b>: {esc(value)} — {esc(what)}")
    lines.append("")
    lines.append(USAGE)
    return "\n".join(lines)


@polite
async def notify(update: Update, context: BotContext) -> None:
    words = args(context)
    settings = service(context)
    if not words:
        prefs = await settings.notify_prefs(caller_id(context))
        await reply(update, _render(prefs, "<b>Your notifications</b>"))
        return
    if len(words) != 2:
        await reply(update, USAGE)
        return
    prefs = await settings.set_notify(caller_id(context), words[0], words[1])
    await reply(update, _render(prefs, "✅ <b>Notifications updated</b>"))


def handlers() -> list:
    return [CommandHandler("notify", notify)]
