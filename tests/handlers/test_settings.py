"""End to end: /settings, /set, /preset, /pairs, /notify and /forget through the real bot."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.core.models import Role
from nija_tg.core.risk_settings import Bound, RiskSettings
from nija_tg.handlers.callback_data import ForgetButton
from nija_tg.messages.render import setting_change_text
from nija_tg.storage import audit, credentials, outbox, settings_repo, users
from tests.handlers.harness import ADMIN_ID

ALICE = 2101
BOB = 2102
VERA = 2103  # a viewer

DEFAULTS = RiskSettings().to_dict()
FORGET_YES, FORGET_NO = ForgetButton("yes").pack(), ForgetButton("no").pack()


async def say(bot, uid: int, text: str) -> str:
    record = await bot.ask(uid, text)
    assert record.ok, record.error  # the fake Bot API parsed our HTML
    return str(record.params["text"])


async def press_answer(bot, uid: int, data: str, message_id: int, chat_id: int | None = None):
    """Press a button and return the bot's answerCallbackQuery."""
    since = bot.api.mark()
    bot.api.user_callback(uid, data, message_id=message_id, chat_id=chat_id)
    record = await bot.api.wait_for("answerCallbackQuery", since=since, timeout=10)
    assert record.ok
    return record


async def stored(bot, uid: int) -> dict:
    return (await settings_repo.load(bot.services.users.db, uid)).to_dict()


async def registered(bot, *uids: int) -> None:
    for uid in uids:
        await say(bot, uid, "/start")


# --- /settings and /set ------------------------------------------------------------------


async def test_settings_overview_is_short_and_tappable(bot):
    await registered(bot, ALICE)
    record = await bot.ask(ALICE, "/settings")
    text = record.params["text"]
    assert "Max position size: <b>300 USD</b>" in text
    assert "Strategy: <b>adx_trend</b>" in text and "Tap a setting" in text
    assert "max_position_usd" not in text  # no snake_case names to type
    assert text.count("\n") < 20 and len(text) < 800  # was 48 lines, 2,038 characters
    labels = [b["text"] for row in record.params["reply_markup"]["inline_keyboard"] for b in row]
    assert "Max position size" in labels and "🧠 Strategy parameters ›" in labels
    assert "Usage: /settings" in await say(bot, ALICE, "/settings please")


async def test_set_changes_one_value_and_is_audited(bot):
    await registered(bot, ALICE)
    text = await say(bot, ALICE, "/set max_position_usd 250")
    assert "300 USD → <b>250 USD</b>" in text
    assert (await stored(bot, ALICE))["max_position_usd"] == "250"
    assert "7 → <b>3</b>" in await say(bot, ALICE, "/set max_open_positions 3")
    assert "<b>hedge</b>" in await say(bot, ALICE, "/set position_mode hedge")
    assert "<b>off</b>" in await say(bot, ALICE, "/set trailing_stop off")
    assert "<b>30</b>" in await say(bot, ALICE, "/set strategy.adx_threshold 30")
    assert "already 30" in await say(bot, ALICE, "/set adx_threshold 30")
    saved = await stored(bot, ALICE)
    assert saved["max_open_positions"] == 3 and saved["position_mode"] == "hedge"
    assert saved["trailing_stop"] is False
    assert saved["strategy_params"]["adx_threshold"] == 30.0
    rows = await audit.for_user(bot.services.users.db, ALICE, limit=50)
    sets = [r for r in rows if r.action == "settings.set"]
    assert len(sets) == 5
    assert any(r.detail == {"name": "max_position_usd", "old": "300", "new": "250"} for r in sets)
    assert "10 to 100,000 USD" in await say(bot, ALICE, "/set max_position_usd")


