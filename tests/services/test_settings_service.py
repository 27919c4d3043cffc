"""SettingsService and admin bounds storage against a real database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.models import Role
from nija_tg.core.risk_settings import Bound, RiskSettings
from nija_tg.core.setting_bounds import DEFAULT_BOUNDS
from nija_tg.messages import settings as say
from nija_tg.messages.errors import text as error_text
from nija_tg.services.bounds_service import BoundsService
from nija_tg.services.settings_service import Allowed, SettingsService
from nija_tg.storage import admin_bounds, audit, credentials, outbox, settings_repo, users

ADMIN, ALICE, BOB = 1, 2, 3


@pytest.fixture
async def svc(db) -> SettingsService:
    async with db.transaction() as tx:
        await users.upsert_user(tx, ADMIN, ADMIN, None, None, Role.ADMIN)
        await users.upsert_user(tx, ALICE, ALICE, None, None, Role.TRADER)
        await users.upsert_user(tx, BOB, BOB, None, None, Role.TRADER)
    return SettingsService(db)


async def test_view_and_describe(svc):
    view = await svc.view(ALICE)
    names = [line.name for line in view.lines]
    assert names[0] == "max_position_usd" and "strategy.min_confidence" in names
    assert not view.read_only and not any(line.locked for line in view.lines)
    line = await svc.describe(ALICE, "Max-Position-USD")
    # data, not words: the value as stored with its unit, the range as numbers
    assert (line.value, line.unit) == (Decimal(300), "usd")
    assert line.allowed == Allowed("range", Decimal(10), Decimal(100000))
    adx = await svc.describe(ALICE, "adx_length")
    assert adx.allowed == Allowed("range", Decimal(5), Decimal(50), whole=True)
    assert (await svc.describe(ALICE, "trailing_stop")).allowed == Allowed("on_off")
    assert (await svc.describe(ALICE, "trailing_stop")).value is True
    with pytest.raises(ValidationError) as err:
        await svc.describe(ALICE, "<nope>")
    assert "&lt;nope&gt;" in error_text(err.value)


async def test_money_settings_carry_the_accounts_currency(svc, db):
    """``account_currency``'s rule, as /status: the key's exchange's quote (USDT on
    BingX, USD on Kraken); without a key USD (paper on Kraken) unless the snapshot's
    cash says otherwise. Every line and change carries it; /pairs the one quote."""
    assert {line.currency for line in (await svc.view(ALICE)).lines} == {"USD"}
    pairs = await svc.pairs(ALICE)
    assert (pairs.quote, pairs.exchange_id, pairs.connected) == ("USD", "kraken", False)
    async with db.transaction() as tx:
        await credentials.store(tx, ALICE, "bingx", b"sealed", "abcd", verified=True)
    line = await svc.describe(ALICE, "daily_loss_usd")
    assert (line.unit, line.currency) == ("usd", "USDT")
    change = await svc.set_value(ALICE, "max_position_usd", "250")
    assert (change.unit, change.currency) == ("usd", "USDT")
    assert {c.currency for c in await svc.apply_preset(ALICE, "conservative")} == {"USDT"}
    pairs = await svc.pairs(ALICE)
    assert (pairs.quote, pairs.exchange_id, pairs.connected) == ("USDT", "bingx", True)
    assert (await svc.describe(BOB, "max_position_usd")).currency == "USD"  # BOB: no key


async def test_set_value_saves_audits_and_keeps_users_apart(svc, db):
    change = await svc.set_value(ALICE, "daily_loss_pct", "4%")
    assert (change.old, change.new, change.unit) == (Decimal("5.0"), Decimal("4"), "%")
    assert say.set_done(change) == "✅ <code>daily_loss_pct</code>: 5% → <b>4%</b>"
    assert (await settings_repo.load(db, ALICE)).daily_loss_pct == Decimal("4")
    assert (await settings_repo.load(db, BOB)).daily_loss_pct == Decimal("5.0")
    rows = await audit.for_user(db, ALICE)
    assert rows[0].action == "settings.set" and rows[0].actor_id == ALICE
    assert rows[0].detail == {"name": "daily_loss_pct", "old": "5", "new": "4"}


async def test_rejections_leave_settings_untouched(svc, db):
    for raw in ("nan", "inf", "-1", "1e309", "abc", "٣", "3\u200b", "51"):
        with pytest.raises(ValidationError) as err:
            await svc.set_value(ALICE, "daily_loss_pct", raw)
        assert "between 0.5 and 50" in error_text(err.value)
    assert await settings_repo.load(db, ALICE) == RiskSettings()


async def test_roles_and_trade_only(svc, db):
    async with db.transaction() as tx:
        await users.set_trade_only(tx, ALICE, True)
        await users.set_role(tx, BOB, Role.VIEWER)
    with pytest.raises(PermissionDeniedError):
        await svc.set_value(ALICE, "strategy.adx_threshold", "30")
    view = await svc.view(ALICE)
    assert all(line.locked == (line.section == "strategy") for line in view.lines)
    with pytest.raises(PermissionDeniedError):
        await svc.set_value(BOB, "max_position_usd", "200")
    with pytest.raises(PermissionDeniedError):
        await svc.apply_preset(BOB, "conservative")
    with pytest.raises(PermissionDeniedError):  # a trader never edits someone else
        await svc.set_value(BOB, "max_position_usd", "200", actor_id=ALICE)
    # an admin manages a trade-only user's strategy, audited as the admin
    await svc.set_value(ALICE, "strategy.adx_threshold", "30", actor_id=ADMIN)
    assert (await settings_repo.load(db, ALICE)).strategy_params.adx_threshold == 30.0
    assert (await audit.for_user(db, ALICE))[0].actor_id == ADMIN


async def test_preset_is_clamped_into_admin_bounds(svc, db):
    await BoundsService(db).set_bound(ADMIN, None, "leverage_cap", Bound(hi=Decimal("3")))
    await BoundsService(db).set_bound(ADMIN, ALICE, "leverage_cap", Bound(hi=Decimal("8")))
    assert (await settings_repo.load(db, ALICE)).leverage_cap == 3  # moved inside at once
    changes = await svc.apply_preset(ALICE, "aggressive")
    assert "leverage_cap" not in [c.name for c in changes]  # aggressive's 5x clamped to 3x
    assert ("max_open_positions", 7, 10) in [(c.name, c.old, c.new) for c in changes]
    assert (await settings_repo.load(db, ALICE)).leverage_cap == 3
    assert await svc.apply_preset(ALICE, "aggressive") == []
    with pytest.raises(ValidationError):
        await svc.apply_preset(ALICE, "yolo")


async def test_admin_bounds_storage_round_trip(svc, db):
    with pytest.raises(PermissionDeniedError):
        await BoundsService(db).set_bound(ALICE, ALICE, "leverage_cap", Bound(hi=Decimal("2")))
    with pytest.raises(ValidationError):
        await BoundsService(db).set_bound(ADMIN, ALICE, "everything", Bound(hi=Decimal("2")))
    pairs = Bound(choices=frozenset({"BTC", "ETH"}))
    await BoundsService(db).set_bound(
        ADMIN, None, "allowed_pairs", Bound(choices=frozenset({"BTC", "SOL", "ETH"}))
    )
    await BoundsService(db).set_bound(ADMIN, ALICE, "allowed_pairs", pairs)
    await BoundsService(db).set_bound(
        ADMIN, ALICE, "max_position_usd", Bound(lo=Decimal("20"), hi=Decimal("90"))
    )
    got = await admin_bounds.for_user(db, ALICE)
    assert got["allowed_pairs"].choices == frozenset({"BTC", "ETH"})
    assert got["max_position_usd"] == Bound(lo=Decimal("20"), hi=Decimal("90"))
    assert (await admin_bounds.for_user(db, BOB))["allowed_pairs"].choices == frozenset(
        {"BTC", "SOL", "ETH"}
    )
    await BoundsService(db).set_bound(ADMIN, ALICE, "max_position_usd", None)
    assert "max_position_usd" not in await admin_bounds.for_target(db, ALICE)
    async with db.transaction() as tx:  # garbage in the document is ignored, not fatal
        await tx.execute("UPDATE app_state SET value = 'not json' WHERE key = 'admin_bounds'")
    assert await admin_bounds.for_user(db, ALICE) == DEFAULT_BOUNDS  # only the defaults


async def test_edit_pairs(svc, db):
    edit = await svc.edit_pairs(ALICE, "add", ["xrp", "BTC", "doge/usdt"])
    assert edit.changed == ("XRP", "DOGE") and edit.unchanged == ("BTC",)
    assert edit.pairs[-2:] == ("XRP", "DOGE")
    edit = await svc.edit_pairs(ALICE, "remove", ["XRP"])
    assert "XRP" not in edit.pairs
    with pytest.raises(ValidationError):
        await svc.edit_pairs(ALICE, "toggle", ["XRP"])
    with pytest.raises(ValidationError):
        await svc.edit_pairs(ALICE, "add", [])


async def test_notify(svc, db):
    assert await svc.notify_prefs(ALICE) == {g: "on" for g in outbox.GROUPS}
    prefs = await svc.set_notify(ALICE, "Fill", "off")
    assert prefs["fills"] == "off" and prefs["stops"] == "on"
    async with db.transaction() as tx:
        assert await outbox.enqueue(tx, ALICE, "fill", "x") is None
        assert await outbox.enqueue(tx, BOB, "fill", "x") is not None
    assert set((await svc.set_notify(ALICE, "all", "silent")).values()) == {"silent"}
    for group, value in (("fills", "loud"), ("nope", "on"), ("", "")):
        with pytest.raises(ValidationError):
            await svc.set_notify(ALICE, group, value)


async def test_forget_erases_only_that_user(svc, db):
    await svc.set_value(ALICE, "max_position_usd", "111")
    await svc.set_value(BOB, "max_position_usd", "222")
    await BoundsService(db).set_bound(ADMIN, ALICE, "leverage_cap", Bound(hi=Decimal("2")))
    async with db.transaction() as tx:
        await credentials.store(tx, ALICE, "kraken", b"blob", "wxyz", verified=True)
        await credentials.store(tx, BOB, "kraken", b"blob2", "abcd", verified=True)
        await users.set_trading(tx, ALICE, True)
        await outbox.enqueue(tx, ALICE, "fill", "x")
    assert await svc.forget(ALICE) is True
    assert await users.get_user(db, ALICE) is None
    assert await credentials.get(db, ALICE) is None
    assert await outbox.list_rows(db, user_id=ALICE) == []
    assert await admin_bounds.for_target(db, ALICE) == {}
    assert (await settings_repo.load(db, ALICE)) == RiskSettings()
    assert await credentials.get(db, BOB) is not None
    assert (await settings_repo.load(db, BOB)).max_position_usd == Decimal("222")
    assert await audit.for_user(db, ALICE) == []  # their rows now carry a pseudonym
    [forget] = [r for r in await audit.recent(db, 200) if r.action == "user.forget"]
    assert str(forget.target_id).startswith("forgotten:")
    assert await svc.forget(ALICE) is False
