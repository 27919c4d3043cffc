"""Which commands each role has (menus, /help, the secret guard's list of command
names): the table and its words live with the renderer, ``nija_tg/messages/commands.py``;
re-exported here for the handlers."""

from __future__ import annotations

from nija_tg.messages.commands import (
    ADMIN_COMMANDS,
    ADMIN_ONLY,
    NEEDS_CONNECTION,
    STRANGER_COMMANDS,
    TRADER_COMMANDS,
    TRADER_ONLY,
    VIEWER_COMMANDS,
    all_command_names,
    commands_for,
    help_groups,
)

__all__ = [
    "ADMIN_COMMANDS",
    "ADMIN_ONLY",
    "NEEDS_CONNECTION",
    "STRANGER_COMMANDS",
    "TRADER_COMMANDS",
    "TRADER_ONLY",
    "VIEWER_COMMANDS",
    "all_command_names",
    "commands_for",
    "help_groups",
]
