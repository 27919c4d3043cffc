"""Cross-user access (reliability item 5): other traders and viewers without a grant
replay every command and every button with the victim's user id, order id, session id
and message ids. Nothing of the victim's reaches them; nothing of the victim's changes.

Commands come from ``ADMIN_COMMANDS`` and every CommandHandler of the real Application;
button data comes from every CallbackQueryHandler pattern (conversations included), so a
new command or button is covered without touching this file.
"""

from __future__ import annotations

import copy
import itertools

import pytest

from nija_tg.core.models import Role
from nija_tg.storage import users
from tests.handlers.harness import ADMIN_ID, start_bot, stop_bot
from tests.security import arrange
from tests.security.conftest import (
    FAST_ENV,
    all_commands,
    callback_patterns,
    concrete_data,
    converse,
    db_of,
    in_parallel,
    press_all,
    register,
    request_text,
    vault_of,
)

VICTIM = 424242
UNKNOWN = 939393  # never registered: must get the very answer the victim's id gets
TRADERS = [610_001 + i for i in range(16)]
VIEWERS = [620_001 + i for i in range(16)]
GRANTED_VIEWER, GRANTED_TRADER = VIEWERS[0], TRADERS[0]  # a grant, but not to the victim
VARIANTS = ("{V}", "{O}", "{S}", "{V} {V}", "10 {V}", "all {V}", "{V} viewer", "{A} {V}", "{V} {A}")
REPORTS = ("status", "balance", "positions", "trades", "pnl", "sessions")


@pytest.fixture
async def bot(data_dir):
    harness = await start_bot(data_dir, **FAST_ENV)
    try:
        yield harness
    finally:
        await stop_bot(harness)


def _attackers() -> list[int]:
    return TRADERS + VIEWERS


async def _victim_with_buttons(bot) -> arrange.VictimIds:
    """The victim registers, gets data everywhere, and opens every kind of button."""
    await bot.say(VICTIM, "/start", first_name=arrange.FIRST_NAME, username=arrange.USERNAME)
    ids = await arrange.arrange_victim(db_of(bot), vault_of(bot), VICTIM)
    for text in ("/status", "/mode live", "/forget", "/connect"):
        await bot.say(VICTIM, text, first_name=arrange.FIRST_NAME, username=arrange.USERNAME)
    await bot.settle(0.5)
    sent = [r for r in bot.api.sent_to(VICTIM) if isinstance(r.result, dict)]
    ids.message_ids.extend(int(r.result["message_id"]) for r in sent)
    return ids


async def _attackers_registered(bot) -> None:
    await register(bot, _attackers())
    async with db_of(bot).transaction() as tx:
        for uid in VIEWERS:
            await users.set_role(tx, uid, Role.VIEWER)
        await users.grant(tx, GRANTED_VIEWER, GRANTED_TRADER, ADMIN_ID)


def _command_inputs(bot, ids: arrange.VictimIds) -> list[tuple[str, str]]:
    """(command, argument template) for every command and variant."""
    return [(cmd, v) for cmd in all_commands(bot.app) for v in VARIANTS]


def _fill(template: str, ids: arrange.VictimIds, attacker: int) -> str:
    return template.format(V=ids.user_id, O=ids.order_id, S=ids.session_id, A=attacker)


def _button_data(bot, ids: arrange.VictimIds) -> list[str]:
    numbers = [ids.user_id, ids.session_id, ids.order_id, ids.fill_id, *ids.outbox_ids]
    data: list[str] = []
    for pattern in callback_patterns(bot.app):
        found = concrete_data(pattern, numbers)
        assert found, f"no concrete callback data for {pattern!r}"
        data += [d for d in found if d not in data]
    for record in bot.api.sent_to(VICTIM):  # the victim's very buttons, replayed
        markup = record.params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for button in row:
                if button.get("callback_data") and button["callback_data"] not in data:
                    data.append(button["callback_data"])
    return data


def _bot_message_ids(bot, chat_id: int) -> list[int]:
    return sorted(
        int(r.result["message_id"])
        for r in bot.api.sent_to(chat_id)
        if isinstance(r.result, dict) and "message_id" in r.result
    )


def _presses_in_own_chat(bot, attacker: int, pairs: list[tuple[str, int]]):
    """Forged data on the attacker's own bot message with the victim's message id (the
    attacker's newest bot message when that id is not one)."""
    own = _bot_message_ids(bot, attacker)
    assert own, f"attacker {attacker} has no bot message to press on"
    return [(data, mid if mid in own else own[-1]) for data, mid in pairs]


def _leaks(bot, since: int) -> list[tuple[str, object, list[str]]]:
    """Every request after ``since`` not addressed to the victim's chat that carries a
    sentinel of the victim's data."""
    found = []
    for r in bot.api.requests[since:]:
        if r.chat_id == VICTIM:
            continue
        hit = arrange.hits(request_text(r.params), arrange.SENTINELS)
        if hit:
            found.append((r.method, r.chat_id, hit))
    return found


