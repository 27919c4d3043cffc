"""The direction of imports (README "Architecture"): lower layers never import higher
ones. Read from the source (every import statement, also inside functions)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "nija_tg"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def offenders(layer: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in modules(layer):
        bad = sorted(
            name
            for name in imports_of(path)
            if any(name == f or name.startswith(f + ".") for f in forbidden)
        )
        if bad:
            found[str(path.relative_to(REPO))] = bad
    return found


def test_the_pure_core_does_no_io_and_imports_nothing_above_it():
    forbidden = (
        "nija_tg.storage",
        "nija_tg.vault",
        "nija_tg.exchange",
        "nija_tg.services",
        "nija_tg.handlers",
        "nija_tg.engine",
        "pandas",
        "numpy",
        "aiosqlite",
        "sqlite3",
        "ccxt",
        "telegram",
        "httpx",
        "asyncio",
    )
    assert offenders("core", forbidden) == {}


def test_adapters_never_import_services_handlers_or_the_engine():
    above = ("nija_tg.services", "nija_tg.handlers", "nija_tg.engine")
    for layer in ("storage", "vault", "exchange"):
        assert offenders(layer, above) == {}, layer


def test_services_never_import_handlers_the_engine_or_ccxt():
    assert offenders("services", ("nija_tg.handlers", "nija_tg.engine", "ccxt")) == {}


def test_handlers_never_import_storage_the_vault_or_exchanges():
    forbidden = ("nija_tg.storage", "nija_tg.vault", "nija_tg.exchange", "ccxt", "nija_tg.engine")
    assert offenders("handlers", forbidden) == {}


def test_the_engine_never_imports_handlers():
    assert offenders("engine", ("nija_tg.handlers",)) == {}


def test_the_engine_queues_events_never_words():
    """The engine queues events as data (core.events_codec); the bot renders them
    (messages) and sends them (telegram_out). tests/engine/test_sender_events.py checks
    the same of the running process (``nija_tg.engine_main``'s imports)."""
    forbidden = ("nija_tg.messages", "nija_tg.telegram_out", "telegram")
    assert offenders("engine", forbidden) == {}
    assert offenders("storage", forbidden) == {}


def test_only_the_exchange_gateway_imports_ccxt():
    users = [
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*.py")
        if any(n == "ccxt" or n.startswith("ccxt.") for n in imports_of(path))
    ]
    assert users and all(u.startswith("nija_tg/exchange/") for u in users), users


def engine_imports(path: Path) -> set[str]:
    """The ``nija_tg.engine`` modules ``path`` imports (TYPE_CHECKING blocks and imports
    inside functions included; ``from nija_tg.engine import x`` names module ``x``)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "nija_tg.engine":
                found.update(f"nija_tg.engine.{alias.name}" for alias in node.names)
    engine = {p.stem for p in (PACKAGE / "engine").glob("*.py")}
    inside = {n for n in found if n.startswith("nija_tg.engine.")}
    return {n for n in inside if n.split(".")[2] in engine and n != "nija_tg.engine.__init__"}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (or a module importing
    itself), found with Tarjan's algorithm: each one is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_import_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(import_cycles(graph)) == [["a", "b", "c"], ["e"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_engine_modules_import_no_cycle():
    """No two engine modules import each other, even through others or only for type
    checking: each of the loop's parts receives what it uses (issue 13)."""
    graph = {
        f"nija_tg.engine.{path.stem}": engine_imports(path)
        for path in (PACKAGE / "engine").glob("*.py")
        if path.stem != "__init__"
    }
    assert graph["nija_tg.engine.user_loop"]  # the graph is read at all
    assert import_cycles(graph) == []


LOOP_PARTS = (
    "user_loop",
    "loop_context",
    "loop_book",
    "loop_orders",
    "exchange_stops",
    "trading",
    "user_closes",
)


def test_the_user_loop_is_composed_not_mixed_in():
    """The loop's parts are classes of their own, each given its collaborators in its
    constructor: no base class (exceptions aside), no stub waiting for a sibling."""
    for name in LOOP_PARTS:
        path = PACKAGE / "engine" / f"{name}.py"
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and not node.name.endswith("Error"):
                assert node.bases == [], f"{name}.{node.name} inherits"
            if isinstance(node, ast.Raise) and node.exc is not None:
                raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                assert not (isinstance(raised, ast.Name) and raised.id == "NotImplementedError")


DATABASE_CALLS = frozenset(
    {"execute", "executemany", "executescript", "insert_many", "fetchone", "fetchall"}
)
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW|TRIGGER)\b|\bPRAGMA\s+\w"
)


def sql_in(source: str) -> list[str]:
    """Where ``source`` talks to the database itself: calls of the database's methods
    (``x.execute(...)``, ``x.fetchall(...)`` ...) and string literals holding SQL."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in DATABASE_CALLS
        ):
            found.append((node.lineno, f".{node.func.attr}()"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL.search(node.value):
                found.append((node.lineno, repr(node.value[:60])))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_sql_is_found():
    source = (
        "async def f(db):\n"
        '    return await db.fetchone("SELECT 1 FROM users")\n'
        'Q = """\nUPDATE users SET role = ?"""\n'
        'WORDS = "Select a pair from the list, then update your settings"\n'
        "tx.executemany(q, rows)\n"
    )
    assert sql_in(source) == [
        "2: 'SELECT 1 FROM users'",
        "2: .fetchone()",
        "3: '\\nUPDATE users SET role = ?'",
        "6: .executemany()",
    ]


def test_only_storage_holds_sql():
    """Storage is the only SQL (README "Architecture"): no module outside
    ``nija_tg/storage`` calls the database's methods or holds an SQL statement; each
    statement is a named function of a storage module."""
    found = {
        str(path.relative_to(REPO)): hits
        for path in sorted(PACKAGE.rglob("*.py"))
        if "storage" not in path.relative_to(PACKAGE).parts[:1]
        and (hits := sql_in(path.read_text()))
    }
    assert found == {}
