"""The reports' part of ``docs/messages.md``: every report renderer called with sample
data (``report_samples``), edge cases included, and every fixed text of the renderer
modules. ``tests/messages/test_catalogue.py`` checks that each public function of these
modules that returns text appears here at least once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from nija_tg.core.models import Role
from nija_tg.core.setting_bounds import Bound
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.core.trading_outcome import Answer as A
from nija_tg.core.trading_outcome import Outcome as TO
from nija_tg.messages import (
    admin_replies,
    admin_reports,
    commands,
    common,
    connect,
    disconnect,
    health,
    onboarding,
    reports,
    setting_values,
    settings,
    trading,
)
from nija_tg.messages import report_samples as s
from nija_tg.messages.reports import EmptyHint

MODULES: tuple[ModuleType, ...] = (
    reports, admin_reports, admin_replies, health, settings, commands, connect, disconnect,
    trading, onboarding, common, setting_values,
)  # fmt: skip
LIMITS = {"trades_max": 100, "daily_max": 90, "sessions_max": 50}
PRESETS = ("conservative", "moderate", "aggressive")
TEMPLATE_FIELD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


@dataclass(frozen=True)
class Sample:
    section: str
    title: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        if self.fn.__name__ == "<lambda>":
            return "button labels (constants)"
        return f"{self.fn.__module__.rsplit('.', 1)[-1]}.{self.fn.__name__}"

    def text(self) -> str:
        out = self.fn(*self.args, **self.kwargs)
        if out is None:
            return "(nothing: no line is shown)"
        if isinstance(out, tuple):  # a command menu: (command, description) pairs
            return "\n".join(f"/{name} — {words}" for name, words in out)
        return str(out)


def _section(title: str, *rows: tuple[Any, ...]) -> list[Sample]:
    return [Sample(title, *row) for row in rows]


STATUS = _section(
    "/status (the dashboard)",
    ("A live trader, two positions (a leveraged short), a last signal", reports.dashboard,
     (s.OWN, s.Dashboard(s.ALICE, open_positions=2, last_signal=s.SIGNAL,
                         realized_today=s.PNL_WEEK.stats, cash_flow_today=s.D("-500")),
      s.Connection(), s.NOW, (), None, [s.LONG_ETH, s.SHORT_SWAP])),
    ("A new paper trader, trading off, no engine data yet", reports.dashboard,
     (s.OWN_PAPER, s.Dashboard(s.PAPER_NEWCOMER, equity=None, today_change=None,
                               updated_at=None), None, s.NOW)),
    ("Seven positions (five shown), the engine stopped reporting, halted", reports.dashboard,
     (s.OWN, s.Dashboard(s.ALICE, halted=True, open_positions=7, today_change=s.D("-812.3"),
                         updated_at=s.NOW - 400),  # the engine's last report (HEALTH_BAD)
      s.Connection(verified=False, reason="EAPI:Invalid nonce <retry>"), s.NOW, (),
      health.stale_data_warning(s.HEALTH_BAD), s.SEVEN)),
    ("An admin looking at a paused user with an odd name", reports.dashboard,
     (s.ADMIN_ON_ODD, s.Dashboard(s.ODD, open_positions=1, equity=s.D("812.005"),
                                  today_change=s.D("-45.5")),
      s.Connection("bingx", "••••xY9z"), s.NOW, (), None, [s.SHORT_SWAP])),
    ("A viewer's own dashboard, with granted traders", reports.dashboard,
     (s.VIEWER_OWN, s.Dashboard(s.VIEWER, equity=None, today_change=None, updated_at=None),
      None, s.NOW, list(range(1001, 1013)))),
    ("A viewer with no grants", reports.dashboard,
     (s.VIEWER_OWN, s.Dashboard(s.VIEWER, equity=None, today_change=None, updated_at=None),
      None, s.NOW)),
    ("Buttons under it", lambda: " | ".join(
        (reports.START_BUTTON, reports.STOP_BUTTON, reports.REFRESH_BUTTON))),
)  # fmt: skip

BALANCES = _section(
    "/balance",
    ("Cash and coins", reports.balances,
     (s.OWN, s.Balances(s.D("10234.5678"), [
         s.BalanceLine("USD", s.D("8123.456"), s.D("1173.4567"), s.D("9296.9127")),
         s.BalanceLine("ETH", s.D("0.123456789"), s.D("0.5"), s.D("0.623456789")),
         s.BalanceLine("PEPE", s.D("12345678.9"), s.D("0"), s.D("12345678.9")),
         s.BalanceLine("USDT", None, None, s.D("-0.004")),
     ], s.NOW - 40))),
    ("Fifty-three currencies (fifty shown)", reports.balances,
     (s.OWN, s.Balances(s.D("1000"), [
         s.BalanceLine(f"C{i:02d}", s.D(i), s.D(0), s.D(i)) for i in range(53)
     ], s.NOW - 40))),
    ("An account with no funds", reports.balances, (s.OWN, s.Balances(s.D(0), [], s.NOW))),
    ("The engine stopped reporting: the figures may be old", reports.balances,
     (s.OWN, s.Balances(s.D("1000"), [s.BalanceLine("USD", s.D("1000"), s.D(0), s.D("1000"))],
                        s.NOW - 400)), {"stale": health.stale_data_warning(s.HEALTH_BAD)}),
    ("Nothing reported yet, paper trading off", reports.balances, (s.OWN_PAPER,
     s.Balances(None, [], None)), {"hint": EmptyHint.PAPER_OFF}),
    ("Nothing reported yet, live without a key", reports.balances, (s.OWN,
     s.Balances(None, [], None)), {"hint": EmptyHint.CONNECT}),
)  # fmt: skip

POSITIONS = _section(
    "/positions",
    ("A long, a 5x short and a cheap coin, with Close buttons", reports.positions,
     (s.OWN, s.Positions([s.LONG_ETH, s.SHORT_SWAP, s.PEPE])), {"closable": True}),
    ("An admin reading an odd-named user's positions", reports.positions,
     (s.ADMIN_ON_ODD, s.Positions([s.SHORT_SWAP], updated_at=None))),
    ("A market is late: the marks may be old", reports.positions,
     (s.OWN, s.Positions([s.LONG_ETH])), {"stale": health.stale_data_warning(s.HEALTH_LATE)}),
    ("None open, paper trading running", reports.positions, (s.OWN_PAPER,
     s.Positions([])), {"hint": EmptyHint.PAPER_RUNNING}),
    ("A Close button's label", reports.close_button,
     (s.CloseTarget("ETH/USDT:USDT", "short", s.D("0.09")),)),
    ("A Close button's label for a long symbol and amount", reports.close_button,
     (s.CloseTarget("VERYLONGNAMEDTOKEN/USDT:USDT", "long", s.D("123456789012.3456789")),)),
)  # fmt: skip

TRADES = _section(
    "/trades and /sessions",
    ("Three fills: a profit, a short closed at a loss, an entry", reports.trades,
     (s.OWN, s.TRADES)),
    ("One fill", reports.trades, (s.OWN, s.TRADES[:1])),
    ("No trades yet, live and connected", reports.trades, (s.OWN, []),
     {"hint": EmptyHint.LIVE_NOT_RUNNING}),
    ("Two sessions: one running, one lost", reports.sessions, (s.OWN, s.SESSIONS, s.NOW)),
    ("A session with trades in USD and in USDT", reports.sessions,
     (s.OWN, s.SESSIONS_MIXED, s.NOW)),
    ("No sessions (an admin reading someone else's)", reports.sessions,
     (s.ADMIN_ON_ODD, [], s.NOW)),
)  # fmt: skip

PNL = _section(
    "/pnl",
    ("A week with funding, a deposit and an equity curve", reports.pnl, (s.PNL_WEEK,)),
    ("A day with a huge loss, read by an admin", reports.pnl,
     (s.PNL_LOSS, reports.whose(s.ADMIN_ON_ODD))),
    ("A week of USD and USDT pairs: each currency on its own", reports.pnl,
     (s.PNL_TWO_QUOTES,)),
    ("A month without equity points yet", reports.pnl, (s.PNL_EMPTY_PERIOD,)),
    ("All time, no history at all", reports.pnl, (s.PNL_NOTHING,)),
    ("The period button on screen", reports.period_button, ("week", "week")),
    ("Another period button", reports.period_button, ("month", "week")),
    ("The chart button", lambda: reports.CHART_BUTTON),
    ("The chart's title (drawn on the image)", reports.chart_title, ("month",)),
    ("The chart's caption, someone else's", reports.chart_caption, (s.ADMIN_ON_ODD, "all")),
    ("The toast after a period button", reports.period_answer, ("week",)),
    ("The heading suffix for someone else's report", reports.whose, (s.ADMIN_ON_ODD,)),
)  # fmt: skip

TABLES = _section(
    "/daily and /performance",
    ("Five days: gains, a loss, a flat day, a day without equity", reports.daily, (s.DAILY,)),
    ("USD and USDT pairs: each day's P&L with its codes", reports.daily,
     (s.DAILY_TWO_QUOTES,)),
    ("USDT pairs on a USD account", reports.daily, (s.DAILY_USDT_ON_USD,)),
    ("Three empty days, paper trading off", reports.daily,
     (s.DAILY_EMPTY, "", EmptyHint.PAPER_OFF)),
    ("Three pairs (a swap with funding), this week", reports.performance,
     (s.Performance("week", s.WEEK_START, s.PAIRS),)),
    ("Forty-three pairs (forty shown), all time, someone else's", reports.performance,
     (s.Performance("all", None, s.MANY_PAIRS), reports.whose(s.ADMIN_ON_ODD))),
    ("No closed trades today", reports.performance,
     (s.Performance("day", s.PNL_LOSS.start, []), "", EmptyHint.CONNECT)),
)  # fmt: skip

USAGE = _section(
    "Report usage lines",
    *((f"/{c}", reports.usage, (c,), LIMITS) for c in
      ("status", "balance", "positions", "trades", "pnl", "daily", "performance", "sessions")),
)  # fmt: skip

ADMIN = _section(
    "Admin reports",
    ("/users: a page with totals, a paused odd-named user", admin_reports.users_page,
     (s.USERS_PAGE,)),
    ("/users: nobody yet", admin_reports.users_page, (s.USERS_EMPTY,)),
    ("/user: an odd-named user, key not verified, many viewers", admin_reports.user_detail,
     (s.ODD_DETAIL,)),
    ("/user: a viewer", admin_reports.user_detail, (s.VIEWER_DETAIL,)),
    ("/audit", admin_reports.audit, (s.AUDIT,)),
    ("/audit: empty", admin_reports.audit, ([],)),
    ("/users page buttons", lambda: f"{admin_reports.PREV_BUTTON} | {admin_reports.NEXT_BUTTON}"),
)  # fmt: skip

ADMIN_ACTIONS = _section(
    "Admin actions",
    ("/pause all: the question", admin_replies.pause_all_question,
     (12, "risk review <urgent> & more")),
    ("/pause all: the question without a reason", admin_replies.pause_all_question, (1, " ")),
    ("/pause all: its button", admin_replies.pause_all_button, (12,)),
    ("/pause all: done", admin_replies.paused_all, ([1001, 1002],)),
    ("/pause all: nobody was trading", admin_replies.paused_all, ([],)),
    ("/pause one", admin_replies.paused_one, (1003, True)),
    ("/pause one already paused", admin_replies.paused_one, (1003, False)),
    ("/resume all", admin_replies.resumed_all, ([1003],)),
    ("/resume all: nobody paused", admin_replies.resumed_all, ([],)),
    ("/resume one", admin_replies.resumed_one, (1003, True)),
    ("/resume one not paused", admin_replies.resumed_one, (1001, False)),
    ("/halt done", admin_replies.halted, (31,)),
    ("/unhalt done", admin_replies.unhalted, (1,)),
    ("/broadcast: the preview's heading", admin_replies.broadcast_preview_heading, (54,)),
    ("/broadcast: its button", admin_replies.broadcast_button, (54,)),
    ("/broadcast: queued", admin_replies.broadcast_queued, (54,)),
    ("/role unchanged", admin_replies.role_unchanged, (1001, Role.TRADER)),
    ("/role: an admin listed in NIJA_ADMIN_IDS made a viewer", admin_replies.role_changed,
     (9001, Role.ADMIN, Role.VIEWER), {"configured_admin": True}),
    ("/role: a viewer made a trader", admin_replies.role_changed,
     (2001, Role.VIEWER, Role.TRADER), {"configured_admin": False}),
    ("/grant", admin_replies.granted, (2001, 1001, True)),
    ("/grant again", admin_replies.granted, (2001, 1001, False)),
    ("/revoke", admin_replies.revoked, (2001, 1001, True)),
    ("/revoke without a grant", admin_replies.revoked, (2001, 1003, False)),
    ("/bound set for everyone, two users moved inside it", admin_replies.bound_set,
     ("max_position_usd", Bound(hi=s.D(500)), None, 2)),
    ("/bound set for one user, with choices", admin_replies.bound_set,
     ("allowed_pairs", Bound(choices=frozenset({"BTC"})), 1003, 0)),
    ("/bound lifted for everyone: the default holds again", admin_replies.bound_set,
     ("leverage_cap", None, None, 0, Bound(hi=s.D(5)))),
    ("/bound lifted for one user", admin_replies.bound_set, ("max_position_usd", None, 1003, 0)),
    ("/bound alone: the bounds in effect", admin_replies.bounds,
     (["leverage_cap: up to 5 (default)", "max_position_usd: up to 500 <for> user 1003"],)),
    ("/bound alone: none", admin_replies.bounds, ([],)),
    *((f"Usage: /{c}", admin_replies.usage, (c,)) for c in admin_replies.ADMIN_COMMANDS_WITH_USAGE),
)  # fmt: skip

HEALTH = _section(
    "Health",
    ("/health: all good", health.health, (s.HEALTH_OK,)),
    ("/health: engine late, a venue failing", health.health, (s.HEALTH_BAD,)),
    ("/health: the engine never reported", health.health, (s.HEALTH_NEVER,)),
    ("Alert: a problem appeared", health.alert,
     (s.HealthChange("bingx has failed for 15 min <503>", False),)),
    ("Alert: it cleared", health.alert, (s.HealthChange("bingx answers again", True),)),
    ("Dashboard warning: the engine stopped reporting", health.stale_data_warning,
     (s.HEALTH_BAD,)),
    ("Dashboard warning: a market is late", health.stale_data_warning, (s.HEALTH_LATE,)),
    ("Dashboard warning: fresh data (none)", health.stale_data_warning, (s.HEALTH_OK,)),
)  # fmt: skip

SETTINGS = _section(
    "/settings, /set, /preset, /pairs, /notify",
    ("/settings", settings.settings_page, (s.SETTINGS, "risk"), {"command": True}),
    ("The strategy page", settings.settings_page, (s.SETTINGS, "strategy")),
    ("/settings of a trade-only account", settings.settings_page,
     (s.SETTINGS_TRADE_ONLY, "risk")),
    ("/settings of a viewer", settings.settings_page, (s.SETTINGS_READ_ONLY, "risk")),
    ("A setting's button (locked)", settings.pick_button, (s.RISK_LINES[2],)),
    ("A strategy parameter's button", settings.pick_button, (s.RISK_LINES[6],)),
    ("The editor", settings.editor, (s.EDITOR,)),
    ("The editor after a change", settings.editor, (s.EDITOR_SAVED, s.CHANGE)),
    ("The editor of a locked setting", settings.editor, (s.EDITOR_LOCKED,)),
    ("The editor of the pairs", settings.editor, (s.EDITOR_PAIRS,)),
    ("An editor's value button (current)", settings.option_button,
     (s.SettingOption("250", current=True),)),
    ("An editor's step button", settings.option_button, (s.EDITOR.steps[0],)),
    ("An editor's preset button (current)", settings.option_button, (s.EDITOR.values[1],)),
    ("The toast after a tapped value", settings.saved_toast, (s.RISK_LINES[0], s.CHANGE)),
    ("The toast when nothing changed", settings.saved_toast, (s.RISK_LINES[0], s.NO_CHANGE)),
    ("/set of a locked setting", settings.set_locked, (s.RISK_LINES[2],)),
    ("/set with a name only", settings.set_usage, (s.RISK_LINES[0],)),
    ("/set done", settings.set_done, (s.CHANGE,)),
    ("/set to the same value", settings.set_done, (s.NO_CHANGE,)),
    ("/preset", settings.presets, (PRESETS,)),
    ("/preset usage", settings.preset_usage, (PRESETS,)),
    ("A preset's button", settings.preset_button, ("conservative",)),
    ("A preset applied", settings.preset_applied, ("conservative", s.PRESET_CHANGES)),
    ("A preset that changes nothing", settings.preset_applied, ("moderate", [])),
    ("The toast after a preset", settings.preset_toast, ("conservative", True)),
    ("The toast after a preset that changed nothing", settings.preset_toast,
     ("moderate", False)),
    ("/pairs", settings.pairs, (s.PAIRS_VIEW,)),
    ("/pairs with an admin's list", settings.pairs, (s.PAIRS_PERMITTED,)),
    ("/pairs of a viewer", settings.pairs, (s.PAIRS_READ_ONLY,)),
    ("/pairs without a key (paper on the default exchange)", settings.pairs, (s.PAIRS_PAPER,)),
    ("/pairs add", settings.pairs_edited, ("add", s.PAIRS_EDIT)),
    ("/pairs remove", settings.pairs_edited,
     ("remove", s.PairsEdit(("ETH",), ("BTC", "SOL"), ("<DOGE>",)))),
    ("/notify", settings.notify, (s.NOTIFY,)),
    ("/notify after a change", settings.notify, (s.NOTIFY,), {"updated": True}),
    ("A /notify button (current)", settings.notify_button, ("fills", "on", True)),
    ("The toast after a /notify button", settings.notify_toast, ("summary", "off")),
)  # fmt: skip

HELP = _section(
    "/help and the command menus",
    ("/help for a stranger", commands.help_text, (None,)),
    ("/help for a viewer", commands.help_text, (Role.VIEWER,)),
    ("/help for a trader", commands.help_text, (Role.TRADER,)),
    ("/help for an admin", commands.help_text, (Role.ADMIN,)),
    ("The menu of a trader without an exchange", commands.commands_for, (Role.TRADER, False)),
)  # fmt: skip

CONNECT = _section(
    "/connect",
    ("Asking for the first credential (kraken), with the server's IP", connect.ask_for,
     ("kraken", [("apiKey", "API key"), ("secret", "private key")], 0, "203.0.113.7")),
    ("Asking for the second credential", connect.ask_for,
     ("kraken", [("apiKey", "API key"), ("secret", "private key")], 1)),
    ("An exchange without its own guide", connect.key_guide, ("okx",)),
)  # fmt: skip

DISCONNECT = _section(
    "/disconnect",
    ("The question, naming the stored key", disconnect.question, ("kraken", "••••Ab3d")),
    ("The question while the key is still being checked", disconnect.question, (None, None)),
    ("Its buttons", lambda: f"{disconnect.ERASE_BUTTON} | {disconnect.KEEP_BUTTON}"),
)  # fmt: skip

TRADING = _section(
    "/trade, /close, /mode",
    ("/trade alone, trading exits only", trading.trade_usage, (TradingSwitch.EXITS,)),
    ("/trade with a wrong word (shown back, escaped and shortened)", trading.trade_usage,
     (TradingSwitch.ON, ["maybe", "<b>now</b>", "x" * 40])),
    ("/trade from an unknown caller", trading.trade_usage, (None,)),
    ("/close alone", trading.close_usage, ()),
    ("/close with a wrong target", trading.close_usage, (["ETH", "&", "BTC"],)),
    ("/mode alone", trading.mode_usage, ("paper",)),
    ("/mode with a wrong word", trading.mode_usage, ("live", ["demo"])),
    ("A Close button's confirmation", trading.close_question, ("ETH/USDT:USDT", "short")),
    ("Its confirming button", trading.close_yes_button, ("ETH/USDT:USDT", "short")),
    ("Its other button", lambda: trading.KEEP_BUTTON),
    ("/mode live's confirmation", trading.live_question,
     ("Your kraken key ••••Ab3d is verified <and> can trade.",)),
    ("Its buttons", lambda: f"{trading.LIVE_YES_BUTTON} | {trading.STAY_PAPER_BUTTON}"),
    ("/trade on done (live)", trading.switched,
     (TO(True, A.SWITCHED, switch=TradingSwitch.ON, mode="live"),)),
    ("/trade exits, one position open, a global halt on", trading.switched,
     (TO(True, A.SWITCHED, switch=TradingSwitch.EXITS, mode="paper", held=1, halted=True),)),
    ("/trade exits, nothing open", trading.switched,
     (TO(True, A.SWITCHED, switch=TradingSwitch.EXITS, mode="paper"),)),
    ("/trade off, nothing open, paused by an admin", trading.switched,
     (TO(True, A.SWITCHED, switch=TradingSwitch.OFF, mode="paper", admin_pause=True),)),
    ("/trade off, three positions open (the service's answer)", trading.outcome_text,
     (TO(True, A.SWITCHED, switch=TradingSwitch.OFF, mode="live", held=3),)),
    ("/trade on while paused by an admin", trading.outcome_text,
     (TO(False, A.ADMIN_PAUSED, reason="under review"),)),
    ("/trade on, paused by an admin without a reason", trading.outcome_text,
     (TO(False, A.ADMIN_PAUSED),)),
    ("/close ETH with nothing in ETH", trading.outcome_text, (TO(True, A.NONE_IN, target="ETH"),)),
    ("/close ETH, the position is in the other mode", trading.outcome_text,
     (TO(True, A.OTHER_MODE, symbol="ETH/USD", other_mode="live", mode="paper"),)),
    ("A Close button of a position already closed", trading.outcome_text,
     (TO(True, A.GONE, symbol="ETH/USDT:USDT", side="short"),)),
    ("/close all, two positions", trading.outcome_text,
     (TO(True, A.CLOSING, closing=(("ETH/USD", "long"), ("BTC/USDT:USDT", "short"))),)),
    ("/close ETH again before the fill", trading.outcome_text,
     (TO(True, A.ALREADY_CLOSING, closing=(("ETH/USD", "long"),)),)),
    ("/mode live allowed (shown in the confirmation)", trading.outcome_text,
     (TO(True, A.LIVE_ALLOWED, exchange_id="kraken", key_tail="Ab3d"),)),
    ("/mode paper done", trading.mode_set,
     (TO(True, A.MODE_SET, mode="paper", other_mode="paper"),)),
    ("/mode live done, two paper positions left behind", trading.mode_set,
     (TO(True, A.MODE_SET, mode="live", other_mode="paper", held=2),)),
)  # fmt: skip

ONBOARDING = _section(
    "/start, joining, the gatekeeper",
    ("The welcome", onboarding.welcome_text, ("Alice", Role.TRADER)),
    ("The welcome of a viewer without a first name", onboarding.welcome_text,
     (None, Role.VIEWER)),
    ("The welcome, a hostile name", onboarding.welcome_text, (s.ODD_NAME, Role.TRADER)),
    ("Approval mode: the newcomer's request went to the admins", onboarding.asked_text,
     ("Nia",)),
    ("Approval mode: asked, without a first name", onboarding.asked_text, (None,)),
    ("Approval mode: recorded, no admin reachable yet", onboarding.asked_text,
     ("Nia", False)),
    ("Above the pending requests (an admin's /start, /pending)", onboarding.pending_header,
     (2, 2)),
    ("Above the pending requests, more than shown", onboarding.pending_header, (14, 10)),
    ("The request each admin gets", onboarding.join_request, (2002, "nia_t", "Nia")),
    ("The request from an odd name without a username", onboarding.join_request,
     (2003, None, s.ODD_NAME)),
    ("Its buttons", lambda: f"{onboarding.APPROVE_BUTTON} | {onboarding.REJECT_BUTTON}"),
    ("The request once approved (the deciding admin's chat)", onboarding.join_decided,
     (2002, "nia_t", "Nia", True)),
    ("The request once rejected", onboarding.join_decided, (2003, None, None, False)),
    ("The toast of a later press", onboarding.already_decided, ("approved", 9001)),
    ("The request in a later admin's chat, decided by another", onboarding.join_decided_by,
     (2002, "nia_t", "Nia", "approved", 9001, "Ada")),
    ("The same, the deciding admin unknown", onboarding.join_decided_by,
     (2003, None, None, "rejected", None, None)),
)  # fmt: skip

COMMON = _section(
    "Unknown commands, errors, the reply keyboard",
    ("An unknown command", common.unknown_command, ("foo_bar",)),
    ("A handled error's own explanation", common.failed,
     ("Amount must be between 1 and 1,000 <USD> & whole.",)),
    ("The reply keyboard's buttons", lambda: " | ".join(
        (common.STATUS_KEY, common.POSITIONS_KEY, common.PNL_KEY, common.SETTINGS_KEY))),
)  # fmt: skip

SETTING_VALUES = _section(
    "Setting values, ranges and errors (worded for the settings service)",
    ("A setting's label", setting_values.label, ("max_drawdown_pct",)),
    ("A strategy parameter's label (its name)", setting_values.label, ("strategy.fast",)),
    ("A strategy parameter's label", setting_values.param_label, ("fast_period",)),
    ("A number (as typed back)", setting_values.number, (s.D("100000.50"),)),
    ("A money value (the account's currency)", setting_values.value_text,
     (s.D("1250.00"), "usd", "USDT")),
    ("A percentage", setting_values.value_text, (s.D("0.5"), "%")),
    ("A switch", setting_values.value_text, (True,)),
    ("A list", setting_values.value_text, (("BTC", "ETH"),)),
    ("A whole-number range", setting_values.numeric_range, (s.D(1), s.D(10), True)),
    ("A range with its unit", setting_values.numeric_range, (s.D("0.1"), s.D(5), False, "%")),
    ("Choices", setting_values.either, (("one-way", "hedge"),)),
    ("What a setting accepts: a range", setting_values.allowed,
     (s.RISK_LINES[0].allowed, "usd")),
    ("What a setting accepts: on or off", setting_values.allowed, (s.SettingAllowed("on_off"),)),
    ("One of", setting_values.one_of, (("ema_cross", "rsi_revert"),)),
    ("Pairs, any", setting_values.pairs_range, (None,)),
    ("Pairs an admin permitted", setting_values.pairs_range, (frozenset({"ETH", "BTC"}),)),
    ("An editor's + button", setting_values.step_label, (True, s.D(50), "300")),
    ("An editor's - button", setting_values.step_label, (False, s.D("0.5"), "1.5")),
    ("An editor's preset button", setting_values.preset_label, ("moderate", "250")),
    ("A user's input shown back", setting_values.quoted, ("<b>max</b>_position_usd_and_more",)),
    ("Unknown setting", setting_values.unknown_setting,
     ("max_pos<i>", ["max_position_usd", "leverage_cap", "strategy.fast"])),
    ("/pairs usage", setting_values.pairs_usage, (20,)),
    ("/notify usage", setting_values.notify_usage,
     (("fills", "alerts", "summary"), "fils loud")),
)  # fmt: skip

REPORT_SAMPLES: list[Sample] = [
    *STATUS, *BALANCES, *POSITIONS, *TRADES, *PNL, *TABLES, *USAGE, *ADMIN, *ADMIN_ACTIONS, *HEALTH,
    *SETTINGS, *HELP, *CONNECT, *DISCONNECT, *TRADING, *ONBOARDING, *COMMON,
    *SETTING_VALUES,
]  # fmt: skip


def _template(text: str) -> bool:
    """A text with blanks to fill (``{what}``): its renderer's samples show it filled."""
    return TEMPLATE_FIELD.search(text) is not None


def fixed_texts() -> Iterator[tuple[str, str, str]]:
    """(module, name, text) of every upper-case text constant of the renderer modules;
    a dictionary of texts gives one entry per key. Templates (texts with ``{field}``
    blanks, e.g. ``connect.DISCONNECT_CONFIRM``) are left out: never sent as they stand,
    they appear filled in with sample data by the samples of their renderers."""
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[-1]
        for name, value in vars(module).items():
            if not name.isupper() or name.startswith("_"):
                continue
            if isinstance(value, str) and value:
                if not _template(value):
                    yield short, name, value
            elif (
                isinstance(value, dict)
                and value
                and all(isinstance(v, str) for v in value.values())
            ):
                for key, text in value.items():
                    if not _template(text):
                        yield short, f"{name}[{str(key)!r}]", text
