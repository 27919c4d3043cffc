"""What nija_tg imports is what pyproject.toml declares, and the lock files agree.

Every third-party module nija_tg's own code imports belongs to a distribution listed in
[project] dependencies (not only reached through another package: h11 and certifi came
with httpx, aiohttp with ccxt, until one of them drops it). Each declared dependency is
pinned in requirements.lock and requirements-test.lock (what scripts/bootstrap.sh
installs) to a version its bounds allow, and noted there as wanted by the project, as
scripts/lock.sh (pip-compile) writes it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
DECLARED = {canonicalize_name(Requirement(d).name): Requirement(d) for d in PROJECT["dependencies"]}


def _imported_modules() -> dict[str, set[str]]:
    """Top-level third-party modules imported by nija_tg -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in (REPO / "nija_tg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "nija_tg" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_third_party_module_nija_tg_imports_is_a_declared_dependency():
    distributions = importlib.metadata.packages_distributions()
    undeclared = {
        module: sorted(files)
        for module, files in _imported_modules().items()
        if not {canonicalize_name(d) for d in distributions.get(module, [module])} & set(DECLARED)
    }
    assert not undeclared


def _pins(lock: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (pinned version, the names in its "# via" note)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in (REPO / lock).read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line):
            name = canonicalize_name(match[1])
            pins[name] = (match[2], [])
        elif name and (match := re.match(r"^    # via (.+)$|^    #   (.+)$", line)):
            pins[name][1].append(match[1] or match[2])
    return pins


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-test.lock"])
def test_the_lock_pins_every_declared_dependency_within_its_bounds(lock):
    pins = _pins(lock)
    for name, requirement in DECLARED.items():
        version, via = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
        assert "nija-tg (pyproject.toml)" in via, name
