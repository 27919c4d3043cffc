"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nija_tg.config import Settings, load_settings
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import KeyRing
from tests.fakes import sell_audit

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TEST_TOKEN = "123456789:TESTtokenTESTtokenTESTtokenTESTtok12"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sells_beyond_position: the test over-sells on purpose (the sell audit is not checked)",
    )


@pytest.fixture(autouse=True)
def _never_sell_more_than_our_position(request: pytest.FixtureRequest):
    """Issue 16's invariant as a property of every test that trades on an exchange
    emulator: no fill of a bot order sold more than our position (tests/fakes/
    sell_audit.py). Checked at teardown over every emulator ledger of the process; only
    what was recorded during this test counts."""
    before = {led: len(led.audit.violations) for led in sell_audit.ledgers()}
    yield
    if request.node.get_closest_marker("sells_beyond_position"):
        return
    found = [
        str(v) for led in sell_audit.ledgers() for v in led.audit.violations[before.get(led, 0) :]
    ]
    if found:
        pytest.fail("sold more than our position:\n" + "\n".join(found), pytrace=False)


def make_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a child process: nothing of the developer's leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIJA_", "TELEGRAM_"))}
    env["NIJA_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return load_settings({"NIJA_DATA_DIR": str(data_dir)}, dotenv=None)


@pytest.fixture
async def db(settings: Settings):
    database = await Database.open(settings.db_path)
    yield database
    await database.close()


@pytest.fixture
def vault() -> KeyRing:
    """The engine's key ring (seals and opens credentials in engine tests)."""
    return KeyRing.generate()


# The longest tests (a minute or more each on 2 cores) start first, so that on 4 xdist
# workers they run beside the many short ones instead of after them (the suite's wall
# time is set by its tail). Order only: every test still runs.
LONG_FIRST = (
    "tests/engine/test_backtest_parity.py",
    "tests/engine/test_backtesting_py_parity.py",
    "tests/chaos_smoke/",
    "tests/test_supervisord.py",
    "tests/security/test_hostile_input.py",
    "tests/security/test_cross_user.py",
    "tests/engine/test_engine_kill.py",
    "tests/engine/test_backtest.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        for i, prefix in enumerate(LONG_FIRST):
            if path.startswith(prefix):
                return i
        return len(LONG_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
