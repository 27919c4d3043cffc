"""The settings service decides numbers and asks the renderer
(``nija_tg/messages/setting_values.py``) for every word; the trading service returns an
``Outcome`` (``core.trading_outcome``, data) that ``messages/trading.py`` words: no error's
``user_message`` is written in these services, and no sentence either (string literals
with a space outside docstrings, log calls, an error's own log text and SQL); and no SQL
(the storage adapters run every statement)."""

from __future__ import annotations

import ast

from tests.conftest import REPO

SERVICES = REPO / "nija_tg" / "services"
WORDLESS = ("settings_service.py", "trading_service.py")
SQL = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ")


def user_messages_written_in(path) -> list[str]:
    """``user_message=`` given as a literal or an f-string (not a renderer's call)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "user_message":
            if isinstance(node.value, ast.Constant | ast.JoinedStr):
                found.append(f"{path.name}:{node.value.lineno}")
    return found


def sentences_in(path) -> list[str]:
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))  # docstrings
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("debug", "info", "warning", "error", "exception")
        ):
            skip.update(id(sub) for sub in ast.walk(node))
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            skip.update(id(arg) for arg in node.exc.args)  # the error's own (log) text
    return [
        f"{path.name}:{node.lineno}: {node.value[:60]!r}"
        for node in ast.walk(tree)
        if id(node) not in skip
        and isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and " " in node.value.strip()
        and not node.value.lstrip().upper().startswith(SQL)
    ]


def test_the_listed_services_write_no_user_message():
    assert [w for name in WORDLESS for w in user_messages_written_in(SERVICES / name)] == []


def test_the_listed_services_write_no_sentence():
    assert [w for name in WORDLESS for w in sentences_in(SERVICES / name)] == []


def sql_in(path) -> list[str]:
    """SQL written in the service (a string starting with SELECT, INSERT...): the storage
    adapters hold every statement."""
    return [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.lstrip().upper().startswith(SQL)
    ]


def test_the_listed_services_run_no_sql():
    """The settings service's last raw read (a user's exchanges and key tails, for
    /forget) is ``storage.credentials.exchanges_and_tails``."""
    assert [w for name in WORDLESS for w in sql_in(SERVICES / name)] == []


def test_the_checks_see_a_service_sentence(tmp_path):
    sample = tmp_path / "x_service.py"
    sample.write_text(
        'def f(n):\n    raise ValueError("bad n", user_message=f"Bad {n}.")\n'
        'LABEL = "Max position size"\nQ = "SELECT a FROM b WHERE c"\n'
    )
    assert len(user_messages_written_in(sample)) == 1
    assert sentences_in(sample) == ["x_service.py:3: 'Max position size'"]
    assert sql_in(sample) == ["x_service.py:4"]
