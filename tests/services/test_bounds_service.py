"""BoundsService against a real database: a bound moves stored settings inside it at
once, tells exactly the users whose values moved, is audited, and refuses non-admins."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.events import SettingChange
from nija_tg.core.models import Role
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.messages.errors import text as error_text
from nija_tg.services.bounds_service import BoundsService, bound_lines
from nija_tg.storage import audit, outbox, settings_repo, users
from tests.outbox_text import text_of

ADMIN, ALICE, BOB, CAROL, VERA = 1, 2, 3, 4, 5


@pytest.fixture
async def svc(db) -> BoundsService:
    async with db.transaction() as tx:
        await users.upsert_user(tx, ADMIN, ADMIN, None, None, Role.ADMIN)
        for uid in (ALICE, BOB, CAROL):
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
        await users.upsert_user(tx, VERA, VERA, None, None, Role.VIEWER)
        await settings_repo.save(
            tx, ALICE, dataclasses.replace(RiskSettings(), max_position_usd=Decimal(900))
        )
        await settings_repo.save(
            tx, BOB, dataclasses.replace(RiskSettings(), max_position_usd=Decimal(50))
        )
    return BoundsService(db)


async def notices(db, uid: int) -> list[str]:
    return [text_of(r) for r in await outbox.list_rows(db, user_id=uid) if r.kind == "info"]


async def test_bound_for_everyone_moves_stored_and_default_values_inside(svc, db):
    change = await svc.set_from_text(ADMIN, None, "max_position_usd", "..200")
    # Alice stored 900, Carol and the admin run on the default 300: moved; Bob's 50 is
    # inside; the viewer's settings are never used
    assert set(change.clamped) == {ADMIN, ALICE, CAROL}
    assert change.clamped[ALICE] == [SettingChange("max_position_usd", ("900",), ("200",))]
    assert (await settings_repo.load(db, ALICE)).max_position_usd == 200
    assert (await settings_repo.load(db, CAROL)).max_position_usd == 200
    assert (await settings_repo.load(db, BOB)).max_position_usd == 50
    told = await notices(db, ALICE)
    assert len(told) == 1 and "max_position_usd: 900 → 200" in told[0] and "/settings" in told[0]
    assert await notices(db, BOB) == []
    actions = [r.action for r in await audit.recent(db, 20)]
    assert actions.count("settings.bound") == 1 and actions.count("settings.clamped") == 3
    assert await notices(db, VERA) == []


async def test_per_user_bound_narrows_only_that_user_and_lifting_keeps_values(svc, db):
    await svc.set_from_text(ADMIN, BOB, "leverage_cap", "1..2")
    assert (await settings_repo.load(db, BOB)).leverage_cap == 2
    assert (await settings_repo.load(db, ALICE)).leverage_cap == 5
    lines = bound_lines(await svc.everything(ADMIN))
    assert lines == ["everyone: leverage_cap ..5 (default)", "user 3: leverage_cap 1..2"]
    lifted = await svc.set_from_text(ADMIN, BOB, "leverage_cap", "off")
    assert lifted.bound is None and lifted.clamped == {}
    assert (await settings_repo.load(db, BOB)).leverage_cap == 2  # nothing springs back
    assert bound_lines(await svc.everything(ADMIN)) == ["everyone: leverage_cap ..5 (default)"]


async def test_pairs_bound_and_listing_order(svc, db):
    await svc.set_from_text(ADMIN, ALICE, "allowed_pairs", "BTC,ETH")
    await svc.set_from_text(ADMIN, None, "max_open_positions", "..1")
    assert (await settings_repo.load(db, ALICE)).allowed_pairs == ("BTC", "ETH")
    assert bound_lines(await svc.everything(ADMIN)) == [
        "everyone: leverage_cap ..5 (default)",
        "everyone: max_open_positions ..1",
        "user 2: allowed_pairs BTC, ETH",
    ]


async def test_non_admins_unknown_targets_and_bad_input_change_nothing(svc, db):
    with pytest.raises(PermissionDeniedError):
        await svc.set_from_text(ALICE, None, "max_position_usd", "..10")
    with pytest.raises(PermissionDeniedError):
        await svc.everything(BOB)
    with pytest.raises(ValidationError) as err:
        await svc.set_from_text(ADMIN, 999, "max_position_usd", "..100")
    assert "999" in error_text(err.value)
    with pytest.raises(ValidationError):
        await svc.set_from_text(ADMIN, None, "max_position_usd", "lots")
    assert (await settings_repo.load(db, ALICE)).max_position_usd == 900
    denied = [r for r in await audit.recent(db, 20) if r.action == "admin.denied"]
    assert {r.actor_id for r in denied} == {ALICE, BOB}
    assert bound_lines(await svc.everything(ADMIN)) == ["everyone: leverage_cap ..5 (default)"]


async def test_listing_shows_the_default_leverage_bound_until_an_admin_replaces_it(svc, db):
    """With nothing stored, leverage is still bounded at 5x (``DEFAULT_BOUNDS``): the
    listing says so; an admin's bound with an upper end replaces it; one with only a
    lower end keeps the default ceiling, shown as such for everyone and per user."""
    assert bound_lines(await svc.everything(ADMIN)) == ["everyone: leverage_cap ..5 (default)"]
    await svc.set_from_text(ADMIN, None, "leverage_cap", "..20")
    assert bound_lines(await svc.everything(ADMIN)) == ["everyone: leverage_cap ..20"]
    await svc.set_from_text(ADMIN, None, "leverage_cap", "2..")
    await svc.set_from_text(ADMIN, BOB, "leverage_cap", "3..")
    assert bound_lines(await svc.everything(ADMIN)) == [
        "everyone: leverage_cap 2..5 (upper end: default)",
        "user 3: leverage_cap 3..5 (upper end: default)",
    ]
    await svc.set_from_text(ADMIN, None, "max_position_usd", "..500")
    await svc.set_from_text(ADMIN, ALICE, "max_position_usd", "..900")
    lines = bound_lines(await svc.everything(ADMIN))
    assert "user 2: max_position_usd ..500" in lines  # everyone's narrower bound holds
