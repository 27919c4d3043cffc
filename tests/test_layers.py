"""The direction of imports (README "Architecture"): lower layers never import higher
ones. Read from the source (every import statement, also inside functions)."""

from __future__ import annotations

import ast
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


def test_only_the_exchange_gateway_imports_ccxt():
    users = [
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*.py")
        if any(n == "ccxt" or n.startswith("ccxt.") for n in imports_of(path))
    ]
    assert users and all(u.startswith("nija_tg/exchange/") for u in users), users
