"""Every word of /settings (the overview, the strategy page, the one-setting editor),
/set, /preset, /pairs and /notify. The settings service returns data (a setting's name,
its value as stored with its unit and the account's currency, what it accepts; a
change's old and new values; an editor option's value and kind; the quote and exchange
the pairs trade on); this module words it with ``setting_values`` and escapes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nija_tg.messages import report_data as rd
from nija_tg.messages import setting_values as values
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


def _label(name: str) -> str:
    """A setting's label: a risk setting's (``Max position size``), a strategy
    parameter's name in words (``strategy.fast_period`` -> ``fast period``)."""
    if name.startswith("strategy."):
        return values.param_label(name.removeprefix("strategy."))
    return values.label(name)


def _value(line: rd.SettingLine) -> str:
    return values.value_text(line.value, line.unit, line.currency)


def _allowed(line: rd.SettingLine) -> str:
    return values.allowed(line.allowed, line.unit, line.currency)


def _old_new(change: rd.SettingChange) -> tuple[str, str]:
    return (
        values.value_text(change.old, change.unit, change.currency),
        values.value_text(change.new, change.unit, change.currency),
    )


def _line(line: rd.SettingLine) -> str:
    lock = " 🔒" if line.locked else ""
    return f"• {esc(_label(line.name))}: <b>{esc(_value(line))}</b>{lock}"


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


def pick_button(line: rd.SettingLine) -> str:
    """The overview's button of one setting."""
    return ("🔒 " if line.locked else "") + _label(line.name)[:LABEL_LIMIT]


# --- /set and the editor ------------------------------------------------------------------


def set_locked(line: rd.SettingLine) -> str:
    return f"{esc(line.name)} is managed by an admin on your account."


def set_usage(line: rd.SettingLine) -> str:
    return f"Usage: /set {esc(line.name)} &lt;value&gt; — {esc(_allowed(line))}."


def set_done(change: rd.SettingChange) -> str:
    old, new = _old_new(change)
    if change.old == change.new:
        return f"{esc(change.name)} is already {esc(new)}."
    return f"✅ <code>{esc(change.name)}</code>: {esc(old)} → <b>{esc(new)}</b>"


def editor(editor: rd.SettingEditor, change: rd.SettingChange | None = None) -> str:
    """One setting's inline editor: its value, what is allowed, how to change it."""
    line = editor.line
    lines = [f"⚙️ <b>{esc(_label(line.name))}</b>", f"Now: <b>{esc(_value(line))}</b>"]
    if change is not None and change.old != change.new:
        old, new = _old_new(change)
        lines.append(f"✅ Saved: {esc(old)} → <b>{esc(new)}</b>")
    if line.locked:
        lines.append("🔒 Managed by an admin on your account (or read-only).")
    else:
        lines.append(f"Allowed: {esc(_allowed(line))}")
        if line.name == "allowed_pairs":
            lines.append("Change with /pairs add SOL or /pairs remove ADA.")
        elif editor.steps or editor.values:
            lines.append("Tap a new value.")
        lines.append(f"Or type <code>/set {esc(line.name)} &lt;value&gt;</code>.")
    return "\n".join(lines)


def option_button(option: rd.SettingOption) -> str:
    """An editor's value button (a step ``+50 → 300``, a preset's ``moderate 250``, a
    choice as it is); the current value is marked."""
    if option.kind == "step" and option.delta is not None:
        label = values.step_label(option.delta > 0, abs(option.delta), option.value)
    elif option.kind == "preset" and option.preset:
        label = values.preset_label(option.preset, option.value)
    else:
        label = option.value
    return (("• " if option.current else "") + label)[:LABEL_LIMIT]


def saved_toast(line: rd.SettingLine, change: rd.SettingChange) -> str:
    """The answer to a tapped value (plain text: a callback answer)."""
    old, new = _old_new(change)
    if change.old == change.new:
        return f"Already {new}"
    return f"✅ {_label(line.name)}: {old} → {new}"


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
    for c in changes:
        old, new = _old_new(c)
        lines.append(f"• <code>{esc(c.name)}</code>: {esc(old)} → <b>{esc(new)}</b>")
    return "\n".join(lines)


def preset_toast(name: str, changed: bool) -> str:
    return f"{name.capitalize()} applied" if changed else "No change"


# --- /pairs ----------------------------------------------------------------------------------

PAIRS_USAGE = "Usage: /pairs, /pairs add SOL [ETH …] or /pairs remove ADA [DOT …]"
EXCHANGE_NAMES = {"kraken": "Kraken", "bingx": "BingX", "coinbase": "Coinbase"}


def _exchange_name(exchange_id: str) -> str:
    """``bingx`` -> ``BingX``; an exchange without a name here as its id."""
    return EXCHANGE_NAMES.get(exchange_id, exchange_id)


def _traded_against(view: rd.PairsView) -> str:
    """``Each traded against <b>USDT</b> on BingX.``: the one quote the engine trades
    every base against on the account's exchange (the default paper exchange's without
    a key)."""
    where = esc(_exchange_name(view.exchange_id))
    paper = "" if view.connected else " (paper trading: no exchange connected)"
    return f"Each traded against <b>{esc(view.quote)}</b> on {where}{paper}."


def pairs(view: rd.PairsView) -> str:
    lines = [
        f"Allowed pairs: <b>{esc(', '.join(view.pairs))}</b>",
        _traded_against(view),
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
