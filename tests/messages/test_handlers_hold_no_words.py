"""The handlers read services and send what the renderer
(``nija_tg/messages``) returns: no sentence of their own. Read from the source: a string
literal with a space, or an f-string whose own text holds a letter and a space, outside
docstrings, log calls, ``raise`` and the "message is not modified" check, is a word a
handler wrote itself (an f-string without, such as a regex, a job's name or two lines
joined, is not)."""

from __future__ import annotations

import ast

from tests.conftest import REPO

HANDLERS = REPO / "nija_tg" / "handlers"
NOT_WORDS = {"not modified", "health check failed"}  # Telegram's error text; a log line
OTHERS = (
    "menus.py", "trading.py", "start.py", "admission.py",
    "fallback.py", "errors.py", "gatekeeper.py", "keyboard.py", "confirm.py", "disconnect.py",
    "callback_data.py", "update_processor.py", "secret_guard.py", "connect.py", "replies.py",
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
            own = "".join(
                part.value
                for part in node.values
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            if " " in own and any(ch.isalpha() for ch in own):
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
    sample.write_text(
        'async def f(reply):\n    await reply(f"Equity: {1}")\n    x = "a b"\n'
        '    y = f"{2} trades"\n    z = rf"^/(?:{x})(?:@\\w+)?"\n    j = f"job-{x}"\n'
        '    k = f"{x}\\n{y}"\n    p = f"{x} {y}"\n'
    )
    assert sorted(words_in(sample)) == [
        "reports_x.py:2: f-string",
        "reports_x.py:3: 'a b'",
        "reports_x.py:4: f-string",
    ]