MALFORMED = [
    ("/set", "Usage: /set"),
    ("/set max_position_usd", "10 to 100,000 USD"),
    ("/set no_such_setting 5", "Unknown setting 'no_such_setting'"),
    ("/set max_position_usd NaN", "between 10 and 100,000"),
    ("/set max_position_usd nan", "between 10 and 100,000"),
    ("/set max_position_usd inf", "between 10 and 100,000"),
    ("/set max_position_usd -Infinity", "between 10 and 100,000"),
    ("/set max_position_usd -1", "between 10 and 100,000"),
    ("/set max_position_usd 1e309", "between 10 and 100,000"),
    ("/set max_position_usd 1e3", "between 10 and 100,000"),
    ("/set max_position_usd abc", "between 10 and 100,000"),
    ("/set max_position_usd " + "💥ж" * 100, "between 10 and 100,000"),
    ("/set max_position_usd 25\u200b0", "between 10 and 100,000"),
    ("/set max_position_usd \u200b", "between 10 and 100,000"),
    ("/set max_position_usd ٢٥٠", "between 10 and 100,000"),
    ("/set max_position_usd 1,5", "between 10 and 100,000"),  # a decimal comma
    ("/set max_position_usd 1,0000", "between 10 and 100,000"),
    ("/set max_position_usd 9.99", "between 10 and 100,000"),
    ("/set max_position_usd 100000.01", "between 10 and 100,000"),
    ("/set max_position_usd <b>5</b>", "between 10 and 100,000"),
    ("/set max_open_positions 0", "whole number between 1 and 20"),
    ("/set max_open_positions 21", "whole number between 1 and 20"),
    ("/set max_open_positions 2.5", "whole number between 1 and 20"),
    ("/set risk_per_trade_pct 10.5%", "between 0.1 and 10"),
    ("/set leverage_cap 0x", "between 1 and 5"),  # 5x unless an admin bound allows more
    ("/set position_mode sideways", "one_way, hedge"),
    ("/set trailing_stop maybe", "on or off"),
    ("/set strategy.adx_threshold 61", "between 10 and 60"),
    ("/set strategy.adx_threshold 9", "between 10 and 60"),
    ("/set strategy nonsense", "one of: adx_trend"),
    ("/set " + "ж" * 200 + " 5", "Unknown setting"),
    ("/set max_position\u200b_usd 100", "Unknown setting"),
    ("/set <script> 1", "Unknown setting '&lt;script&gt;'"),
]


@pytest.mark.parametrize(("command", "expected"), MALFORMED)
async def test_malformed_set_gets_a_clear_reply_and_changes_nothing(bot, command, expected):
    await registered(bot, ALICE)
    text = await say(bot, ALICE, command)
    assert expected in text
    assert len(text) < 1500
    assert await stored(bot, ALICE) == DEFAULTS


async def test_admin_bounds_narrow_what_set_accepts(bot):
    await registered(bot, ADMIN_ID, ALICE)
    bounds = bot.services.bounds
    await bounds.set_bound(ADMIN_ID, ALICE, "max_position_usd", Bound(hi=Decimal("500")))
    assert "Usage: /set max_position_usd &lt;value&gt; — 10 to 500 USD." in await say(
        bot, ALICE, "/set max_position_usd"
    )
    assert "between 10 and 500" in await say(bot, ALICE, "/set max_position_usd 501")
    assert await stored(bot, ALICE) == DEFAULTS
    assert "<b>500 USD</b>" in await say(bot, ALICE, "/set max_position_usd 500")
    # another user is not affected by Alice's bound
    await registered(bot, BOB)
    assert "<b>900 USD</b>" in await say(bot, BOB, "/set max_position_usd 900")


# --- trade-only and viewers -----------------------------------------------------------------


async def test_trade_only_may_set_risk_limits_and_presets_but_not_strategy(bot):
    await registered(bot, ALICE)
    async with bot.services.users.db.transaction() as tx:
        await users.set_trade_only(tx, ALICE, True)
    for command in ("/set strategy.adx_threshold 30", "/set adx_threshold 30", "/set strategy x"):
        assert "trade-only" in await say(bot, ALICE, command)
    assert await stored(bot, ALICE) == DEFAULTS
    assert "managed by an admin" in await say(bot, ALICE, "/set strategy.adx_threshold")
    settings = await say(bot, ALICE, "/settings")
    assert "trade-only" in settings and "🔒" in settings
    assert "<b>200 USD</b>" in await say(bot, ALICE, "/set max_position_usd 200")
    assert "Preset <b>aggressive</b>" in await say(bot, ALICE, "/preset aggressive")
    assert (await stored(bot, ALICE))["leverage_cap"] == 5  # the seed's 5x cap


async def test_viewer_reads_settings_but_cannot_edit(bot):
    await registered(bot, VERA)
    async with bot.services.users.db.transaction() as tx:
        await users.set_role(tx, VERA, Role.VIEWER)
    assert "Read-only" in await say(bot, VERA, "/settings")
    for command in ("/set max_position_usd 200", "/set", "/preset conservative", "/pairs add XRP"):
        assert "read-only" in await say(bot, VERA, command)
    assert "Read-only" in await say(bot, VERA, "/pairs")
    assert await stored(bot, VERA) == DEFAULTS
    assert "fills</b>: off" in await say(bot, VERA, "/notify fills off")


# --- presets ---------------------------------------------------------------------------------