async def test_other_users_replaying_the_victims_ids_see_and_change_nothing(bot):
    for uid in _attackers() + [UNKNOWN]:
        assert not arrange.hits(str(uid), arrange.SENTINELS)
    ids = await _victim_with_buttons(bot)
    await _attackers_registered(bot)
    db = db_of(bot)
    before = await arrange.owned_rows(db, VICTIM)
    victim_state = copy.deepcopy(dict(bot.app.user_data.get(VICTIM, {})))
    assert "forget_confirmation" in victim_state
    mark = bot.api.mark()

    # 1. every command, every variant, by a trader and by a viewer
    inputs = _command_inputs(bot, ids)
    scripts: dict[int, list[str]] = {uid: [] for uid in _attackers()}
    for (cmd, template), trader, viewer in zip(
        inputs, itertools.cycle(TRADERS), itertools.cycle(VIEWERS), strict=False
    ):
        scripts[trader].append(f"/{cmd} {_fill(template, ids, trader)}")
        scripts[viewer].append(f"/{cmd} {_fill(template, ids, viewer)}")
    exchanges = await in_parallel(converse(bot, uid, texts) for uid, texts in scripts.items())
    assert len(exchanges) == 2 * len(inputs)
    silent = [(e.user_id, e.text) for e in exchanges if e.reply is None]
    assert not silent, f"no reply to: {silent[:10]}"

    # 2. every button: forged data on the attacker's own messages with the victim's
    #    message ids, then the victim's own messages pressed by a trader and a viewer
    data = _button_data(bot, ids)
    victim_mids = sorted(set(ids.message_ids))
    pairs = [(d, m) for d in data for m in victim_mids]
    jobs = []
    for index, uid in enumerate(_attackers()):
        share = pairs[index % len(TRADERS) :: len(TRADERS)]
        jobs.append(press_all(bot, uid, _presses_in_own_chat(bot, uid, share)))
    on_victim_msgs = [(d, victim_mids[-1]) for d in data]
    for uid in (TRADERS[1], VIEWERS[1]):
        jobs.append(press_all(bot, uid, on_victim_msgs, chat_id=VICTIM))
    await in_parallel(jobs)
    await bot.settle(1.5)

    assert not _leaks(bot, mark)
    assert await arrange.owned_rows(db, VICTIM) == before
    assert dict(bot.app.user_data.get(VICTIM, {})) == victim_state
    assert not bot.api.server_errors

    # positive control: the same sentinels do show where they belong
    assert arrange.hits(" ".join(bot.texts(VICTIM)), ["987,654.32", arrange.KEY_TAIL])
    await register(bot, [ADMIN_ID])
    admin_view = await converse(bot, ADMIN_ID, [f"/status {VICTIM}", f"/trades 5 {VICTIM}"])
    assert arrange.hits(admin_view[0].reply or "", ["987,654.32"])
    assert arrange.hits(admin_view[1].reply or "", ["ZZZ/USDT", "55,555.57"])


async def test_a_forbidden_id_gets_the_same_answer_as_a_missing_one(bot):
    """No existence oracle: the victim's id and an unregistered id read alike."""
    await bot.say(VICTIM, "/start", first_name=arrange.FIRST_NAME, username=arrange.USERNAME)
    await arrange.arrange_victim(db_of(bot), vault_of(bot), VICTIM)
    trader, viewer = TRADERS[0], VIEWERS[0]
    await _attackers_registered_few(bot, trader, viewer)
    mark = bot.api.mark()
    scripts = {
        uid: [f"/{cmd} {target}" for cmd in REPORTS for target in (VICTIM, UNKNOWN)]
        + [f"/trades 5 {target}" for target in (VICTIM, UNKNOWN)]
        for uid in (trader, viewer)
    }
    results = await in_parallel(converse(bot, uid, texts) for uid, texts in scripts.items())
    replies = [e.reply for e in results]
    assert None not in replies
    for victim_reply, unknown_reply in zip(replies[::2], replies[1::2], strict=True):
        assert victim_reply == unknown_reply
    assert not _leaks(bot, mark)


async def _attackers_registered_few(bot, trader: int, viewer: int) -> None:
    await register(bot, [trader, viewer])
    async with db_of(bot).transaction() as tx:
        await users.set_role(tx, viewer, Role.VIEWER)


async def test_a_stale_connect_button_is_still_answered(bot):
    await bot.say(VICTIM, "/start")
    keyboard = await bot.ask(VICTIM, "/connect")
    assert "Cancelled" in await bot.say(VICTIM, "/cancel")
    _, unanswered = await press_all(
        bot, VICTIM, [("connect:ex:kraken", keyboard.result["message_id"])], quiet=5
    )
    assert not unanswered
