"""/pairs (show), /pairs add SOL, /pairs remove ADA."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

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

USAGE = "Usage: /pairs, /pairs add SOL [ETH …] or /pairs remove ADA [DOT …]"


@polite
async def pairs(update: Update, context: BotContext) -> None:
    words = args(context)
    if not words:
        await _show(update, context)
        return
    action = words[0].lower()
    if action not in ("add", "remove") or len(words) < 2:
        await reply(update, USAGE)
        return
    if is_viewer(context):
        await reply(update, VIEWER_REFUSAL)
        return
    edit = await service(context).edit_pairs(caller_id(context), action, words[1:])
    lines = []
    if edit.changed:
        verb = "Added" if action == "add" else "Removed"
        lines.append(f"✅ {verb}: {esc(', '.join(edit.changed))}")
    if edit.unchanged:
        where = "already in" if action == "add" else "not in"
        lines.append(f"{esc(', '.join(edit.unchanged))}: {where} your list, nothing to do.")
    lines.append(f"Allowed pairs now: <b>{esc(', '.join(edit.pairs))}</b>")
    await reply(update, "\n".join(lines))


async def _show(update: Update, context: BotContext) -> None:
    view = await service(context).pairs(caller_id(context))
    lines = [
        f"Allowed pairs: <b>{esc(', '.join(view.pairs))}</b>",
        f"Each traded against {esc(', '.join(view.quotes))}.",
    ]
    if view.read_only:
        lines.append("Read-only: viewers cannot change pairs.")
        await reply(update, "\n".join(lines))
        return
    if view.permitted is None:
        lines.append("You may add any asset the exchange lists.")
    else:
        lines.append(f"Your admin permits: {esc(', '.join(view.permitted))}.")
    lines.append("Change: /pairs add SOL or /pairs remove ADA")
    await reply(update, "\n".join(lines))


def handlers() -> list:
    return [CommandHandler("pairs", pairs)]
