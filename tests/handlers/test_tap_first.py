"""Tap-first (issue 14 item 3) end to end through the real Application and the fake Bot
API: the reply keyboard, /pnl period buttons, the inline settings editor, /preset and
/notify buttons; old, forged and foreign buttons act on nothing."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.models import Role
from nija_tg.core.risk_settings import Bound
from nija_tg.handlers import keyboard
from nija_tg.handlers.callback_data import (
    NotifyButton,
    PnlButton,
    PresetButton,
    SettingPickButton,
    SettingValueButton,
)
from nija_tg.messages.common import EXPIRED_BUTTON
from nija_tg.storage import audit, credentials, settings_repo, users
from tests.handlers.harness import ADMIN_ID
from tests.handlers.tap import answer_of, buttons, data_of, message_id, tap
from tests.handlers.test_reports import db_of, register, trader_with_data

TRADER, VIEWER, OTHER = 2001, 2003, 2004
NOT_VISIBLE = "No such user, or you may not see them."


async def stored(bot, uid: int):
    return await settings_repo.load(db_of(bot), uid)


def reply_keyboard(record) -> list[str]:
    markup = record.params.get("reply_markup") or {}
    return [b["text"] if isinstance(b, dict) else b for row in markup["keyboard"] for b in row]


# --- the reply keyboard -------------------------------------------------------------------


async def test_welcome_brings_the_reply_keyboard_and_its_texts_route_to_the_reports(bot):
    welcome = await bot.ask(TRADER, "/start")
    assert "Welcome" in welcome.params["text"]
    assert reply_keyboard(welcome) == list(keyboard.LABELS)
    assert welcome.params["reply_markup"]["is_persistent"] is True
    await trader_with_data(bot)
    assert "📊 <b>Dashboard</b>" in await bot.say(TRADER, "📊 Status")
    assert "📂 <b>Open positions</b>" in await bot.say(TRADER, "📂 Positions")
    assert "P&amp;L — today" in await bot.say(TRADER, "📈 P&L")
    assert "⚙️ <b>Your settings</b>" in await bot.say(TRADER, "⚙️ Settings")
    # near misses are not buttons
    assert "commands only" in await bot.say(TRADER, "📊 Status please")


async def test_returning_user_gets_the_keyboard_once_and_help_carries_it(bot):
    await register(bot, TRADER)
    await bot.settle()
    bot.app.user_data[TRADER].clear()  # as after a restart of the bot
    since = bot.api.mark()
    await bot.say(TRADER, "/start")  # the dashboard
    note = await bot.api.wait_for(
        "sendMessage", lambda r: "Quick buttons" in str(r.params.get("text")), since=since
    )
    assert reply_keyboard(note) == list(keyboard.LABELS)
    since = bot.api.mark()
    await bot.say(TRADER, "/start")
    await bot.settle(1.5)
    assert not any("Quick buttons" in t for t in bot.texts(TRADER, since=since))
    help_ = await bot.ask(TRADER, "/help")
    assert reply_keyboard(help_) == list(keyboard.LABELS)


async def test_keyboard_texts_from_strangers_go_nowhere(bot):
    assert "Please send /start" in await bot.say(OTHER, "📊 Status")


async def test_a_keyboard_tap_during_connect_is_not_taken_for_a_key(bot):
    await register(bot, TRADER)
    await bot.say(TRADER, "/connect kraken")
    since = bot.api.mark()
    await bot.send(TRADER, "📊 Status")
    # (the update processor deletes every non-command text at the credential step as it
    # arrives, this one too: harmless, and the tap still reaches the dashboard)
    dashboard = await bot.next(TRADER, since=since)
    assert "📊 <b>Dashboard</b>" in dashboard.params["text"]
    assert "connect" in bot.app.user_data[TRADER]  # still waiting for the key
    assert await credentials.get(db_of(bot), TRADER) is None


# --- /pnl period buttons ------------------------------------------------------------------


async def test_pnl_period_buttons_edit_the_report_in_place(bot):
    await trader_with_data(bot)
    record = await bot.ask(TRADER, "/pnl")
    labels = [text for text, _ in buttons(record)]
    assert labels[:4] == ["• Today", "Week", "Month", "All"] and "🖼 Chart" in labels
    edit = await tap(bot, TRADER, record, "Week", method="editMessageText")
    assert edit.params["message_id"] == message_id(record)
    assert "P&amp;L — this week" in edit.params["text"] and "Trades: 3" in edit.params["text"]
    assert ("• Week", PnlButton("week").pack()) in buttons(edit)
    since = bot.api.mark()
    await bot.press(TRADER, data_of(edit, "🖼 Chart"), message_id(record), method="sendPhoto")
    photo = await bot.next(TRADER, since=since, method="sendPhoto")
    assert "Equity — this week" in photo.params["caption"]


async def test_pnl_buttons_old_foreign_and_malformed(bot):
    await trader_with_data(bot)
    await register(bot, VIEWER, Role.VIEWER)
    record = await bot.ask(TRADER, "/pnl")
    for stale in ("pnl:0:week:text:", "pnl:1:year:text:", "pnl:1:week:text:0", "pnl:week"):
        answer = await answer_of(bot, TRADER, stale, message_id(record))
        assert answer.params["text"] == EXPIRED_BUTTON
    # a viewer forging a button for a trader not granted to them
    own = await bot.ask(VIEWER, "/pnl")
    forged = PnlButton("all", "text", TRADER).pack()
    answer = await answer_of(bot, VIEWER, forged, message_id(own))
    assert answer.params["text"] == NOT_VISIBLE
    assert "12,345" not in str(bot.api.sent_to(VIEWER, "editMessageText"))
    async with db_of(bot).transaction() as tx:
        await users.grant(tx, VIEWER, TRADER, ADMIN_ID)
    viewed = await bot.ask(VIEWER, f"/pnl week {TRADER}")
    edit = await tap(bot, VIEWER, viewed, "Month", method="editMessageText")
    assert f"({TRADER})" in edit.params["text"] and "this month" in edit.params["text"]


# --- the settings editor ----------------------------------------------------------------


async def test_settings_editor_steps_presets_and_saving(bot):
    await register(bot, TRADER)
    overview = await bot.ask(TRADER, "/settings")
    editor = await tap(bot, TRADER, overview, "Max position size", method="editMessageText")
    text = editor.params["text"]
    assert "Now: <b>300 USD</b>" in text and "Allowed: 10 to 100,000 USD" in text
    labels = [t for t, _ in buttons(editor)]
    assert labels[:4] == ["-250 → 50", "-50 → 250", "+50 → 350", "+250 → 550"]
    assert "• moderate 300" in labels and "conservative 100" in labels and "‹ Back" in labels
    saved = await tap(bot, TRADER, editor, "+50 → 350", method="editMessageText")
    assert "✅ Saved: 300 USD → <b>350 USD</b>" in saved.params["text"]
    assert "Now: <b>350 USD</b>" in saved.params["text"]
    assert (await stored(bot, TRADER)).max_position_usd == Decimal("350")
    [row] = [r for r in await audit.recent(db_of(bot), 20) if r.action == "settings.set"]
    assert row.detail == {"name": "max_position_usd", "old": "300", "new": "350"}
    saved = await tap(bot, TRADER, saved, "aggressive 1,000", method="editMessageText")
    assert (await stored(bot, TRADER)).max_position_usd == Decimal("1000")
    back = await tap(bot, TRADER, saved, "‹ Back", method="editMessageText")
    assert "Max position size: <b>1,000 USD</b>" in back.params["text"]


async def test_settings_editor_choices_and_strategy_page(bot):
    await register(bot, TRADER)
    overview = await bot.ask(TRADER, "/settings")
    editor = await tap(bot, TRADER, overview, "Position mode", method="editMessageText")
    assert [t for t, _ in buttons(editor)][:2] == ["• one_way", "hedge"]
    saved = await tap(bot, TRADER, editor, "hedge", method="editMessageText")
    assert (await stored(bot, TRADER)).position_mode == "hedge"
    assert "• hedge" in [t for t, _ in buttons(saved)]
    page = await tap(bot, TRADER, overview, "🧠 Strategy", method="editMessageText")
    assert "🧠 <b>Strategy</b>" in page.params["text"] and "adx threshold" in page.params["text"]
    param = await tap(bot, TRADER, page, "adx threshold", method="editMessageText")
    assert "Allowed: 10 to 60" in param.params["text"]
    await tap(bot, TRADER, param, "+1 → 26", method="editMessageText")
    assert (await stored(bot, TRADER)).strategy_params.adx_threshold == 26


async def test_settings_editor_respects_admin_bounds_and_refuses_forged_values(bot):
    await register(bot, ADMIN_ID)
    await register(bot, TRADER)
    bound = Bound(hi=Decimal("500"))
    await bot.services.bounds.set_bound(ADMIN_ID, TRADER, "max_position_usd", bound)
    overview = await bot.ask(TRADER, "/settings")
    editor = await tap(bot, TRADER, overview, "Max position size", method="editMessageText")
    assert "Allowed: 10 to 500 USD" in editor.params["text"]
    labels = [t for t, _ in buttons(editor)]
    assert "+200 → 500" in labels and "aggressive 500" in labels
    assert not any(label.endswith("550") or "1,000" in label for label in labels)
    for value in ("900", "1e9", "5"):  # the grammar takes them; the bounds do not
        forged = SettingValueButton(value, "max_position_usd").pack()
        answer = await answer_of(bot, TRADER, forged, message_id(editor))
        assert "between 10 and 500" in answer.params["text"] and answer.params["show_alert"]
    assert (await stored(bot, TRADER)).max_position_usd == Decimal("300")
    for bad in (
        "setval:1:-5:max_position_usd",
        "setval:1:<b>:max_position_usd",
        "setval:0:350:max_position_usd",
        "setpick:1:Max_Position",
    ):
        answer = await answer_of(bot, TRADER, bad, message_id(editor))
        assert answer.params["text"] == EXPIRED_BUTTON
    unknown = await answer_of(
        bot, TRADER, SettingPickButton("no_such_thing").pack(), message_id(editor)
    )
    assert "Unknown setting" in unknown.params["text"]
    assert (await stored(bot, TRADER)).max_position_usd == Decimal("300")


async def test_viewers_and_trade_only_users_cannot_edit_by_button(bot):
    await register(bot, VIEWER, Role.VIEWER)
    overview = await bot.ask(VIEWER, "/settings")
    assert "Read-only" in overview.params["text"]
    assert not any(d.startswith("setpick") for _, d in buttons(overview))
    for data in (
        SettingValueButton("200", "max_position_usd").pack(),
        PresetButton("aggressive").pack(),
    ):
        answer = await answer_of(bot, VIEWER, data, message_id(overview))
        assert "read-only" in answer.params["text"].lower()
    assert (await stored(bot, VIEWER)).max_position_usd == Decimal("300")
    await register(bot, TRADER)
    async with db_of(bot).transaction() as tx:
        await users.set_trade_only(tx, TRADER, True)
    overview = await bot.ask(TRADER, "/settings")
    forged = SettingValueButton("30", "strategy.adx_threshold").pack()
    answer = await answer_of(bot, TRADER, forged, message_id(overview))
    assert "trade-only" in answer.params["text"]
    assert (await stored(bot, TRADER)).strategy_params.adx_threshold != 30


# --- /preset and /notify buttons ---------------------------------------------------------


async def test_preset_buttons_apply_and_show_what_changed(bot):
    await register(bot, TRADER)
    menu = await bot.ask(TRADER, "/preset")
    assert [t for t, _ in buttons(menu)] == ["Conservative", "Moderate", "Aggressive"]
    edit = await tap(bot, TRADER, menu, "Conservative", method="editMessageText")
    assert "Preset <b>conservative</b> applied" in edit.params["text"]
    assert "300 USD → <b>100 USD</b>" in edit.params["text"]
    assert (await stored(bot, TRADER)).max_position_usd == Decimal("100")
    again = await tap(bot, TRADER, edit, "Conservative", method="editMessageText")
    assert "already match" in again.params["text"]
    answer = await answer_of(bot, TRADER, "preset:1:yolo", message_id(menu))
    assert answer.params["text"] == EXPIRED_BUTTON


async def test_notify_buttons_set_a_group_in_place(bot):
    await register(bot, TRADER)
    record = await bot.ask(TRADER, "/notify")
    assert "• fills 🔔" in [t for t, _ in buttons(record)]
    edit = await tap(bot, TRADER, record, "fills 🔕", method="editMessageText")
    assert edit.params["message_id"] == message_id(record)
    assert "<b>fills</b>: silent" in edit.params["text"]
    assert (await bot.services.users.get(TRADER)).notify_prefs["fills"] == "silent"
    edit = await tap(bot, TRADER, edit, "all ⛔", method="editMessageText")
    prefs = (await bot.services.users.get(TRADER)).notify_prefs
    assert set(prefs.values()) == {"off"} and "• all ⛔" in [t for t, _ in buttons(edit)]
    for bad in ("notify:1:fills:loud", "notify:1:bogus:on", "notify:2:fills:on"):
        answer = await answer_of(bot, TRADER, bad, message_id(record))
        assert answer.params["text"] == EXPIRED_BUTTON
    assert NotifyButton("fills", "on").pack() == "notify:1:fills:on"
    assert (await bot.services.users.get(TRADER)).notify_prefs["fills"] == "off"
    # also a page of /settings (viewers too: notifications are their own)
    await register(bot, VIEWER, Role.VIEWER)
    overview = await bot.ask(VIEWER, "/settings")
    viewer_page = await tap(bot, VIEWER, overview, "🔔 Notifications", method="editMessageText")
    assert "<b>fills</b>: on" in viewer_page.params["text"]
    overview = await bot.ask(TRADER, "/settings")
    notify_page = await tap(bot, TRADER, overview, "🔔 Notifications", method="editMessageText")
    assert "<b>fills</b>: off" in notify_page.params["text"]
