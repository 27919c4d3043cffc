"""Yes/No confirmations end to end: /disconnect, an admin's /pause all, /halt and the
/broadcast preview. Only the asker's own open question acts, once; non-admins pressing
an admin confirmation are refused and audited; old buttons answer "expired"."""

from __future__ import annotations

from nija_tg.core.models import Role
from nija_tg.handlers import confirm
from nija_tg.handlers.callback_data import (
    BroadcastConfirm,
    DisconnectConfirm,
    HaltConfirm,
    PauseAllConfirm,
)
from nija_tg.messages.admin_replies import REFUSAL
from nija_tg.messages.common import EXPIRED_BUTTON, NOT_YOURS
from nija_tg.storage import audit, credentials, outbox, users
from tests.handlers.harness import ADMIN_ID
from tests.handlers.tap import answer_of, data_of, message_id, say_for, tap, tap_for
from tests.handlers.test_reports import db_of, register

TRADER, OTHER = 2001, 2002


async def connected(bot, uid: int) -> None:
    await register(bot, uid)
    async with db_of(bot).transaction() as tx:
        await credentials.store(tx, uid, "kraken", b"sealed", "abcd", verified=True)


async def _audit(bot, action: str) -> list:
    return [r for r in await audit.recent(db_of(bot), 200) if r.action == action]


async def test_disconnect_asks_and_a_used_or_foreign_button_does_nothing(bot):
    await connected(bot, TRADER)
    question = await bot.ask(TRADER, "/disconnect")
    assert "Disconnect your exchange?" in question.params["text"]
    assert "<b>kraken</b> key ••••abcd" in question.params["text"]
    yes = data_of(question, "Yes")
    assert DisconnectConfirm.unpack(yes) is not None
    # another user replaying the same data on a message of their own acts on nothing
    await connected(bot, OTHER)
    own = await bot.ask(OTHER, "/status")
    answer = await answer_of(bot, OTHER, yes, message_id(own))
    assert answer.params["text"] == NOT_YOURS
    assert await credentials.get(db_of(bot), OTHER) is not None
    # the asker's press on another message of theirs acts on nothing either
    status = await bot.ask(TRADER, "/status")
    answer = await answer_of(bot, TRADER, yes, message_id(status))
    assert answer.params["text"] == NOT_YOURS
    assert await credentials.get(db_of(bot), TRADER) is not None
    done = await tap(bot, TRADER, question, "Yes")
    assert "erased" in done.params["text"]
    assert await credentials.get(db_of(bot), TRADER) is None
    edit = await bot.api.wait_for("editMessageReplyMarkup", since=0)
    assert edit.params["message_id"] == message_id(question)  # the buttons are gone
    again = await answer_of(bot, TRADER, yes, message_id(question))
    assert again.params["text"] == NOT_YOURS  # used once
    assert "no exchange connected" in await bot.say(TRADER, "/disconnect")
    assert "Usage: /disconnect" in await bot.say(OTHER, "/disconnect now")


async def test_confirmations_expire(bot, monkeypatch):
    await connected(bot, TRADER)
    question = await bot.ask(TRADER, "/disconnect")
    monkeypatch.setattr(confirm, "TTL_SECONDS", 0.0)
    await bot.settle(0.05)
    answer = await answer_of(bot, TRADER, data_of(question, "Yes"), message_id(question))
    assert answer.params["text"] == NOT_YOURS
    assert await credentials.get(db_of(bot), TRADER) is not None
    for old in ("disconnect:0:yes:5", "disconnect:1:maybe:5", "disconnect:1:yes:0", "halt:1:yes"):
        answer = await answer_of(bot, TRADER, old, message_id(question))
        assert answer.params["text"] == EXPIRED_BUTTON


