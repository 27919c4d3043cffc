"""/bound end to end through the real python-telegram-bot and the fake Bot API."""

from __future__ import annotations

from nija_tg.core.models import Role
from nija_tg.storage import outbox, settings_repo, users
from tests.handlers.harness import ADMIN_ID
from tests.handlers.tap import say_for
from tests.outbox_text import text_of

ALICE, BOB = 2201, 2202


def _db(bot):
    return bot.services.users.db


async def test_admin_sets_lists_and_lifts_bounds_and_users_see_them(bot):
    for uid in (ADMIN_ID, ALICE, BOB):
        await bot.say(uid, "/start")
    assert "900 USD" in await bot.say(ALICE, "/set max_position_usd 900")
    listing = await bot.say(ADMIN_ID, "/bound")
    assert "No bounds are set" not in listing  # leverage is bounded at 5x by default
    assert "everyone: leverage_cap ..5 (default)" in listing
    text = await bot.say(ADMIN_ID, "/bound max_position_usd ..500")
    assert "Bound set for everyone: <b>max_position_usd</b> ..500." in text
    assert "Settings moved inside it for 1 user; they were told." in text  # Alice only
    assert (await settings_repo.load(_db(bot), ALICE)).max_position_usd == 500
    rows = [r for r in await outbox.list_rows(_db(bot), user_id=ALICE) if r.kind == "info"]
    assert len(rows) == 1 and "max_position_usd: 900 → 500" in text_of(rows[0])
    # the user's own /set now stops at the bound
    # (the bot delivers Alice's notice to the same chat: it may come before this answer)
    said = await say_for(bot, ALICE, "/set max_position_usd 600", "between 10 and 500")
    assert "between 10 and 500" in said
    text = await bot.say(ADMIN_ID, f"/bound allowed_pairs BTC, ETH {BOB}")
    assert f"Bound set for user <code>{BOB}</code>: <b>allowed_pairs</b> BTC, ETH." in text
    assert (await settings_repo.load(_db(bot), BOB)).allowed_pairs == ("BTC", "ETH")
    listing = await bot.say(ADMIN_ID, "/bound")
    assert "everyone: leverage_cap ..5 (default)" in listing
    assert "everyone: max_position_usd ..500" in listing
    assert f"user {BOB}: allowed_pairs BTC, ETH" in listing
    lifted = await bot.say(ADMIN_ID, "/bound max_position_usd off all")
    assert lifted == "Bound on <b>max_position_usd</b> lifted for everyone."
    assert "700 USD" in await say_for(bot, ALICE, "/set max_position_usd 700", "700 USD")


async def test_bad_bounds_get_a_clear_reply_and_change_nothing(bot):
    for uid in (ADMIN_ID, ALICE):
        await bot.say(uid, "/start")
    replies = {
        "/bound max_position_usd lots": "range like 1..3",
        "/bound <b>x</b> 1..2": "Unknown setting",
        "/bound leverage_cap 0..0": "only be narrowed within 1..50",
        "/bound leverage_cap 1..2 424242": "No user with id 424242",
        "/bound max_position_usd": "Usage: /bound",
    }
    for command, says in replies.items():
        record = await bot.ask(ADMIN_ID, command)
        assert record.ok, record.error  # valid HTML for Telegram
        assert says in record.params["text"], command
    listing = await bot.say(ADMIN_ID, "/bound")
    assert listing.splitlines()[1:2] == ["everyone: leverage_cap ..5 (default)"]
    assert (await settings_repo.load(_db(bot), ALICE)).leverage_cap == 5


async def test_traders_cannot_set_bounds(bot):
    await bot.say(ALICE, "/start")
    async with _db(bot).transaction() as tx:
        await users.set_role(tx, ALICE, Role.TRADER)
    assert await bot.say(ALICE, "/bound max_position_usd ..20") == "That command is for admins."
    assert (await settings_repo.load(_db(bot), ALICE)).max_position_usd == 300


async def test_the_default_leverage_bound_is_listed_replaced_and_back_after_a_lift(bot):
    """/bound with no arguments shows the bounds in effect, the default 5x leverage
    ceiling included, and how to widen it; an admin's bound replaces it; lifting that
    bound says the default holds again (and the user's /set stops at 5 again)."""
    for uid in (ADMIN_ID, ALICE):
        await bot.say(uid, "/start")
    record = await bot.ask(ADMIN_ID, "/bound")
    assert record.ok, record.error  # valid HTML
    listing = record.params["text"]
    assert "everyone: leverage_cap ..5 (default)" in listing
    assert "/bound leverage_cap ..20" in listing
    await bot.say(ADMIN_ID, "/bound leverage_cap ..20")
    listing = await bot.say(ADMIN_ID, "/bound")
    assert "everyone: leverage_cap ..20" in listing and "(default)" not in listing
    assert "10x" in await say_for(bot, ALICE, "/set leverage_cap 10", "10x")
    lifted = await bot.say(ADMIN_ID, "/bound leverage_cap off")
    assert "lifted for everyone" in lifted and "default bound holds again: ..5" in lifted
    assert (await settings_repo.load(_db(bot), ALICE)).leverage_cap == 5
    assert "everyone: leverage_cap ..5 (default)" in await bot.say(ADMIN_ID, "/bound")
