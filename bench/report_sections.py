"""The per-benchmark sections of docs/benchmarks.md: numbers, method, and where the
time goes (read from the profiles the benchmarks record)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import backtest_speed, close_to_order
from bench.report import NA, _g, _ratio


def _calls(profile: Any, needle: str) -> int | None:
    for row in _g(profile, "top", default=[]) or []:
        if needle in str(row.get("function")):
            return int(row["calls"])
    return None


def _engine(res: dict, fanout_rows: Callable, profile_table: Callable) -> list[str]:
    fan = res.get("engine_fanout") or []
    prof = _g(res, "engine_profile", "profile", default=None)
    users = _g(res, "engine_profile", "users")
    wakeups = _calls(prof, "updated_at")
    lines = [
        "## 1. Engine fan-out",
        "",
        "`bench/engine_fanout.py`: N paper users, each a real `UserLoop` (default risk "
        "settings, the 8 default pairs on kraken's USD markets, ADX trend on 5m candles), "
        "sharing one `MarketHub` in lockstep under a `SimulatedClock`, fed by "
        "`tests.engine.replay.ReplaySource` over real 5m candles (3 real series re-stamped "
        "into 8 symbols, `bench/candles.py`); one SQLite file (WAL, synchronous=FULL) in a "
        "temporary directory. A candle close is timed from the hub's fetch until every loop "
        "has finished with it (stops, signals, risk, orders, paper fills, paper state, "
        "snapshot, equity point, outbox rows). The first close (loading the 300-candle "
        "window) is left out. All users have the same settings, so they trade the same "
        "signals at once: a heavy case (hundreds of orders per close).",
        "",
        *fanout_rows(fan),
        "",
        "*KiB / user* is (RSS after − RSS before the loops) / users: at 100 users it is "
        "mostly fixed costs (indicator frames, pandas caches, the SQLite page cache). The "
        "memory per *added* user in the targets is the difference between the 100- and "
        "the 1,000-user runs. A run that does not finish within its time budget reports "
        "what it reached: how many loops had started (subscribed to the hub).",
        "",
        "Candle requests per close are the hub's `fetch_ohlcv` calls: always 8, one per "
        "pair, whatever the user count. *Ticker requests* are extra: every paper market "
        "order asks the market-data source for a ticker to price its fill "
        "(`PaperAccount.create_order`), one public request per order, not shared between "
        "users.",
        "",
        "### Where the time goes",
        "",
        f"Profile of the start of {users} loops and their first two candle closes (`--profile`):",
        *profile_table(prof),
        "",
        "Findings:",
        "",
        "- **Fixed after the first run** (1,000 users: p50 per close 7.6 s before): the hub "
        "woke every waiting loop on every change (quadratic in users) and now wakes only "
        "the loops whose markets closed, with an idle counter for lockstep; the last close "
        "is cached per closed-candle set instead of building a pandas row per call; "
        "indicator rows are read once per shared frame instead of once per user; strategy "
        "parameter specs are computed once per class.",
        "- **Fixed in the second round** (1,000 users: p50 per close ~2.7 s, 31,000 SQL "
        "statements and 2,667 commits per close before): a loop reads its positions once "
        "per close (`HeldPositions`; it read them twice per market before) and again only "
        "after its own orders or stop updates; the executor skips the query of unresolved "
        "orders while it knows there are none; the hub evaluates the strategy once per "
        "candle and situation (`MarketHub.signal`: flat users with the same settings share "
        "one signal); every user's snapshot and equity point of a close go to SQLite in one "
        "transaction (`SnapshotWriter`, flushed when every loop is idle, at the latest 1 s "
        "later); the hub's last prices are indexed instead of scanned per call.",
        "- **Where the time goes now**: orders. A close in which every user trades costs "
        "four transactions per order (intent, submitted, paper state, outcome with its "
        "fills), each a commit with an fsync and each statement a round trip to "
        "aiosqlite's thread"
        + (f" ({wakeups:,} `updated_at` calls in the profiled run)" if wakeups else "")
        + "; they stay per order by design (intent committed before the send). Trailing "
        "stop updates are one transaction per moved stop. A close without orders costs "
        "one positions read per user plus the shared snapshot batch.",
        "- **Left to do**: read statements in one aiosqlite round trip instead of three "
        "(`execute` + `fetchall` + cursor close in `storage/db.py`), price paper fills "
        "from the hub's cached close instead of one ticker request per order, write a "
        "user's moved stops in one transaction, and start loops in batches (10,000 loops "
        "take ~15 s to start).",
        "- Indicator frames are computed once per pair per close (8 × ~6 ms, see 6), not "
        "per user; that part does not grow with users.",
    ]
    return lines


def sections(res: dict, fanout_rows: Callable, profile_table: Callable, ms: Callable) -> list[str]:
    ppu = res.get("process_per_user", {})
    snd = res.get("notification_sender", {})
    cmd = res.get("command_latency", {})
    sec = res.get("secret_window", {})
    ind = res.get("indicators", {})
    bt = res.get("backtest_speed", {})
    inc = _g(ind, "incremental", default={})
    ipc = res.get("indicators_per_close", {})
    lines = _engine(res, fanout_rows, profile_table)
    lines += [
        "",
        "## 2. A process per user",
        "",
        "`bench/process_per_user.py`: a fresh Python process imports ccxt, "
        "python-telegram-bot, pandas, pandas-ta, aiosqlite and nija_tg, holds a ccxt "
        "exchange object, a telegram `Bot` and one user's `UserLoop` through 3 candle "
        "closes (8 pairs).",
        "",
        "| | MiB |",
        "|---|---:|",
        f"| bare interpreter | {_g(ppu, 'rss_bare_interpreter_mib')} |",
        f"| after the imports | {_g(ppu, 'rss_after_imports_mib')} |",
        f"| holding one user's loop (peak RSS) | {_g(ppu, 'peak_rss_mib')} |",
        "",
        f"The engine's memory per added user is {_g(ppu, 'engine_kib_per_user')} KiB "
        "(RSS after the candles, 100 → 1,000 users in bench 1), so a process per user costs "
        f"about **{_ratio(ppu)}** more memory per user; almost all of it is the "
        "libraries, paid once by the engine.",
        "",
        "## 3. Notification sender",
        "",
        "`bench/notification_sender.py` runs `tests/engine/storm.py`: "
        f"{_g(snd, 'notifications')} notifications for {_g(snd, 'chats')} chats queued over "
        f"{_g(snd, 'spread_s')} s (faster than the budget can send, so a backlog builds and "
        "rows of one chat merge into digests), delivered by "
        "`nija_tg.telegram_out.outbox_sender.Sender` "
        f"at `NIJA_SENDER_RATE={_g(snd, 'budget_per_s')}` to the fake Bot API enforcing "
        f"{_g(snd, 'fake_limits', 'per_bot_per_s')} messages/s per bot and "
        f"{_g(snd, 'fake_limits', 'per_chat_per_s')} per chat (429 with retry_after "
        "beyond).",
        "",
        "| | |",
        "|---|---|",
        f"| elapsed | {_g(snd, 'elapsed_s')} s |",
        f"| messages sent (digests among them) | {_g(snd, 'messages')} ({_g(snd, 'digests')}) |",
        f"| messages/s, first to last send | {_g(snd, 'messages_per_s_first_to_last')} |",
        f"| messages/s, busiest {_g(snd, 'busiest_window_s')} s | "
        f"{_g(snd, 'messages_per_s_busiest_window')} ({_g(snd, 'budget_used_pct')}% of "
        "the budget) |",
        f"| 429 answers / retry-window violations | {_g(snd, 'rate_limited_429')} / "
        f"{_g(snd, 'violations')} |",
        f"| highest rate per chat / per bot (1 s windows) | "
        f"{_g(snd, 'max_per_chat_per_s')} / {_g(snd, 'max_per_bot_per_s')} |",
        f"| lost / duplicated rows | {_g(snd, 'lost')} / {_g(snd, 'duplicates')} |",
        f"| delay event → sent, p50 / p99 / max | {_g(snd, 'delay_event_to_send', 'p50_s')} / "
        f"{_g(snd, 'delay_event_to_send', 'p99_s')} / "
        f"{_g(snd, 'delay_event_to_send', 'max_s')} s |",
        "",
        "The delay is queueing: events arrive faster than the budget (by design of the "
        "storm), and the sender holds the budget; it is not processing time.",
        "",
        "## 4. Command latency",
        "",
        "`bench/command_latency.py`: the real bot (`build_application`, long polling) "
        "against the fake Bot API in the same process; 200 distinct registered users (with "
        "a paper snapshot) send `/status`, `/balance`, `/positions`. Latency is from the "
        "update being queued at the fake to the bot's `sendMessage` arriving there "
        "(*handed*: from the getUpdates answer that carried it). None of these replies "
        "calls an exchange.",
        "",
        "| scenario | bot's outgoing budget | commands | update → reply | handed → reply |",
        "|---|---:|---:|---|---|",
    ]
    for key, label in (
        ("idle", "one at a time"),
        ("steady", f"200 users, ~{_g(cmd, 'steady', 'offered_per_s')} commands/s"),
        ("burst_default", "200 users at the same instant, default config"),
    ):
        d = cmd.get(key)
        if d:
            lines.append(
                f"| {label} | {_g(d, 'bot_budget_per_s')}/s | {_g(d, 'commands')} "
                f"| {ms(d, 'inject_to_reply')} | {ms(d, 'handed_to_reply')} |"
            )
    lines += [
        "",
        "Every outgoing request with a `chat_id` passes python-telegram-bot's overall "
        "limiter, which the bot sizes at 30 − `NIJA_SENDER_RATE` per second (5/s by "
        "default: the engine's sender gets 25). With that default a burst of 200 commands "
        "takes 200 / 5 = 40 s to answer, whatever the CPU: the burst row is that queue. The "
        "steady row raises the bot's share to 25/s (`NIJA_SENDER_RATE=5`) to measure the "
        "bot itself. Its tail comes from the event loop being shared by 200 concurrent "
        "handlers, the per-user update ordering, aiosqlite round trips and the fake server "
        "(which runs in the same process here and costs about as much as the bot). "
        "These rows were measured while the engine still had its own sender; since the "
        'bot owns the whole budget (replies first), see "Fairness under a flood".',
        "",
        "## 5. Secret exposure window",
        "",
        "`bench/secret_window.py`: users run `/connect kraken`, then send the API key as a "
        "text message; measured from the getUpdates answer that hands that message to the "
        "bot to the bot's `deleteMessage` for it arriving at the fake (and from queueing).",
        "",
        "| load | runs | users at once | runs/s | failed deletes "
        "| handed → delete | queued → delete |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    d = sec.get("quiet")
    if d:
        lines.append(
            f"| /connect runs only | {_g(d, 'runs')} | {_g(d, 'users')} "
            f"| {_g(d, 'runs_per_s')} | {_g(d, 'failed_deletes')} "
            f"| {ms(d, 'handed_to_delete')} | {ms(d, 'injected_to_delete')} |"
        )
    d = sec.get("under_burst_load")
    if d:
        lines.append(
            f"| {_g(d, 'burst_users')} /status at once over {_g(d, 'notifications')} "
            f"queued notifications, {_g(d, 'keyers')} keys sent at that instant "
            f"| {_g(d, 'runs')} | {_g(d, 'keyers')} | - | - "
            f"| {ms(d, 'handed_to_delete')} | - |"
        )
    lines += [
        "",
        "Replies and notifications spend one outgoing budget in the bot process "
        "(`nija_tg/telegram_out/budget.py`, replies first); `deleteMessage` takes no "
        "token and waits for nothing, so the window does not depend on reply or "
        "notification traffic. The second row is bench/fairness.py's burst (its section "
        "has every run): the keys are sent at the same instant as 200 commands while "
        "10,000 notifications wait.",
        "",
        "## 6. Indicator cost",
        "",
        "`bench/indicators.py`: `get_strategy('adx_trend')` `prepare` (pandas-ta ADX/DMI, "
        "two EMAs, ATR) and `evaluate`, real 5m candles.",
        "",
        "| | |",
        "|---|---|",
        f"| {_g(ind, 'symbols')} symbols × {_g(ind, 'candles_per_symbol')} candles, prepare "
        f"| {_g(ind, 'full_prepare_s')} s ({_g(ind, 'full_prepare_per_symbol_ms')} ms per "
        "symbol) |",
        f"| evaluate at the last candle | {_g(ind, 'full_evaluate_per_symbol_ms')} ms per symbol |",
        f"| evaluate at any index (per call) | {_g(ind, 'evaluate_per_index_ms')} ms |",
        f"| per new candle, whole {_g(inc, 'window')}-candle window + evaluate "
        f"| p50 {_g(inc, 'per_symbol_per_candle', 'p50_ms')} / p99 "
        f"{_g(inc, 'per_symbol_per_candle', 'p99_ms')} ms per symbol; "
        f"{_g(inc, 'all_symbols_per_candle_ms')} ms for all {_g(ind, 'symbols')} |",
        "",
        "That table is the whole-window computation (backtests compute indicators once "
        "over the whole series instead). The live MarketHub advances each market's "
        "indicators by the new candle (`Strategy.rolling`, `nija_tg/strategies/rolling.py`): "
        "every 300-candle window still in flight is stepped by one row per close, so the "
        "value of the window completing at the close is bitwise the whole-window value "
        "(tests/strategies/test_rolling.py). Per close, `bench/indicators_per_close.py` "
        f"({_g(ipc, 'pairs')} pairs × {_g(ipc, 'closes')} closes, median of "
        f"{_g(ipc, 'runs')} runs):",
        "",
        "| per market and close | µs (median of the runs' p50) |",
        "|---|---:|",
        f"| whole window as a frame + prepare + evaluate (before) "
        f"| {_g(ipc, 'median', 'full_window_p50_us')} |",
        f"| rolling indicators, one candle pushed + signal (live now) "
        f"| {_g(ipc, 'median', 'rolling_p50_us')} |",
        f"| pandas-ta over the window (reference) | {_g(ipc, 'median', 'pandas_ta_p50_us')} |",
        "",
        f"All pairs per close: {_g(ipc, 'median', 'full_window_all_pairs_ms')} ms → "
        f"{_g(ipc, 'median', 'rolling_all_pairs_ms')} ms; starting a market's rolling "
        f"indicators from a whole window (start, or a gap longer than the window) "
        f"{_g(ipc, 'median', 'rolling_first_window_ms')} ms, done while the loops are idle. "
        "Per user, a signal is only an `evaluate` (~0.1 ms).",
        *profile_table(ind.get("profile")),
        "",
        *_backtest_speed(bt, profile_table),
        "",
        *close_to_order.section(res.get("close_to_order")),
    ]
    return lines


def _backtest_speed(bt: dict, profile_table: Callable) -> list[str]:
    """Section 7, as ``bench/backtest_speed.py`` writes it (issue 13's targets)."""
    if "cli_s" not in bt:
        return ["## 7. Backtest speed", "", NA]
    return backtest_speed.section(bt, profile_table)