async def test_non_admins_tapping_admin_confirmations_are_refused_and_audited(bot):
    await register(bot, ADMIN_ID)
    await register(bot, TRADER)
    async with db_of(bot).transaction() as tx:
        await users.set_trading(tx, TRADER, True)
    question = await bot.ask(ADMIN_ID, "/halt")
    token = HaltConfirm.unpack(data_of(question, "Yes")).token
    mine = await bot.ask(TRADER, "/status")
    for button in (HaltConfirm, PauseAllConfirm, BroadcastConfirm):
        answer = await answer_of(bot, TRADER, button("yes", token).pack(), message_id(mine))
        assert answer.params["text"] == REFUSAL and answer.params["show_alert"]
    assert not await users.is_halted(db_of(bot))
    assert (await users.get_user(db_of(bot), TRADER)).status.value == "active"
    assert await outbox.list_rows(db_of(bot)) == []
    denied = await _audit(bot, "admin.denied")
    assert sorted(r.detail["command"] for r in denied) == ["broadcast", "halt", "pause"]
    # an admin demoted after asking is refused too
    await register(bot, OTHER)
    async with db_of(bot).transaction() as tx:
        await users.set_role(tx, OTHER, Role.ADMIN)
    question = await bot.ask(OTHER, "/halt")
    async with db_of(bot).transaction() as tx:
        await users.set_role(tx, OTHER, Role.TRADER)
    answer = await answer_of(bot, OTHER, data_of(question, "Yes"), message_id(question))
    assert answer.params["text"] == REFUSAL
    assert not await users.is_halted(db_of(bot))


async def test_admin_confirmations_cancel_and_act_once(bot):
    await register(bot, ADMIN_ID)
    await register(bot, TRADER)
    question = await bot.ask(ADMIN_ID, "/pause all review")
    text = question.params["text"]
    assert "Pause 2 users?" in text and "Reason: review" in text  # the admin trades too
    cancelled = await tap(bot, ADMIN_ID, question, "Cancel")
    assert cancelled.params["text"] == "Cancelled: nobody paused."
    assert (await users.get_user(db_of(bot), TRADER)).status.value == "active"
    question = await bot.ask(ADMIN_ID, "/pause all review")
    await tap_for(bot, ADMIN_ID, question, "Yes", "Paused 2 users")
    trader = await users.get_user(db_of(bot), TRADER)
    assert trader.status.value == "paused" and trader.pause_reason == "review"
    answer = await answer_of(bot, ADMIN_ID, data_of(question, "Yes"), message_id(question))
    assert answer.params["text"] == NOT_YOURS
    assert await say_for(bot, ADMIN_ID, "/pause all", "Nobody") == "Nobody to pause."
    assert "too long" in await say_for(bot, ADMIN_ID, "/pause all " + "x" * 1000, "too long")
    # /broadcast: bad input never reaches a preview; Cancel sends nothing
    assert "too long" in await say_for(bot, ADMIN_ID, "/broadcast " + "x" * 3501, "too long")
    since = bot.api.mark()
    await bot.say(ADMIN_ID, "/broadcast Maintenance <soon> & more")
    preview = await bot.api.wait_for(
        "sendMessage", lambda r: "from the admins" in str(r.params.get("text")), since=since
    )
    assert "Maintenance &lt;soon&gt; &amp; more" in preview.params["text"]
    await tap_for(bot, ADMIN_ID, preview, "Cancel", "Cancelled: nothing was sent.")
    assert [r for r in await outbox.list_rows(db_of(bot)) if r.kind == "broadcast"] == []
    # /halt when already halted needs no question
    since = bot.api.mark()
    await bot.send(ADMIN_ID, "/halt")
    question = await bot.api.wait_for(
        "sendMessage", lambda r: "Halt trading" in str(r.params.get("text")), since=since
    )
    await tap_for(bot, ADMIN_ID, question, "Yes", "Global halt is on")
    assert await users.is_halted(db_of(bot))
    assert "already halted" in await say_for(bot, ADMIN_ID, "/halt", "already halted")
