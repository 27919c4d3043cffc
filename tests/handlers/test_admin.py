"""Admin commands end to end through the real python-telegram-bot and the fake Bot API."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from nija_tg.core.models import Role
from nija_tg.handlers.callback_data import ForgetButton, UsersPageButton
from nija_tg.messages.common import EXPIRED_BUTTON
from nija_tg.storage import audit, credentials, outbox, snapshots, users
from nija_tg.storage.admin_queries import utc_day
from tests.handlers.harness import ADMIN_ID
from tests.handlers.tap import tap, tap_for
from tests.outbox_text import text_of

TRADER, VIEWER = 2001, 2002
REFUSAL = "That command is for admins."

ADMIN_COMMANDS = (
    "/users",
    "/users 2",
    "/user 2001",
    "/pause all",
    "/pause 2001 because",
    "/resume all",
    "/role 2001 admin",
    "/grant 2002 2001",
    "/revoke 2002 2001",
    "/audit",
    "/broadcast hello everyone",
    "/halt",
    "/unhalt",
    "/bound",
    "/bound max_position_usd ..500",
    "/health",
)

MALFORMED = (
    ("/users x", "users"),
    ("/users 0", "users"),
    ("/users -1", "users"),
    ("/users 1 2", "users"),
    ("/user", "user"),
    ("/user @bob", "user"),
    ("/user 12abc", "user"),
    ("/user -5", "user"),
    ("/user 0", "user"),
    ("/user +5", "user"),
    ("/user 9223372036854775808", "user"),
    ("/user 99999999999999999999999", "user"),
    ("/user ١٢٣", "user"),
    ("/user ２００１", "user"),
    ("/user 2001 2002", "user"),
    ("/pause", "pause"),
    ("/pause @bob", "pause"),
    ("/pause NaN reason", "pause"),
    ("/resume", "resume"),
    ("/resume 2001 now", "resume"),
    ("/resume everyone", "resume"),
    ("/role", "role"),
    ("/role 2001", "role"),
    ("/role 2001 king", "role"),
    ("/role abc trader", "role"),
    ("/role 2001 trader extra", "role"),
    ("/grant 2002", "grant"),
    ("/grant a b", "grant"),
    ("/grant 2002 -2001", "grant"),
    ("/revoke 2002 2001 1", "revoke"),
    ("/audit 0", "audit"),
    ("/audit 101", "audit"),
    ("/audit NaN", "audit"),
    ("/audit 1.5", "audit"),
    ("/audit 5 6", "audit"),
    ("/broadcast", "broadcast"),
    ("/broadcast    ", "broadcast"),
    ("/halt now", "halt"),
    ("/unhalt please", "unhalt"),
    ("/bound max_position_usd", "bound"),
    ("/bound allowed_pairs", "bound"),
)


def _db(bot):
    return bot.services.users.db


@pytest.fixture
async def crew(bot):
    """The harness admin, a trader with trading on, and a viewer."""
    for uid in (ADMIN_ID, TRADER, VIEWER):
        await bot.say(uid, "/start")
    async with _db(bot).transaction() as tx:
        await users.set_role(tx, VIEWER, Role.VIEWER)
        await users.set_trading(tx, TRADER, True)
    return bot


async def _audit(bot, action: str) -> list:
    return [r for r in await audit.recent(_db(bot), 200) if r.action == action]


async def _kinds(bot, user_id: int) -> list[str]:
    return [r.kind for r in await outbox.list_rows(_db(bot), user_id=user_id)]


async def test_every_malformed_argument_gets_a_usage_line(crew):
    # Replies to one chat are paced (1 message/s), so several admins share the cases.
    helpers = [ADMIN_ID, *range(1001, 1007)]
    for uid in helpers[1:]:
        await crew.say(uid, "/start")
    async with _db(crew).transaction() as tx:
        for uid in helpers[1:]:
            await users.set_role(tx, uid, Role.ADMIN)

    async def run(uid: int, cases: tuple[tuple[str, str], ...]) -> None:
        for text, name in cases:
            answer = await crew.say(uid, text, timeout=30)
            assert answer.startswith(f"Usage: /{name}"), (text, answer)

    await asyncio.gather(*(run(uid, MALFORMED[i :: len(helpers)]) for i, uid in enumerate(helpers)))
    assert await outbox.list_rows(_db(crew)) == []
    assert not await users.is_halted(_db(crew))


async def test_non_admins_are_refused_audited_and_nothing_changes(crew):
    before = await users.get_user(_db(crew), TRADER)

    async def run(who: int) -> None:
        for text in ADMIN_COMMANDS:
            assert await crew.say(who, text, timeout=30) == REFUSAL, text

    await asyncio.gather(run(TRADER), run(VIEWER))
    denied = await _audit(crew, "admin.denied")
    assert len(denied) == 2 * len(ADMIN_COMMANDS)
    commands = {t.split()[0][1:] for t in ADMIN_COMMANDS}
    for who in (TRADER, VIEWER):
        assert {r.detail["command"] for r in denied if r.actor_id == who} == commands
        assert sum(r.actor_id == who for r in denied) == len(ADMIN_COMMANDS)
    assert await users.get_user(_db(crew), TRADER) == before
    assert (await users.get_user(_db(crew), VIEWER)).role is Role.VIEWER
    assert await users.granted_traders(_db(crew), VIEWER) == []
    assert await outbox.list_rows(_db(crew)) == []
    assert not await users.is_halted(_db(crew))
    actions = {r.action for r in await audit.recent(_db(crew), 200)}
    assert {a for a in actions if a.startswith("admin.")} == {"admin.denied"}


async def test_users_paging_buttons_edit_the_message(crew):
    db = _db(crew)
    async with db.transaction() as tx:
        for uid in range(5000, 5045):  # 48 users in all: 3 pages of 20
            await users.upsert_user(tx, uid, uid, f"user{uid}", "<Eve>", Role.TRADER)
        await snapshots.save(
            tx,
            TRADER,
            snapshots.Snapshot(
                equity=Decimal("1250"), start_of_day_equity=Decimal("1200"), day=utc_day()
            ),
        )
    first = await crew.ask(ADMIN_ID, "/users")
    text = first.params["text"]
    assert "page 1/3" in text and "Total 48" in text and "balance 1,250.00" in text
    assert "+50.00" in text and "&lt;Eve&gt;" not in text  # usernames shown first
    keyboard = first.params["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in keyboard[0]] == [UsersPageButton(2).pack()]
    message_id = first.result["message_id"]
    edit = await crew.press(
        ADMIN_ID, UsersPageButton(2).pack(), message_id, method="editMessageText"
    )
    assert "page 2/3" in edit.params["text"]
    buttons = [b["callback_data"] for b in edit.params["reply_markup"]["inline_keyboard"][0]]
    assert buttons == [UsersPageButton(1).pack(), UsersPageButton(3).pack()]
    last = await crew.ask(ADMIN_ID, "/users 3")
    assert "page 3/3" in last.params["text"] and "5044" in last.params["text"]
    assert "There is no page 9" in await crew.say(ADMIN_ID, "/users 9")


async def test_a_paging_button_outside_its_bounds_answers_expired_and_edits_nothing(crew):
    first = await crew.ask(ADMIN_ID, "/users")
    since = crew.api.mark()
    # in the button's grammar (digits) but below its bounds: on_button refuses it
    crew.api.user_callback(ADMIN_ID, "users:1:0", message_id=first.result["message_id"])
    answer = await crew.api.wait_for("answerCallbackQuery", since=since)
    assert answer.params.get("text") == EXPIRED_BUTTON
    assert "page 1/" in await crew.say(ADMIN_ID, "/users")  # runs after the press
    assert crew.api.sent_to(ADMIN_ID, "editMessageText", since=since) == []
    assert len(crew.api.sent_to(ADMIN_ID, since=since)) == 1


async def test_non_admin_pressing_a_paging_button_gets_nothing(crew):
    first = await crew.ask(TRADER, "/help")
    since = crew.api.mark()
    query_id = crew.api.user_callback(
        TRADER, UsersPageButton(2).pack(), message_id=first.result["message_id"]
    )
    await crew.api.wait_for("answerCallbackQuery", since=since)
    await asyncio.sleep(0.3)
    assert crew.api.callback_answers[query_id].get("text") in (None, "")
    assert crew.api.sent_to(TRADER, since=since) == []
    assert crew.api.sent_to(TRADER, "editMessageText", since=since) == []
    [denied] = await _audit(crew, "admin.denied")
    assert denied.actor_id == TRADER and denied.detail["command"] == "users:page"


async def test_user_detail_shows_no_secrets(crew):
    async with _db(crew).transaction() as tx:
        await credentials.store(
            tx, TRADER, "binance", b"TOPSECRETBLOB", "WXYZ", verified=True, permissions=["spot"]
        )
        await users.set_status(tx, TRADER, users.UserStatus.PAUSED, "<drawdown>")
        await users.grant(tx, VIEWER, TRADER, ADMIN_ID)
    text = await crew.say(ADMIN_ID, "/user 2001")
    expected = ("Role: trader", "paused — &lt;drawdown&gt;", "Trading: on", "binance", "…WXYZ")
    expected += ("verified yes", "spot", "Viewed by: 2002", "Registered:")
    for part in expected:
        assert part in text, part
    assert "TOPSECRET" not in text
    viewer = await crew.say(ADMIN_ID, "/user 2002")
    assert "Role: viewer" in viewer and "Can view traders: 2001" in viewer
    assert await crew.say(ADMIN_ID, "/user 424242") == "No such user."
    assert [r.target_id for r in await _audit(crew, "admin.view_user")] == [2002, 2001]


async def test_pause_and_resume_tell_the_users_through_the_outbox(crew):
    reply = await crew.say(ADMIN_ID, "/pause 2001 too <risky>")
    assert "Paused user <code>2001</code>" in reply
    trader = await users.get_user(_db(crew), TRADER)
    assert trader.status.value == "paused" and trader.pause_reason == "too <risky>"
    [row] = await outbox.list_rows(_db(crew), user_id=TRADER)
    assert row.kind == "pause" and "too &lt;risky&gt;" in text_of(row)
    assert "already paused" in await crew.say(ADMIN_ID, "/pause 2001")
    assert await crew.say(ADMIN_ID, "/pause 777") == "No such user."
    question = await crew.ask(ADMIN_ID, "/pause all maintenance")
    assert "Pause 2 users?" in question.params["text"] and "maintenance" in question.params["text"]
    await tap_for(crew, ADMIN_ID, question, "Yes", "Paused 2 users")
    assert await _kinds(crew, ADMIN_ID) == ["pause"] and await _kinds(crew, VIEWER) == ["pause"]
    assert "Resumed user <code>2002</code>" in await crew.say(ADMIN_ID, "/resume 2002")
    assert "Resumed 2 users" in await crew.say(ADMIN_ID, "/resume ALL")
    assert await _kinds(crew, TRADER) == ["pause", "pause"]
    assert "not paused" in await crew.say(ADMIN_ID, "/resume 2001")
    assert (await users.get_user(_db(crew), TRADER)).status.value == "active"
    pauses = await _audit(crew, "admin.pause")
    assert pauses[-1].target_id == TRADER and pauses[-1].detail["reason"] == "too <risky>"


async def test_halt_and_unhalt(crew):
    question = await crew.ask(ADMIN_ID, "/halt")
    assert "Halt trading for everyone?" in question.params["text"]
    assert not await users.is_halted(_db(crew))  # nothing until the admin confirms
    reply = (await tap(crew, ADMIN_ID, question, "Yes")).params["text"]
    assert "Global halt is on: everyone is on exits only" in reply and "1 user" in reply
    assert "stops keep running" in reply and "open positions stay protected" in reply
    assert await users.is_halted(_db(crew))
    assert await _kinds(crew, TRADER) == ["halt"]
    assert await _kinds(crew, VIEWER) == []  # viewers do not trade
    assert "already halted" in await crew.say(ADMIN_ID, "/halt")
    lifted = await crew.say(ADMIN_ID, "/unhalt")
    assert "halt lifted" in lifted and "own switch applies again" in lifted
    assert not await users.is_halted(_db(crew))
    assert await _kinds(crew, TRADER) == ["halt", "halt"]
    assert "not halted" in await crew.say(ADMIN_ID, "/unhalt")
    assert len(await _audit(crew, "admin.halt")) == 1
    assert len(await _audit(crew, "admin.unhalt")) == 1


async def test_role_change_refreshes_the_target_menu(crew):
    since = crew.api.mark()
    reply = await crew.say(ADMIN_ID, "/role 2001 viewer")
    assert "now <b>viewer</b>" in reply
    menu = await crew.api.wait_for(
        "setMyCommands",
        lambda r: r.params.get("scope") == {"type": "chat", "chat_id": TRADER},
        since=since,
    )
    names = {c["command"] for c in menu.params["commands"]}
    assert "status" in names and "connect" not in names
    trader = await users.get_user(_db(crew), TRADER)
    assert trader.role is Role.VIEWER and not trader.trading_on
    [row] = await _audit(crew, "admin.role")
    assert row.target_id == TRADER and row.detail == {"old": "trader", "new": "viewer"}
    assert "already viewer" in await crew.say(ADMIN_ID, "/role 2001 VIEWER")
    assert "last admin" in await crew.say(ADMIN_ID, "/role 1000 trader")
    assert await crew.say(ADMIN_ID, "/role 31337 admin") == "No such user."
    await crew.say(ADMIN_ID, "/role 2002 admin")
    assert "NIJA_ADMIN_IDS" in await crew.say(ADMIN_ID, "/role 1000 trader")


async def test_grant_and_revoke(crew):
    assert "can now see trader" in await crew.say(ADMIN_ID, "/grant 2002 2001")
    assert await users.granted_traders(_db(crew), VIEWER) == [TRADER]
    assert "could already" in await crew.say(ADMIN_ID, "/grant 2002 2001")
    assert "is not a viewer" in await crew.say(ADMIN_ID, "/grant 2001 2002")
    assert await crew.say(ADMIN_ID, "/grant 2002 9999") == "No such user."
    assert "no longer see" in await crew.say(ADMIN_ID, "/revoke 2002 2001")
    assert "no grant" in await crew.say(ADMIN_ID, "/revoke 2002 2001")
    assert await users.granted_traders(_db(crew), VIEWER) == []
    assert [r.action for r in await audit.recent(_db(crew), 2)] == ["admin.revoke", "admin.grant"]


async def test_broadcast_and_audit(crew):
    since = crew.api.mark()
    heading = await crew.say(ADMIN_ID, "/broadcast Hello <b>all</b>\nsecond line")
    assert heading == "📣 <b>Preview</b> — this goes to 3 users:"
    preview = await crew.api.wait_for(
        "sendMessage", lambda r: "from the admins" in str(r.params.get("text")), since=since
    )
    assert "Hello &lt;b&gt;all&lt;/b&gt;\nsecond line" in preview.params["text"]
    assert await outbox.list_rows(_db(crew)) == []  # nothing queued before Send
    reply = (await tap(crew, ADMIN_ID, preview, "📣 Send")).params["text"]
    assert reply == "Broadcast queued for 3 users."
    rows = await outbox.list_rows(_db(crew))
    assert {r.user_id for r in rows} == {ADMIN_ID, TRADER, VIEWER}
    assert all("Hello &lt;b&gt;all&lt;/b&gt;\nsecond line" in text_of(r) for r in rows)
    assert "too long" in await crew.say(ADMIN_ID, "/broadcast " + "x" * 3501)
    await crew.say(ADMIN_ID, "/pause 2001 <script>")
    log = await crew.say(ADMIN_ID, "/audit 3")
    assert "last 3" in log and "admin.pause" in log and "&lt;script&gt;" in log
    assert "<script>" not in log
    assert "admin.broadcast" in await crew.say(ADMIN_ID, "/audit")


async def test_admin_commands_only_in_private_chats(crew):
    text = await crew.say(ADMIN_ID, "/users", chat_type="group", chat_id=-5)
    assert "private chat" in text


async def test_role_change_away_from_viewer_drops_their_grants(crew):
    await crew.say(ADMIN_ID, "/grant 2002 2001")
    assert "now <b>trader</b>" in await crew.say(ADMIN_ID, "/role 2002 trader")
    assert await users.granted_traders(_db(crew), VIEWER) == []
    [dropped] = await _audit(crew, "grants.dropped")
    assert dropped.actor_id == ADMIN_ID and dropped.target_id == VIEWER
    assert dropped.detail["traders"] == [TRADER]
    await crew.say(ADMIN_ID, "/role 2002 viewer")  # viewer again: the grant stays gone
    assert "no grant" in await crew.say(ADMIN_ID, "/revoke 2002 2001")


async def test_the_last_admin_can_neither_step_down_nor_forget(crew):
    for role in ("trader", "viewer"):
        assert "last admin" in await crew.say(ADMIN_ID, f"/role 1000 {role}")
    record = await crew.ask(ADMIN_ID, "/forget")
    refused = await crew.press(ADMIN_ID, ForgetButton("yes").pack(), record.result["message_id"])
    text = str(refused.params["text"])
    assert "last admin" in text and "/role" in text
    admin = await users.get_user(_db(crew), ADMIN_ID)
    assert admin is not None and admin.role is Role.ADMIN
    assert not await _audit(crew, "user.forget")


async def test_bot_start_syncs_admins_with_nija_admin_ids(data_dir):
    from tests.handlers.harness import start_bot, stop_bot

    configured, granted = 1001, TRADER
    bot = await start_bot(data_dir, NIJA_ADMIN_IDS=f"{ADMIN_ID},{configured}")
    try:
        for uid in (ADMIN_ID, configured, granted):
            await bot.say(uid, "/start")
        await bot.say(ADMIN_ID, f"/role {granted} admin")
        assert (await users.get_user(_db(bot), configured)).admin_source == "config"
        assert (await users.get_user(_db(bot), granted)).admin_source == "granted"
    finally:
        await stop_bot(bot)
    bot = await start_bot(data_dir, NIJA_ADMIN_IDS=str(ADMIN_ID))  # 1001 taken off the list
    try:
        roles = {uid: (await users.get_user(_db(bot), uid)).role for uid in (1000, 1001, 2001)}
        assert roles == {ADMIN_ID: Role.ADMIN, configured: Role.TRADER, granted: Role.ADMIN}
        [demoted] = await _audit(bot, "role.config_demote")
        assert demoted.target_id == configured and demoted.actor_id is None
        since = bot.api.mark()
        await bot.send(configured, "/users")  # (the bot may deliver the demotion notice first)
        await bot.api.wait_for(
            "sendMessage",
            lambda r: r.chat_id == configured and r.params.get("text") == REFUSAL,
            since=since,
        )
        assert "Users" in await bot.say(granted, "/users")
    finally:
        await stop_bot(bot)
