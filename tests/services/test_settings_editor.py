"""SettingsService.editor: the inline editor's steps, preset values and choices stay
inside the range that applies (hard bounds narrowed by admin bounds)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.core.errors import ValidationError
from nija_tg.core.models import Role
from nija_tg.core.risk_settings import Bound
from nija_tg.messages import settings as say
from nija_tg.services.settings_service import SettingsService
from nija_tg.storage import admin_bounds, users
from nija_tg.storage.db import Database

ALICE, VERA = 3001, 3002


@pytest.fixture
async def service(db: Database) -> SettingsService:
    async with db.transaction() as tx:
        await users.upsert_user(tx, ALICE, ALICE, "a", "Alice", Role.TRADER)
        await users.upsert_user(tx, VERA, VERA, "v", "Vera", Role.VIEWER)
    return SettingsService(db)


def labels(options) -> list[str]:
    """The buttons as the renderer words the service's options."""
    return [say.option_button(o) for o in options]


async def test_numeric_steps_and_presets(service: SettingsService):
    editor = await service.editor(ALICE, "max_position_usd")
    assert [o.value for o in editor.steps] == ["50", "250", "350", "550"]
    assert [(o.kind, o.delta) for o in editor.steps[1:3]] == [("step", -50), ("step", 50)]
    assert labels(editor.steps) == ["-250 → 50", "-50 → 250", "+50 → 350", "+250 → 550"]
    assert labels(editor.values) == ["conservative 100", "• moderate 300", "aggressive 1,000"]
    assert editor.values[2].value == "1000"  # the value to set: plain, as /set takes it
    editor = await service.editor(ALICE, "risk_per_trade_pct")
    assert [o.value for o in editor.steps] == ["1.5", "1.9", "2.1", "2.5"]
    editor = await service.editor(ALICE, "max_open_positions")
    assert [o.value for o in editor.steps] == ["4", "6", "8", "10"]


async def test_steps_clamp_at_the_bounds(service: SettingsService, db: Database):
    await service.set_value(ALICE, "max_open_positions", "20")
    editor = await service.editor(ALICE, "max_open_positions")
    assert [o.value for o in editor.steps] == ["17", "19"]  # nothing above the hard 20
    async with db.transaction() as tx:
        await admin_bounds.set_bound(tx, None, "max_position_usd", Bound(hi=Decimal(500)))
    editor = await service.editor(ALICE, "max_position_usd")
    assert [o.value for o in editor.steps] == ["50", "250", "350", "500"]
    assert "aggressive 500" in labels(editor.values)
    assert (editor.line.allowed.lo, editor.line.allowed.hi) == (Decimal(10), Decimal(500))
    assert say.set_usage(editor.line).endswith("— 10 to 500 USD.")


async def test_choices_bools_params_and_locked(service: SettingsService):
    assert labels((await service.editor(ALICE, "position_mode")).values) == ["• one_way", "hedge"]
    assert labels((await service.editor(ALICE, "trailing_stop")).values) == ["• on", "off"]
    timeframe = await service.editor(ALICE, "strategy.timeframe")
    assert "1m" in labels(timeframe.values) and timeframe.steps == ()
    confidence = await service.editor(ALICE, "min_confidence")
    assert all(Decimal("0.5") <= Decimal(o.value) <= Decimal("0.95") for o in confidence.steps)
    pairs = await service.editor(ALICE, "allowed_pairs")
    assert pairs.steps == () and pairs.values == ()
    viewer = await service.editor(VERA, "max_position_usd")
    assert viewer.line.locked and viewer.steps == () and viewer.values == ()
    with pytest.raises(ValidationError):
        await service.editor(ALICE, "no_such_setting")