async def test_preset_shows_what_changed(bot):
    await registered(bot, ALICE)
    text = await say(bot, ALICE, "/preset conservative")
    assert "Preset <b>conservative</b> applied" in text
    assert "<code>max_position_usd</code>: 300 USD → <b>100 USD</b>" in text
    assert "<code>auto_compound</code>: on → <b>off</b>" in text
    assert "max_open_positions" in text and "allowed_pairs" not in text
    saved = await stored(bot, ALICE)
    assert saved["max_position_usd"] == "100" and saved["auto_compound"] is False
    assert "already match" in await say(bot, ALICE, "/preset Conservative")
    assert "Tap one to apply it" in await say(bot, ALICE, "/preset")  # the buttons
    assert "Usage: /preset" in await say(bot, ALICE, "/preset a b")
    assert "Preset must be one of" in await say(bot, ALICE, "/preset yolo")
    assert (await stored(bot, ALICE)) == saved
    assert "100 USD → <b>300 USD</b>" in await say(bot, ALICE, "/preset moderate")


# --- pairs -------------------------------------------------------------------------------------


async def test_pairs_show_add_remove(bot):
    await registered(bot, ALICE)
    text = await say(bot, ALICE, "/pairs")
    assert "BTC, ETH, SOL, AVAX, POL, DOT, LINK, ADA" in text
    assert "Each traded against <b>USD</b> on Kraken" in text  # paper, no key: Kraken
    assert "Added: XRP" in await say(bot, ALICE, "/pairs add xrp")
    text = await say(bot, ALICE, "/pairs remove ADA DOT")
    assert "Removed: ADA, DOT" in text
    assert "BTC, ETH, SOL, AVAX, POL, LINK, XRP" in text
    assert "already in" in await say(bot, ALICE, "/pairs add BTC")
    assert "not in" in await say(bot, ALICE, "/pairs remove DOGE")
    assert (await stored(bot, ALICE))["allowed_pairs"] == [
        "BTC", "ETH", "SOL", "AVAX", "POL", "LINK", "XRP",
    ]  # fmt: skip
    audits = await audit.for_user(bot.services.users.db, ALICE, limit=50)
    assert any(r.detail.get("name") == "allowed_pairs" for r in audits)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/pairs add", "Usage: /pairs"),
        ("/pairs frobnicate SOL", "Usage: /pairs"),
        ("/pairs add B$C", "asset symbols"),
        ("/pairs add BTC/EUR", "asset symbols"),
        ("/pairs add " + "Ж" * 200, "asset symbols"),
        ("/pairs add " + " ".join(["X"] * 30), "Usage: /pairs"),
        ("/pairs remove BTC ETH SOL AVAX POL DOT LINK ADA", "1 to 50"),
    ],
)
async def test_pairs_malformed(bot, command, expected):
    await registered(bot, ALICE)
    assert expected in await say(bot, ALICE, command)
    assert await stored(bot, ALICE) == DEFAULTS


async def test_pairs_within_admin_permitted_list(bot):
    await registered(bot, ADMIN_ID, ALICE)
    permitted = Bound(choices=frozenset({"BTC", "ETH", "SOL", "XRP"}))
    change = await bot.services.bounds.set_bound(ADMIN_ID, ALICE, "allowed_pairs", permitted)
    assert [setting_change_text(c) for c in change.clamped[ALICE]] == [
        "allowed_pairs: BTC, ETH, SOL, AVAX, POL, DOT, LINK, ADA → BTC, ETH, SOL"
    ]  # the defaults outside the permitted list are gone at once
    assert "permits: BTC, ETH, SOL, XRP" in await say(bot, ALICE, "/pairs")
    assert "DOGE is not permitted" in await say(bot, ALICE, "/pairs add DOGE")
    assert (await stored(bot, ALICE))["allowed_pairs"] == ["BTC", "ETH", "SOL"]
    assert "Added: XRP" in await say(bot, ALICE, "/pairs add XRP")


# --- notifications ------------------------------------------------------------------------------


async def enqueue(bot, uid: int, kind: str) -> int | None:
    async with bot.services.users.db.transaction() as tx:
        return await outbox.enqueue(tx, uid, kind, f"a {kind} happened")


async def test_notify_show_and_change_prefs(bot):
    await registered(bot, ALICE)
    text = await say(bot, ALICE, "/notify")
    for group in outbox.GROUPS:
        assert f"<b>{group}</b>: on" in text
    text = await say(bot, ALICE, "/notify fills off")
    assert "<b>fills</b>: off" in text and "<b>stops</b>: on" in text
    assert await enqueue(bot, ALICE, "fill") is None  # an 'off' group is not written
    assert await enqueue(bot, ALICE, "stop") is not None
    await say(bot, ALICE, "/notify stop SILENT")
    row_id = await enqueue(bot, ALICE, "take_profit")
    row = await outbox.get(bot.services.users.db, row_id)
    assert row is not None and row.silent
    await say(bot, ALICE, "/notify all off")
    for kind in ("fill", "stop", "halt", "error", "summary"):
        assert await enqueue(bot, ALICE, kind) is None
    assert await enqueue(bot, ALICE, "broadcast") is not None  # service messages always
    await say(bot, ALICE, "/notify all on")
    assert await enqueue(bot, ALICE, "fill") is not None
    user = await bot.services.users.get(ALICE)
    assert user is not None and user.notify_prefs["fills"] == "on"


