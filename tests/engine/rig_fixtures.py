"""Fixture factories the live-daemon test modules share: a module states which rig it
runs on and which test strategies it registers in one line each, e.g.
``rig = rig_fixture(lambda s, d, v: KrakenLive(s, d, v, UID))``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nija_tg.strategies import unregister


def rig_fixture(make: Callable):
    """A ``rig`` fixture: ``make(settings, db, vault)`` built, closed after the test."""

    @pytest.fixture
    async def rig(settings, db, vault):
        made = make(settings, db, vault)
        yield made
        await made.close()

    return rig


def strategies_fixture(
    register: Callable[[], None] | None = None,
    unregister_all: Callable[[], None] | None = None,
    *names: str,
):
    """An autouse fixture: ``register()`` before each test; after it ``unregister_all()``
    and each strategy in ``names`` dropped (the registry is process-wide)."""

    @pytest.fixture(autouse=True)
    def _test_strategies():
        if register is not None:
            register()
        yield
        if unregister_all is not None:
            unregister_all()
        for name in names:
            unregister(name)

    return _test_strategies
