"""Every word of /settings (the overview, the strategy page, the one-setting editor),
/set, /preset, /pairs and /notify. Values arrive as the settings service words them
(``SettingLine.value``, ``Change.old``/``new``); this module escapes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nija_tg.messages import report_data as rd
from nija_tg.messages.text import esc

VIEWER_REFUSAL = (
    "You have read-only access: viewers cannot change settings. "
    "/settings shows them; /notify sets your own notifications."
)
SETTINGS_USAGE = "Usage: /settings (no arguments), then tap a setting to change it."
SET_USAGE = (
    "Usage: /set &lt;name&gt; &lt;value&gt;, e.g. <code>/set max_position_usd 250</code>. "
    "Or tap a setting in /settings."
)
PAGE_TITLES = {"risk": "⚙️ <b>Your settings</b>", "strategy": "🧠 <b>Strategy</b>"}
STRATEGY_BUTTON = "🧠 Strategy parameters ›"
PRESETS_BUTTON = "🎚 Presets ›"
NOTIFY_BUTTON = "🔔 Notifications ›"
RISK_BUTTON = "‹ Risk settings"
SETTINGS_BUTTON = "‹ Settings"
BACK_BUTTON = "‹ Back"
LABEL_LIMIT = 32  # characters of a setting's button


# --- the overview ----------------------------------------------------------------------


def page_lines(view: rd.SettingsView, page: str) -> list[rd.SettingLine]:
    """The settings a page lists: risk (with the strategy's name) or the strategy's
    parameters."""
    if page == "risk":
        return [li for li in view.lines if li.section == "risk"] + [
            li for li in view.lines if li.name == "strategy"
        ]
    return [li for li in view.lines if li.section == "strategy" and li.name != "strategy"]


def _line(line: rd.SettingLine) -> str:
    lock = " 🔒" if line.locked else ""
    return f"• {esc(line.label)}: <b>{esc(line.value)}</b>{lock}"


def settings_page(view: rd.SettingsView, page: str, *, command: bool = False) -> str:
    """A page of /settings (``command``: sent for /settings itself, with the /pairs hint)."""
    parts = [PAGE_TITLES[page], *(_line(li) for li in page_lines(view, page))]
    if view.read_only:
        parts.append("\nRead-only: viewers cannot change settings.")
    elif view.trade_only:
        parts.append("\n🔒 Your account is trade-only: an admin manages the strategy.")
    if not view.read_only:
        parts.append("\nTap a setting to change it.")
    if command:
        parts.append("Pairs: /pairs")
    return "\n".join(parts)


def pick_button(label: str, locked: bool) -> str:
    """The overview's button of one setting."""
    return ("🔒 " if locked else "") + label[:LABEL_LIMIT]


# --- /set and the editor ------------------------------------------------------------------


def set_locked(line: rd.SettingLine) -> str:
    return f"{esc(line.name)} is managed by an admin on your account."


def set_usage(line: rd.SettingLine) -> str:
    return f"Usage: /set {esc(line.name)} &lt;value&gt; — {esc(line.allowed)}."


def set_done(change: rd.SettingChange) -> str:
    if change.old == change.new:
        return f"{esc(change.name)} is already {esc(change.new)}."
    return f"✅ <code>{esc(change.name)}</code>: {esc(change.old)} → <b>{esc(change.new)}</b>"


def editor(editor: rd.SettingEditor, change: rd.SettingChange | None = None) -> str:
    """One setting's inline editor: its value, what is allowed, how to change it."""
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


def option_button(option: rd.SettingOption) -> str:
    """An editor's value button; the current value is marked."""
    return (("• " if option.current else "") + option.label)[:LABEL_LIMIT]


def saved_toast(label: str, change: rd.SettingChange) -> str:
    """The answer to a tapped value (plain text: a callback answer)."""
    if change.old == change.new:
        return f"Already {change.new}"
    return f"✅ {label}: {change.old} → {change.new}"


# --- presets -----------------------------------------------------------------------------

PRESET_MEANS = {
    "conservative": "small positions, tight daily loss and drawdown limits, up to 2x",
    "moderate": "the defaults",
    "aggressive": "larger positions and limits, up to 5x",
}


def preset_usage(names: Sequence[str]) -> str:
    return f"Usage: /preset {'|'.join(names)} (or /preset alone for buttons)"


def presets(names: Sequence[str]) -> str:
    lines = ["🎚 <b>Risk presets</b> (your pairs and strategy stay as they are)"]
    lines += [f"• <b>{esc(name)}</b>: {esc(PRESET_MEANS.get(name, ''))}" for name in names]
    lines.append("\nTap one to apply it; admin bounds still hold.")
    return "\n".join(lines)


def preset_button(name: str) -> str:
    return name.capitalize()


def preset_applied(name: str, changes: Sequence[rd.SettingChange]) -> str:
    if not changes:
        return f"Your risk limits already match the {esc(name)} preset."
    lines = [f"✅ Preset <b>{esc(name)}</b> applied. What changed:"]
    lines += [f"• <code>{esc(c.name)}</code>: {esc(c.old)} → <b>{esc(c.new)}</b>" for c in changes]
    return "\n".join(lines)


def preset_toast(name: str, changed: bool) -> str:
    return f"{name.capitalize()} applied" if changed else "No change"


# --- /pairs ----------------------------------------------------------------------------------

PAIRS_USAGE = "Usage: /pairs, /pairs add SOL [ETH …] or /pairs remove ADA [DOT …]"


def pairs(view: rd.PairsView) -> str:
    lines = [
        f"Allowed pairs: <b>{esc(', '.join(view.pairs))}</b>",
        f"Each traded against {esc(', '.join(view.quotes))}.",
    ]
    if view.read_only:
        lines.append("Read-only: viewers cannot change pairs.")
        return "\n".join(lines)
    if view.permitted is None:
        lines.append("You may add any asset the exchange lists.")
    else:
        lines.append(f"Your admin permits: {esc(', '.join(view.permitted))}.")
    lines.append("Change: /pairs add SOL or /pairs remove ADA")
    return "\n".join(lines)


def pairs_edited(action: str, edit: rd.PairsEdit) -> str:
    lines = []
    if edit.changed:
        verb = "Added" if action == "add" else "Removed"
        lines.append(f"✅ {verb}: {esc(', '.join(edit.changed))}")
    if edit.unchanged:
        where = "already in" if action == "add" else "not in"
        lines.append(f"{esc(', '.join(edit.unchanged))}: {where} your list, nothing to do.")
    lines.append(f"Allowed pairs now: <b>{esc(', '.join(edit.pairs))}</b>")
    return "\n".join(lines)


# --- /notify ----------------------------------------------------------------------------

GROUP_HELP = {
    "fills": "your orders filling",
    "stops": "stop-losses and take-profits",
    "halts": "daily loss / drawdown halts and pauses",
    "errors": "exchange and connection problems",
    "summary": "the daily summary",
}
NOTIFY_ICONS = {"on": "🔔", "silent": "🔕", "off": "⛔"}
NOTIFY_USAGE = (
    "Usage: /notify &lt;group&gt; on|silent|off — groups: "
    f"{', '.join(GROUP_HELP)}, all (e.g. <code>/notify fills silent</code>)"
)
NOTIFY_TAP = "Tap to change: 🔔 on · 🔕 silent (no sound) · ⛔ off."


def notify(prefs: Mapping[str, str], *, updated: bool = False) -> str:
    """Each notification group with its value (``updated``: after a change)."""
    title = "✅ <b>Notifications updated</b>" if updated else "<b>Your notifications</b>"
    lines = [title]
    for group, value in prefs.items():
        icon = NOTIFY_ICONS.get(value, "")
        what = GROUP_HELP.get(group, "")
        lines.append(f"{icon} <b>{esc(group)}</b>: {esc(value)} — {esc(what)}")
    lines.append("")
    lines.append(NOTIFY_TAP)
    return "\n".join(lines)


def notify_button(group: str, value: str, current: bool) -> str:
    return f"{'• ' if current else ''}{group} {NOTIFY_ICONS[value]}"


def notify_toast(group: str, value: str) -> str:
    return f"{group}: {value}"


# --- /forget ----------------------------------------------------------------------------

FORGET_USAGE = "Usage: /forget (no arguments); you will be asked to confirm."
FORGET_CONFIRM = (
    "⚠️ <b>Erase everything?</b>\n"
    "This deletes your exchange keys, settings, positions and trade history kept here, "
    "your notification preferences, and stops trading. Positions already open on your "
    "exchange account are not closed by this, and their stop-loss orders stay there. "
    "This cannot be undone."
)
FORGET_YES_BUTTON = "Yes, erase everything"
FORGET_NO_BUTTON = "Cancel"
FORGET_NOT_YOURS = "This button is not for you, or it has expired. Send /forget to start again."
FORGET_CANCELLED_TOAST = "Cancelled."
FORGET_CANCELLED = "Cancelled: nothing was erased."
FORGET_ERASING_TOAST = "Erasing…"
FORGET_ERASED = (
    "🗑 Everything is erased: your keys, settings and history are gone and trading is "
    "stopped. Send /start if you want to register again."
)
