"""Handlers take their words (texts, the functions that write or escape them) from
``nija_tg/messages`` only, never through another handler module that re-exports them
(``callback_data.EXPIRED_BUTTON``, ``secret_guard.PASTED_SECRET``, a ``connect_texts``
shim): one place to look for what the bot says. Read from the source of every handler
module: each name imported from ``nija_tg.handlers`` (``from nija_tg.handlers.x import
NAME``, or ``x.NAME`` after ``from nija_tg.handlers import x``) is resolved; a sentence
(a string with a letter and a space) or a function or class of ``nija_tg.messages`` is a
word taken through a handler."""

from __future__ import annotations

import ast
import importlib
import inspect
from types import ModuleType

from tests.conftest import REPO

HANDLERS = REPO / "nija_tg" / "handlers"
PACKAGE = "nija_tg.handlers"


def _is_word(obj: object) -> bool:
    if isinstance(obj, str):  # a sentence, not a key such as a conversation's state
        return " " in obj.strip() and any(ch.isalpha() for ch in obj)
    if inspect.isfunction(obj) or inspect.isclass(obj):
        return (getattr(obj, "__module__", "") or "").startswith("nija_tg.messages")
    return False


def words_through_handlers(source: str, name: str) -> list[str]:
    """``name:line: module.NAME`` for each word ``source`` takes through a handler."""
    tree = ast.parse(source)
    found: list[str] = []
    modules: dict[str, ModuleType] = {}  # alias -> handler module imported whole
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(PACKAGE):
            continue
        assert node.module is not None
        for alias in node.names:
            if node.module == PACKAGE:
                modules[alias.asname or alias.name] = importlib.import_module(
                    f"{PACKAGE}.{alias.name}"
                )
                continue
            obj = getattr(importlib.import_module(node.module), alias.name)
            if _is_word(obj):
                found.append(f"{name}:{node.lineno}: {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            module = modules[node.value.id]
            if _is_word(getattr(module, node.attr, None)):
                found.append(f"{name}:{node.lineno}: {module.__name__}.{node.attr}")
    return found


def test_handlers_take_words_from_messages_only():
    found = [
        w
        for path in sorted(HANDLERS.glob("*.py"))
        for w in words_through_handlers(path.read_text(), path.name)
    ]
    assert found == []


def test_no_handler_module_only_re_exports_words():
    """The connect_texts and commands shims are gone: their words and tables are
    imported from messages/connect.py and messages/commands.py."""
    assert not (HANDLERS / "connect_texts.py").exists()
    assert not (HANDLERS / "commands.py").exists()


def test_the_check_sees_a_word_taken_through_a_handler():
    sample = (
        "from nija_tg.handlers.replies import esc, reply\n"
        "from nija_tg.handlers import secret_guard as guard\n"
        "from nija_tg.handlers.context import BotContext\n"
        "x = guard.PASTED_SECRET\n"
        "y = guard.delete_once\n"
    )
    assert words_through_handlers(sample, "h.py") == [
        "h.py:1: nija_tg.handlers.replies.esc",
        "h.py:4: nija_tg.handlers.secret_guard.PASTED_SECRET",
    ]
