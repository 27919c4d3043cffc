"""The handlers read services and send what the renderer
(``nija_tg/messages``) returns: no sentence of their own. Read from the source: a string
literal with a space, or an f-string, outside docstrings, log calls, ``raise`` and the
"message is not modified" check, is a word a handler wrote itself."""

from __future__ import annotations

import ast

from tests.conftest import REPO

HANDLERS = REPO / "nija_tg" / "handlers"
NOT_WORDS = {"not modified", "health check failed"}  # Telegram's error text; a log line
OTHERS = (
    "commands.py", "menus.py", "connect_texts.py", "trading.py", "start.py", "admission.py",
    "fallback.py", "errors.py", "gatekeeper.py", "keyboard.py", "confirm.py", "disconnect.py",
)  # fmt: skip


def handler_modules() -> list:
    names = ("reports", "admin", "settings")
    return sorted(p for p in HANDLERS.glob("*.py") if p.name.startswith(names) or p.name in OTHERS)


def words_in(path) -> list[str]:
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))  # docstrings
        is_log = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("debug", "info", "warning", "error", "exception")
        )
        if is_log or isinstance(node, ast.Raise):
            skip.update(id(sub) for sub in ast.walk(node))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "__name__" for t in node.targets
        ):
            skip.update(id(sub) for sub in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            found.append(f"{path.name}:{node.lineno}: f-string")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and " " in node.value.strip()
            and node.value not in NOT_WORDS
        ):
            found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_the_modules_are_found():
    names = {p.name for p in handler_modules()}
    assert {"reports_commands.py", "admin_control.py", "settings.py"} <= names
    assert set(OTHERS) <= names


def test_the_listed_handlers_write_no_sentences():
    found = [w for path in handler_modules() for w in words_in(path)]
    assert found == []


def test_the_check_sees_a_handler_sentence(tmp_path):
    sample = tmp_path / "reports_x.py"
    sample.write_text('async def f(reply):\n    await reply(f"Equity: {1}")\n    x = "a b"\n')
    assert len(words_in(sample)) == 2
