"""AdminService against a real database: rules, audit rows and outbox notices."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.models import Role, UserStatus
from nija_tg.messages.errors import text as error_text
from nija_tg.services.admin_service import AdminService, clean_text
from nija_tg.storage import audit, credentials, outbox, snapshots, users
from nija_tg.storage.admin_queries import utc_day
from tests.outbox_text import text_of

ADMIN, TRADER, VIEWER, OTHER = 10, 20, 30, 40


async def _add(db, user_id: int, role: Role, *, trading: bool = False) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, user_id, user_id, f"u{user_id}", "Name", role)
        if trading:
            await users.set_trading(tx, user_id, True)


@pytest.fixture
async def svc(db):
    await _add(db, ADMIN, Role.ADMIN, trading=True)
    await _add(db, TRADER, Role.TRADER, trading=True)
    await _add(db, VIEWER, Role.VIEWER)
    await _add(db, OTHER, Role.TRADER)
    return AdminService(db, frozenset({ADMIN}))


async def _actions(db) -> list[str]:
    return [r.action for r in await audit.recent(db, 100)]


def test_clean_text_strips_controls_and_bidi():
    assert clean_text(" a\x00b\x1b[31m\u202ec\td ") == "ab[31mc d"
    assert clean_text("x\r\ny\n", keep_newlines=True) == "x\ny"
    assert clean_text("one\ntwo") == "one two"
    assert clean_text("👨\u200d👩") == "👨\u200d👩"


async def test_non_admin_actor_is_refused_and_nothing_changes(svc, db):
    for call in (
        svc.users_page(TRADER, 1),
        svc.user_detail(TRADER, ADMIN),
        svc.pause(TRADER, None),
        svc.set_role(TRADER, TRADER, Role.ADMIN),
        svc.grant(VIEWER, VIEWER, TRADER),
        svc.broadcast(TRADER, "hi"),
        svc.halt(TRADER),
        svc.audit_log(VIEWER, 5),
    ):
        with pytest.raises(PermissionDeniedError):
            await call
    assert (await users.get_user(db, TRADER)).role is Role.TRADER
    assert not await users.is_halted(db)
    assert await outbox.list_rows(db) == []
    assert await users.granted_traders(db, VIEWER) == []


async def test_pause_one_then_all_and_resume(svc, db):
    assert await svc.pause(ADMIN, TRADER, "<b>risk</b>\x07 check") == [TRADER]
    row = await users.get_user(db, TRADER)
    assert row.status is UserStatus.PAUSED and row.pause_reason == "<b>risk</b> check"
    [notice] = await outbox.list_rows(db, user_id=TRADER)
    assert notice.kind == "pause" and "&lt;b&gt;risk&lt;/b&gt; check" in text_of(notice)
    assert await svc.pause(ADMIN, TRADER) == []  # already paused: nothing new queued
    assert len(await outbox.list_rows(db, user_id=TRADER)) == 1
    paused = await svc.pause(ADMIN, None, "maintenance")
    assert paused == [ADMIN, VIEWER, OTHER]
    assert (await users.get_user(db, OTHER)).pause_reason == "maintenance"
    assert sorted(await svc.resume(ADMIN, None)) == [ADMIN, TRADER, VIEWER, OTHER]
    assert (await users.get_user(db, TRADER)).status is UserStatus.ACTIVE
    assert [r.kind for r in await outbox.list_rows(db, user_id=TRADER)] == ["pause", "pause"]
    assert await svc.resume(ADMIN, TRADER) == []
    with pytest.raises(ValidationError) as info:
        await svc.pause(ADMIN, 999)
    assert error_text(info.value) == "No such user."
    with pytest.raises(ValidationError):
        await svc.pause(ADMIN, TRADER, "x" * 201)
    assert (await _actions(db)).count("admin.pause") == 3


async def test_role_rules(svc, db):
    change = await svc.set_role(ADMIN, TRADER, Role.VIEWER)
    assert change.changed and change.old is Role.TRADER and change.chat_id == TRADER
    user = await users.get_user(db, TRADER)
    assert user.role is Role.VIEWER and not user.trading_on  # viewers do not trade
    assert not (await svc.set_role(ADMIN, TRADER, Role.VIEWER)).changed
    with pytest.raises(ValidationError) as info:
        await svc.set_role(ADMIN, ADMIN, Role.TRADER)  # the last admin
    assert "last admin" in error_text(info.value)
    await svc.set_role(ADMIN, OTHER, Role.ADMIN)
    demoted = await svc.set_role(ADMIN, ADMIN, Role.TRADER)  # another admin exists now
    assert demoted.changed and demoted.configured_admin
    with pytest.raises(PermissionDeniedError):
        await svc.set_role(ADMIN, ADMIN, Role.ADMIN)
    info_rows = [r for r in await outbox.list_rows(db, user_id=TRADER) if r.kind == "info"]
    assert info_rows and "viewer" in text_of(info_rows[0])


async def test_grants(svc, db):
    assert await svc.grant(ADMIN, VIEWER, TRADER)
    assert not await svc.grant(ADMIN, VIEWER, TRADER)
    assert await users.granted_traders(db, VIEWER) == [TRADER]
    with pytest.raises(ValidationError):
        await svc.grant(ADMIN, OTHER, TRADER)  # OTHER is not a viewer
    with pytest.raises(ValidationError):
        await svc.grant(ADMIN, VIEWER, VIEWER)  # a viewer is not a trader
    with pytest.raises(ValidationError):
        await svc.grant(ADMIN, VIEWER, 12345)
    detail = await svc.user_detail(ADMIN, VIEWER)
    assert detail.can_view == [TRADER]
    assert (await svc.user_detail(ADMIN, TRADER)).viewed_by == [VIEWER]
    assert await svc.revoke(ADMIN, VIEWER, TRADER)
    assert not await svc.revoke(ADMIN, VIEWER, TRADER)
    assert await users.granted_traders(db, VIEWER) == []


async def test_overview_totals_and_detail_never_hold_secrets(svc, db):
    today = utc_day()
    async with db.transaction() as tx:
        await snapshots.save(
            tx,
            TRADER,
            snapshots.Snapshot(
                equity=Decimal("1100.5"), start_of_day_equity=Decimal("1000"), day=today
            ),
        )
        await snapshots.save(
            tx,
            OTHER,
            snapshots.Snapshot(
                equity=Decimal("50"), start_of_day_equity=Decimal("80"), day="2000-01-01"
            ),
        )
        await credentials.store(
            tx,
            TRADER,
            "binance",
            b"SECRET-CIPHERTEXT",
            "WXYZ",
            verified=True,
            permissions=["spot"],
            can_withdraw=False,
        )
        await users.set_status(tx, OTHER, UserStatus.PAUSED, "x")
    view = await svc.users_page(ADMIN, 1)
    assert (view.page, view.pages) == (1, 1)
    t = view.totals
    assert (t.users, t.active, t.paused) == (4, 2, 1)
    # per currency, never one sum: TRADER's binance key counts in USDT, OTHER (no key,
    # paper on the default exchange) in USD; OTHER's stale day has no P&L today
    assert t.balance == {"USD": Decimal("50"), "USDT": Decimal("1100.5")}
    assert t.pnl_today == {"USDT": Decimal("100.5")}
    by_id = {r.user_id: r for r in view.rows}
    assert by_id[TRADER].exchange_id == "binance" and by_id[TRADER].pnl_today == Decimal("100.5")
    assert by_id[OTHER].pnl_today is None  # stale day: unknown, not a loss
    detail = await svc.user_detail(ADMIN, TRADER)
    assert detail.credential.key_tail == "WXYZ" and detail.credential.verified
    assert "SECRET" not in repr(detail)
    with pytest.raises(ValidationError):
        await svc.users_page(ADMIN, 2)
    assert "admin.view_user" in await _actions(db)


async def test_broadcast_and_halt(svc, db):
    assert await svc.broadcast(ADMIN, "Hello <all>\x00\n  bye") == 4
    rows = await outbox.list_rows(db)
    assert {r.user_id for r in rows} == {ADMIN, TRADER, VIEWER, OTHER}
    assert all("Hello &lt;all&gt;\n  bye" in text_of(r) and r.kind == "broadcast" for r in rows)
    with pytest.raises(ValidationError):
        await svc.broadcast(ADMIN, "x" * 3501)
    with pytest.raises(ValidationError):
        await svc.broadcast(ADMIN, "\x00 \n")
    with pytest.raises(ValidationError):
        await svc.broadcast(ADMIN, "<" * 3000)  # fits 3500, but not once escaped
    mark = time.time()
    assert await svc.halt(ADMIN) == 2  # ADMIN and TRADER have trading on
    assert await users.is_halted(db)
    assert await svc.halt(ADMIN) is None
    halts = [r for r in await outbox.list_rows(db) if r.kind == "halt" and r.created_at >= mark]
    assert sorted(r.user_id for r in halts) == [ADMIN, TRADER]
    assert await svc.unhalt(ADMIN) == 2
    assert not await users.is_halted(db)
    assert await svc.unhalt(ADMIN) is None
    actions = await _actions(db)
    assert actions[:2] == ["admin.unhalt", "admin.halt"] and "admin.broadcast" in actions