@pytest.mark.parametrize(
    "command",
    [
        "/notify fills",
        "/notify fills loud",
        "/notify bogus on",
        "/notify a b c",
        "/notify " + "ж" * 200 + " on",
        "/notify fills\u200b off",
        "/notify fills ٠ff",
    ],
)
async def test_notify_malformed(bot, command):
    await registered(bot, ALICE)
    await say(bot, ALICE, "/notify errors silent")
    assert "Usage: /notify" in await say(bot, ALICE, command)
    user = await bot.services.users.get(ALICE)
    assert user is not None and user.notify_prefs["errors"] == "silent"
    assert user.notify_prefs["fills"] == "on"


# --- /forget -------------------------------------------------------------------------------------


async def arrange_trader(bot, uid: int) -> None:
    await registered(bot, uid)
    await say(bot, uid, "/set max_position_usd 123")
    async with bot.services.users.db.transaction() as tx:
        await credentials.store(tx, uid, "kraken", b"ciphertext", "abcd", verified=True)
        await users.set_trading(tx, uid, True)


async def test_forget_yes_erases_everything(bot):
    await arrange_trader(bot, ALICE)
    db = bot.services.users.db
    record = await bot.ask(ALICE, "/forget")
    buttons = record.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == [FORGET_YES, FORGET_NO]
    assert buttons[0]["text"] == "Yes, erase everything"
    done = await bot.press(ALICE, FORGET_YES, record.result["message_id"])
    assert "Everything is erased" in done.params["text"] and "/start" in done.params["text"]
    assert await users.get_user(db, ALICE) is None
    assert await credentials.get(db, ALICE) is None
    assert ALICE not in await users.trading_user_ids(db)
    assert await stored(bot, ALICE) == DEFAULTS  # settings row gone with the user
    rows = await audit.recent(db, limit=200)
    [forget] = [r for r in rows if r.action == "user.forget"]
    assert str(forget.target_id).startswith("forgotten:")  # the id is gone from the audit
    assert not any(ALICE in (r.actor_id, r.target_id) for r in rows)
    # pressing the old button again: the user is gone, nothing breaks
    again = await press_answer(bot, ALICE, FORGET_YES, record.result["message_id"])
    assert again.ok
    assert "registered as" in await say(bot, ALICE, "/start")
    assert (await stored(bot, ALICE)) == DEFAULTS


async def test_forget_cancel_keeps_everything(bot):
    await arrange_trader(bot, ALICE)
    record = await bot.ask(ALICE, "/forget")
    done = await bot.press(ALICE, FORGET_NO, record.result["message_id"])
    assert "nothing was erased" in done.params["text"]
    assert await bot.services.users.get(ALICE) is not None
    assert await credentials.get(bot.services.users.db, ALICE) is not None
    # the used-up button does nothing any more
    stale = await press_answer(bot, ALICE, FORGET_YES, record.result["message_id"])
    assert "not for you" in stale.params["text"]
    assert await bot.services.users.get(ALICE) is not None


async def test_another_users_press_does_nothing_to_the_first_user(bot):
    await arrange_trader(bot, ALICE)
    await registered(bot, BOB)
    record = await bot.ask(ALICE, "/forget")
    message_id = record.result["message_id"]
    answer = await press_answer(bot, BOB, FORGET_YES, message_id, chat_id=ALICE)
    assert "not for you" in answer.params["text"]
    assert await bot.services.users.get(ALICE) is not None
    assert await bot.services.users.get(BOB) is not None
    assert await credentials.get(bot.services.users.db, ALICE) is not None
    assert (await stored(bot, ALICE))["max_position_usd"] == "123"
    # Bob's own fresh confirmation does not unlock Alice's button either
    await bot.ask(BOB, "/forget")
    answer = await press_answer(bot, BOB, FORGET_YES, message_id, chat_id=ALICE)
    assert "not for you" in answer.params["text"]
    assert await bot.services.users.get(ALICE) is not None
    # Alice's own press still works afterwards
    done = await bot.press(ALICE, FORGET_YES, message_id)
    assert "Everything is erased" in done.params["text"]
    assert await bot.services.users.get(ALICE) is None
    assert await bot.services.users.get(BOB) is not None


async def test_forget_with_arguments_gets_usage(bot):
    await registered(bot, ALICE)
    assert "Usage: /forget" in await say(bot, ALICE, "/forget now please")
    assert await bot.services.users.get(ALICE) is not None
