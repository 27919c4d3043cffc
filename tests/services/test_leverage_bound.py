"""Leverage bounded by default at the NIJA seed's 5x (issue 12, "Swaps done right"):
users may set leverage_cap up to 5 unless an admin bound allows more (for everyone or
for one user); lifting that bound brings values above 5 back to 5 at once, and the
user is told."""

from __future__ import annotations

import pytest

from nija_tg.core.errors import ValidationError
from nija_tg.core.events import SettingChange
from nija_tg.core.models import Role
from nija_tg.messages.errors import text as error_text
from nija_tg.services.bounds_service import BoundsService
from nija_tg.services.settings_service import SettingsService
from nija_tg.storage import outbox, settings_repo, users
from tests.outbox_text import text_of

ADMIN, ALICE, BOB = 1, 2, 3


@pytest.fixture
async def svc(db) -> SettingsService:
    async with db.transaction() as tx:
        await users.upsert_user(tx, ADMIN, ADMIN, None, None, Role.ADMIN)
        for uid in (ALICE, BOB):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
    return SettingsService(db)


async def leverage(db, uid: int) -> int:
    return (await settings_repo.load(db, uid)).leverage_cap


async def test_users_may_set_up_to_5x_without_an_admin_bound(svc, db):
    assert await leverage(db, ALICE) == 5
    await svc.set_value(ALICE, "leverage_cap", "3")
    assert await leverage(db, ALICE) == 3
    with pytest.raises(ValidationError) as err:
        await svc.set_value(ALICE, "leverage_cap", "6")
    assert "5" in error_text(err.value)
    assert await leverage(db, ALICE) == 3


async def test_an_admin_bound_above_5_allows_more_and_lifting_it_clamps_back(svc, db):
    bounds = BoundsService(db)
    await bounds.set_from_text(ADMIN, None, "leverage_cap", "..20")
    await svc.set_value(ALICE, "leverage_cap", "20")
    await svc.set_value(BOB, "leverage_cap", "12")
    assert (await leverage(db, ALICE), await leverage(db, BOB)) == (20, 12)
    # one user's own bound only narrows everyone's
    await bounds.set_from_text(ADMIN, BOB, "leverage_cap", "..10")
    assert (await leverage(db, ALICE), await leverage(db, BOB)) == (20, 10)
    # the bound for everyone lifted: Bob keeps his own ..10, Alice is back at 5x
    change = await bounds.set_from_text(ADMIN, None, "leverage_cap", "off")
    assert change.clamped == {ALICE: [SettingChange("leverage_cap", ("20",), ("5",))]}
    assert (await leverage(db, ALICE), await leverage(db, BOB)) == (5, 10)
    told = [text_of(r) for r in await outbox.list_rows(db, user_id=ALICE) if r.kind == "info"]
    assert len(told) == 1 and "leverage_cap: 20 → 5" in told[0]
    with pytest.raises(ValidationError):
        await svc.set_value(ALICE, "leverage_cap", "6")


async def test_a_bound_with_only_a_lower_end_keeps_the_5x_ceiling(svc, db):
    await BoundsService(db).set_from_text(ADMIN, None, "leverage_cap", "2..")
    with pytest.raises(ValidationError):
        await svc.set_value(ALICE, "leverage_cap", "6")
    await svc.set_value(ALICE, "leverage_cap", "5")
    await BoundsService(db).set_from_text(ADMIN, None, "leverage_cap", "8..")
    assert await leverage(db, ALICE) == 8  # a floor above 5x: the ceiling is the hard 50
    await svc.set_value(ALICE, "leverage_cap", "50")


async def test_presets_stay_within_5x_unless_allowed(svc, db):
    await svc.apply_preset(ALICE, "aggressive")
    assert await leverage(db, ALICE) == 5
    await svc.apply_preset(ALICE, "conservative")
    assert await leverage(db, ALICE) == 2
