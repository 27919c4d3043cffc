"""Which commands each role has, with their one-line words (the chat's command menu and
/help), and the /help text grouped by task."""

from __future__ import annotations

from nija_tg.core.models import Role
from nija_tg.messages.text import esc

# /status, /balance and /positions take a user id for viewers (a trader granted to them)
# and admins; traders see only their own.
_OWN_REPORTS: tuple[tuple[str, str], ...] = (
    ("status", "dashboard: trading state, equity, positions, today's P&L"),
    ("balance", "balances and equity"),
    ("positions", "open positions with unrealised P&L"),
    ("trades", "recent trades, e.g. /trades 20"),
    ("pnl", "P&L and win rate: /pnl day|week|month|all"),
    ("daily", "P&L, trades and equity per day: /daily [days]"),
    ("performance", "trades, win rate and P&L per pair: /performance [day|week|month|all]"),
    ("sessions", "trading sessions and their stats"),
)
_WHOSE = {"status", "balance", "positions"}

VIEWER_COMMANDS: tuple[tuple[str, str], ...] = tuple(
    (name, f"{text}: /{name} [user id]" if name in _WHOSE else text) for name, text in _OWN_REPORTS
) + (("help", "what you can do here"),)

TRADER_COMMANDS: tuple[tuple[str, str], ...] = _OWN_REPORTS + (
    ("connect", "connect your exchange account (private chat only)"),
    ("disconnect", "remove your exchange keys and stop trading"),
    ("trade", "switch trading: /trade on, /trade exits (no new positions) or /trade off"),
    ("close", "close a position at market: /close ETH or /close all"),
    ("mode", "paper or live trading: /mode paper|live"),
    ("settings", "your risk limits and strategy: tap one to change it"),
    ("set", "change one setting: /set max_position_usd 250"),
    ("preset", "risk presets: conservative, moderate, aggressive (buttons)"),
    ("pairs", "allowed pairs: /pairs, /pairs add SOL, /pairs remove ADA"),
    ("notify", "notifications on, silent or off per kind (buttons)"),
    ("forget", "erase your keys and data"),
    ("cancel", "cancel the current step"),
    ("help", "what you can do here"),
)

ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    VIEWER_COMMANDS[:-1]
    + TRADER_COMMANDS[len(_OWN_REPORTS) : -1]
    + (
        ("users", "all users with totals: /users [page]"),
        ("user", "one user's detail: /user <id>"),
        ("pause", "pause trading: /pause <id|all> [reason]"),
        ("resume", "resume trading: /resume <id|all>"),
        ("role", "set a role: /role <id> admin|trader|viewer"),
        ("grant", "let a viewer see a trader: /grant <viewer id> <trader id>"),
        ("revoke", "take a grant back: /revoke <viewer id> <trader id>"),
        ("audit", "recent audit log: /audit [n]"),
        ("pending", "join requests waiting for your decision (Approve/Reject buttons)"),
        ("broadcast", "message every user: /broadcast <text>"),
        ("halt", "global kill switch: exits only for everyone"),
        ("unhalt", "lift the global kill switch"),
        ("bound", "limit users' settings: /bound max_position_usd ..500 [id|all]"),
        ("health", "engine, markets and venues: is trading running?"),
        ("help", "what you can do here"),
    )
)

STRANGER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "register and get started"),
    ("help", "what this bot does"),
)


# Commands that only make sense once an exchange account is connected.
NEEDS_CONNECTION = frozenset({"disconnect"})


def commands_for(role: Role | None, connected: bool = True) -> tuple[tuple[str, str], ...]:
    """The menu of ``role``; without a connected exchange, what needs one is left out."""
    if role is None:
        return STRANGER_COMMANDS
    commands = {
        Role.ADMIN: ADMIN_COMMANDS,
        Role.TRADER: TRADER_COMMANDS,
        Role.VIEWER: VIEWER_COMMANDS,
    }[role]
    if connected:
        return commands
    return tuple(c for c in commands if c[0] not in NEEDS_CONNECTION)


ADMIN_ONLY = frozenset(name for name, _ in ADMIN_COMMANDS) - frozenset(
    name for name, _ in TRADER_COMMANDS
)
TRADER_ONLY = frozenset(name for name, _ in TRADER_COMMANDS) - frozenset(
    name for name, _ in VIEWER_COMMANDS
)


def all_command_names() -> frozenset[str]:
    """Every command the bot answers, whatever the role."""
    lists = (STRANGER_COMMANDS, VIEWER_COMMANDS, TRADER_COMMANDS, ADMIN_COMMANDS)
    return frozenset(name for group in lists for name, _ in group)


# /help groups the caller's commands by task, in this order
HELP_GROUPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Get started", frozenset({"start", "connect", "disconnect"})),
    (
        "Dashboard and reports",
        frozenset(
            {"status", "balance", "positions", "trades", "pnl", "daily", "performance", "sessions"}
        ),
    ),
    ("Trading", frozenset({"trade", "close", "mode"})),
    ("Settings", frozenset({"settings", "set", "preset", "pairs", "notify"})),
    ("Admin", frozenset(ADMIN_ONLY)),
    ("Your data and this chat", frozenset({"forget", "cancel", "help"})),
)


def help_groups(role: Role | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The caller's commands grouped by task (empty groups left out)."""
    commands = commands_for(role)
    groups = []
    for title, names in HELP_GROUPS:
        members = [c for c in commands if c[0] in names]
        if members:
            groups.append((title, members))
    grouped = {name for _, members in groups for name, _ in members}
    rest = [c for c in commands if c[0] not in grouped]
    if rest:
        groups.append(("More", rest))
    return groups


def help_text(role: Role | None) -> str:
    """/help: the caller's commands grouped by task; strangers learn what the bot is."""
    lines = ["<b>What you can do</b>"]
    for title, commands in help_groups(role):
        lines += ["", f"<b>{esc(title)}</b>"]
        lines += [f"/{name} — {esc(text)}" for name, text in commands]
    if role is Role.VIEWER:
        lines.append("\nYou have read-only access.")
    if role is None:
        lines.append("\nThis bot trades crypto on your own exchange account. Send /start.")
    return "\n".join(lines)
