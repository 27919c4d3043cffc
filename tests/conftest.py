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


# The longest tests (from --durations on 2 cores, longest first) start first, so that
# they run beside the many short ones instead of after them: the suite's wall time is
# set by its tail. scripts/test.sh hands tests out two at a time (--maxschedchunk 2):
# xdist's default first chunk (a quarter of a worker's share: ~70 tests at 8 workers,
# ~140 at 4) would put all of these on one worker. Node id prefixes; order only: every
# test still runs.
LONG_FIRST = (
    "tests/strategies/test_series.py::test_every_candle_of_the_eth_file",
    "tests/security/test_cross_user.py::test_other_users_replaying",
    "tests/chaos_smoke/test_chaos_smoke.py::test_supervisord_stop_restart_and_crash_loop",
    "tests/security/test_hostile_input.py",
    "tests/test_supervisord.py::test_a_crashing_engine",
    "tests/engine/test_engine_kill.py",
    "tests/services/test_key_rotation.py::test_rotation_killed_half_way",
    "tests/engine/test_market_data_limited.py",
    "tests/engine/test_backtest_parity.py",
    "tests/handlers/test_secret_guard.py::test_too_many_connect_attempts",
    "tests/handlers/test_confirmations.py::test_admin_confirmations",
    "tests/handlers/test_admin.py::test_non_admins_are_refused",
    "tests/security/test_cross_user.py",
    "tests/bench_smoke/",
    "tests/engine/test_sender.py",
    "tests/security/test_secret_grep.py",
    "tests/chaos_smoke/",
    "tests/test_supervisord.py",
    "tests/strategies/test_series.py",
    "tests/strategies/test_rolling.py",
    "tests/engine/test_backtesting_py_parity.py",
    "tests/engine/test_backtest.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        for i, prefix in enumerate(LONG_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(LONG_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
