"""Fairness under a flood: one user sends ``--flood`` messages as fast as the fake Bot
API takes them; right after, another user (waiting at the /connect credential step)
sends an API key and a third user sends /status. Measured, from the update being queued
at the fake: until the key message's deleteMessage arrives there, and until the /status
reply arrives. Also counted: the flooder's updates dropped by the per-user cap and the
"I skipped some messages" notices.

Two update processors, each run on a fresh bot (the real Application from
nija_tg.bot_main against the fake Bot API, in this process's loop for the flood):

* ``per_user_first``: nija_tg's PerUserUpdateProcessor (the per-user lock before a shared
  slot, at most 20 queued updates per user, secrets deleted on arrival);
* ``slot_first``: the earlier order, kept here only for comparison: a shared slot
  first, then the per-user lock, no cap (the flood's updates hold every slot while they
  wait for their turn). Its runs use ``--legacy-flood`` messages (the victim waits about
  one second per flood message beyond the 256 slots, because each flood reply is paced at
  one message per second per chat).

Each run's flood backlog is abandoned (its update tasks cancelled) once the victims have
their answers, so runs do not add up.

Burst over a backlog (issue 14, item 1): ``--burst-users`` (200) users send /status at
the same instant while ``--notifications`` (10,000) outbox rows, one per chat, wait to be
sent, and 20 users at the /connect credential step send their key at that instant too;
the fake Bot API enforces Telegram's limits (30 messages/s per bot, 1 per second per
chat, 429 beyond). Measured: each /status reply from queueing (and from the getUpdates
answer that handed it to the bot), each key's deleteMessage, and over ``--window``
seconds (20) from the burst the notifications sent against what the replies left of
the 30/s; the 429s and requests inside a penalty window over the whole run. Two modes:
``free`` (the default configuration) and ``paid`` (``NIJA_PAID_BROADCAST_RATE=970``:
what the free 30/s cannot take at once goes as a paid broadcast). The burst's fake Bot
API runs in a process of its own, as Telegram is remote (bench/fake_side.py; the users'
side runs there too, and both ends of every interval are taken there);
``--fake-in-loop`` runs it in the bot's event loop instead (the earlier setup).

The report is the median of the runs and every run; it replaces its own section of
docs/benchmarks.md (``--no-docs``: print only).

    .venv/bin/python -m bench.fairness [--quick] [--runs 5] [--flood 600] [--burst-runs 5]
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor
from telegram.warnings import PTBUserWarning

from bench.bot_driver import TimedBotAPI, register_users
from bench.common import REPO, bench_args, emit, machine, percentile, summary_ms
from bench.fake_side import make_fake
from nija_tg.bot_main import build_application
from nija_tg.core.models import Role
from nija_tg.handlers.update_processor import SKIPPED, SKIPPED_SECRETS
from nija_tg.storage import outbox, users
from nija_tg.storage.db import Database
from tests.conftest import TEST_TOKEN
from tests.handlers.harness import BotHarness, harness_settings, start_engine_side, stop_bot

FIRST_USER = 900_000
TIMEOUT = 600.0
KEY = "BENCHfairKey0123456789abcdefghijklmnopqrstuvwxyzABCD"
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Fairness under a flood"


class _NoEarlyCheck:
    """The earlier order had no secret check at queueing time either."""

    def early(self, update: object) -> None:
        pass


class SlotFirstProcessor(BaseUpdateProcessor):
    """The order nija_tg used before: PTB takes a shared slot, then the per-user lock."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}

    async def process_update(  # type: ignore[misc]
        self, update: object, coroutine: Awaitable[Any]
    ) -> None:
        try:
            await super().process_update(update, coroutine)
        except asyncio.CancelledError:  # the backlog abandoned while it waited for a slot
            if asyncio.iscoroutine(coroutine):
                coroutine.close()
            raise

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        async with self._locks.setdefault(user.id, asyncio.Lock()):
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


async def _start(data_dir: Path, uids: list[int], legacy: bool) -> BotHarness:
    api = TimedBotAPI(token=TEST_TOKEN)
    await api.start()
    settings = harness_settings(data_dir, api.url)
    await register_users(settings.db_path, uids)
    engine = await start_engine_side(settings, run=False)  # publishes the sealing key
    app = build_application(settings)
    if legacy:
        app._update_processor = SlotFirstProcessor()  # noqa: SLF001 - the comparison
        # nor the update queue's early secret check (SecretFirstQueue)
        app.update_queue._processor = _NoEarlyCheck()  # type: ignore[attr-defined]  # noqa: SLF001
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    return BotHarness(api=api, app=app, settings=settings, engine=engine)


async def _abandon_backlog(bot: BotHarness) -> None:
    """Cancel the update tasks still queued or running (the rest of the flood)."""
    name = re.compile(r"^Application:\d+:process_concurrent_update")
    tasks = [t for t in asyncio.all_tasks() if name.match(t.get_name()) and not t.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _reply(bot: BotHarness, uid: int, text: str) -> None:
    fut = bot.api.expect("sendMessage", uid)  # type: ignore[attr-defined]
    bot.api.user_message(uid, text)
    await asyncio.wait_for(fut, TIMEOUT)


async def one_run(data_dir: Path, flood: int, legacy: bool) -> dict[str, Any]:
    flooder, keyer, asker = FIRST_USER, FIRST_USER + 1, FIRST_USER + 2
    bot = await _start(data_dir, [flooder, keyer, asker], legacy)
    api = bot.api
    try:
        await _reply(bot, asker, "/help")  # warm up
        await _reply(bot, keyer, "/connect kraken")  # the keyer waits at the key step
        await asyncio.sleep(1.1)  # the per-chat pace of the keyer's chat is free again
        since = api.mark()
        started = time.monotonic()
        for n in range(flood):
            api.user_message(flooder, f"hello {n}")
        deleted = api.expect("deleteMessage", keyer)  # type: ignore[attr-defined]
        status = api.expect("sendMessage", asker)  # type: ignore[attr-defined]
        injected = time.monotonic()
        key_id = api.user_message(keyer, KEY)
        status_id = api.user_message(asker, "/status")
        delete_at = await asyncio.wait_for(deleted, TIMEOUT)
        status_at = await asyncio.wait_for(status, TIMEOUT)
        flood_texts = api.texts(flooder, since=since)
        processor = bot.app.update_processor
        result = {
            "flood": flood,
            "flood_injected_in_ms": round((injected - started) * 1000, 1),
            "key_queued_to_delete_ms": round((delete_at - injected) * 1000, 2),
            "status_queued_to_reply_ms": round((status_at - injected) * 1000, 2),
            "key_handed_to_delete_ms": _since(api, keyer, key_id, delete_at),
            "status_handed_to_reply_ms": _since(api, asker, status_id, status_at),
            "flood_replies_before_status": sum(
                1
                for r in api.requests[since:]
                if r.method == "sendMessage" and r.chat_id == flooder and r.ts <= status_at
            ),
            "flood_dropped": getattr(processor, "dropped", 0),
            "skipped_notices": sum(t in (SKIPPED, SKIPPED_SECRETS) for t in flood_texts),
        }
        await _abandon_backlog(bot)
    finally:
        await stop_bot(bot)
    return result


# -- burst over a backlog (issue 14, item 1) ------------------------------------------------
BURST_FIRST = 600_000
NOTIFY_FIRST = 1_000_000
PAID_ENV = {"NIJA_PAID_BROADCAST_RATE": "970"}


async def _queue_backlog(db_path: Path, notifications: int) -> None:
    """``notifications`` rows, one per chat (no digest merges them), mostly fills, every
    20th a stop alert and every 4th a summary, queued before the bot starts."""
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            for i in range(notifications):
                uid = NOTIFY_FIRST + i
                await users.upsert_user(tx, uid, uid, None, "N", Role.TRADER)
                kind = "stop" if i % 20 == 0 else "summary" if i % 4 == 1 else "fill"
                await outbox.enqueue(tx, uid, kind, f"{kind} #{i}")
    finally:
        await db.close()


async def burst_run(
    data_dir: Path,
    *,
    burst_users: int,
    notifications: int,
    keyers: int,
    window: float,
    env: dict[str, str],
    in_loop: bool = False,
) -> dict[str, Any]:
    """One burst on a fresh bot. The fake Bot API runs in a process of its own (as the
    real one is remote) unless ``in_loop`` (the earlier setup: in the bot's loop)."""
    askers = [BURST_FIRST + i for i in range(burst_users)]
    keys = [BURST_FIRST + burst_users + i for i in range(keyers)]
    fake = make_fake(TEST_TOKEN, in_loop=in_loop, enforce_limits=True)
    await fake.start()
    settings = harness_settings(data_dir, fake.url, **env)
    await register_users(settings.db_path, askers + keys)
    await _queue_backlog(settings.db_path, notifications)
    engine = await start_engine_side(settings, run=False)  # publishes the sealing key
    app = build_application(settings)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    bot = BotHarness(api=fake, app=app, settings=settings, engine=engine)  # type: ignore[arg-type]
    try:
        await fake.call("replies", uids=keys, text="/connect kraken")
        await asyncio.sleep(1.1)  # every chat of the burst may take a message again
        pending_before = (await outbox.counts(engine.db))["pending"]
        raw = await fake.call(
            "burst", askers=askers, keys=keys, key=KEY, window=window, notify_first=NOTIFY_FIRST
        )
        left = raw["free_left_by_replies"]
        free_notes = raw["notifications_in_window"] - raw["paid_notifications"]
        result = {
            "fake": "in_loop" if in_loop else "process",
            "burst_users": burst_users,
            "notifications": notifications,
            "pending_at_burst": pending_before,
            "window_s": window,
            "replies_all_in_s": round(raw["replies_done_s"], 2),
            "reply_queued": summary_ms(raw["reply_queued_s"]),
            "reply_handed": summary_ms(raw["reply_handed_s"]),
            "key_handed_to_delete": summary_ms(raw["key_handed_s"]),
            "key_handed_to_delete_s": [round(k, 4) for k in raw["key_handed_s"]],
            "at": {
                k: raw[k]
                for k in (
                    "started_at",
                    "key_handed_at",
                    "key_deleted_at",
                    "reply_at",
                    "reply_handed_at",
                )
            },
            "replies_in_window": raw["replies_in_window"],
            "paid_replies": raw["paid_replies"],
            "notifications_in_window": raw["notifications_in_window"],
            "notifications_while_replying": raw["notifications_while_replying"],
            "paid_notifications": raw["paid_notifications"],
            "free_left_by_replies": round(left, 1),
            "notification_share_pct": round(100 * free_notes / left, 1) if left > 0 else None,
            "rate_limited_429": raw["rate_limited_429"],
            "violations": raw["violations"],
            "max_per_bot_per_s": raw["max_per_bot_per_s"],
            "max_per_chat_per_s": raw["max_per_chat_per_s"],
        }
    finally:
        await stop_bot(bot)
    return result


def _burst_mode(
    tmp: Path,
    name: str,
    runs: int,
    sizes: dict[str, Any],
    env: dict[str, str],
    in_loop: bool = False,
) -> dict[str, Any]:
    out = []
    for i in range(runs):
        data_dir = tmp / f"burst-{name}-{i}"
        data_dir.mkdir()
        out.append(asyncio.run(burst_run(data_dir, env=env, in_loop=in_loop, **sizes)))

    def med(path: tuple[str, ...]) -> float:
        values = []
        for r in out:
            v: Any = r
            for key in path:
                v = v[key]
            if v is not None:
                values.append(v)
        return round(statistics.median(values), 2) if values else float("nan")

    keys_all = [k for r in out for k in r["key_handed_to_delete_s"]]
    return {
        "mode": name,
        "fake": "in_loop" if in_loop else "process",
        "runs": runs,
        **{k: v for k, v in sizes.items()},
        "median_reply_queued_p50_ms": med(("reply_queued", "p50_ms")),
        "median_reply_queued_p99_ms": med(("reply_queued", "p99_ms")),
        "median_reply_handed_p99_ms": med(("reply_handed", "p99_ms")),
        "median_key_handed_to_delete_p99_ms": med(("key_handed_to_delete", "p99_ms")),
        "key_handed_to_delete_all_runs_p99_ms": round(percentile(keys_all, 99) * 1000, 2)
        if keys_all
        else float("nan"),
        "median_notification_share_pct": med(("notification_share_pct",)),
        "median_notifications_in_window": med(("notifications_in_window",)),
        "total_429": sum(r["rate_limited_429"] for r in out),
        "total_violations": sum(r["violations"] for r in out),
        "every_run": out,
    }


def run_burst(
    quick: bool = False, runs: int = 5, burst_users: int = 200, notifications: int = 10_000,
    keyers: int = 20, window: float = 20.0, modes: tuple[str, ...] = ("free", "paid"),
    in_loop: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    warnings.filterwarnings("ignore", category=PTBUserWarning)
    if quick:
        runs, burst_users, notifications, keyers, window = 1, 20, 300, 3, 3.0
    sizes = {
        "burst_users": burst_users,
        "notifications": notifications,
        "keyers": keyers,
        "window": window,
    }
    envs = {"free": {}, "paid": PAID_ENV}
    with tempfile.TemporaryDirectory(prefix="nija-bench-burst-") as tmp_name:
        return [_burst_mode(Path(tmp_name), m, runs, sizes, envs[m], in_loop) for m in modes]


def _since(api: TimedBotAPI, chat_id: int, message_id: int, at: float) -> float:
    """Milliseconds from the getUpdates answer that handed the message to the bot."""
    handed = api.handed.get((chat_id, message_id))
    return round((at - handed) * 1000, 2) if handed is not None else float("nan")


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2) if runs else float("nan")


def _mode(tmp: Path, name: str, runs: int, flood: int, legacy: bool) -> dict[str, Any]:
    out = []
    for i in range(runs):
        data_dir = tmp / f"{name}-{i}"
        data_dir.mkdir()
        out.append(asyncio.run(one_run(data_dir, flood, legacy)))
    return {
        "processor": name,
        "runs": runs,
        "flood": flood,
        "median_key_queued_to_delete_ms": _median(out, "key_queued_to_delete_ms"),
        "median_status_queued_to_reply_ms": _median(out, "status_queued_to_reply_ms"),
        "median_key_handed_to_delete_ms": _median(out, "key_handed_to_delete_ms"),
        "median_status_handed_to_reply_ms": _median(out, "status_handed_to_reply_ms"),
        "median_flood_dropped": _median(out, "flood_dropped"),
        "every_run": out,
    }


def run(
    quick: bool = False, runs: int = 5, flood: int = 600, legacy_runs: int = 3,
    legacy_flood: int = 300, burst_runs: int = 5, fake_in_loop: bool = False,
    burst_keyers: int = 20,
) -> dict[str, Any]:  # fmt: skip
    warnings.filterwarnings("ignore", category=PTBUserWarning)
    if quick:
        runs, flood, legacy_runs, legacy_flood = 1, 40, 1, 40
    with tempfile.TemporaryDirectory(prefix="nija-bench-fair-") as tmp_name:
        tmp = Path(tmp_name)
        modes = [_mode(tmp, "per_user_first", runs, flood, legacy=False)]
        if legacy_runs:
            modes.append(_mode(tmp, "slot_first", legacy_runs, legacy_flood, legacy=True))
    burst = (
        run_burst(quick, runs=burst_runs, keyers=burst_keyers, in_loop=fake_in_loop)
        if burst_runs
        else []
    )
    return {
        "benchmark": "fairness",
        "quick": quick,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": machine().get("cores"),
        "modes": modes,
        "burst": burst,
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        HEADING,
        "",
        "`bench/fairness.py` (run by hand: `python -m bench.fairness`; it rewrites only "
        "this section). One user sends a flood of plain messages as fast as the fake Bot "
        "API takes them; right after, a second user at the /connect credential step sends "
        "an API key and a third sends /status. Measured from queueing at the fake (or from "
        "the getUpdates answer that handed the message to the bot) to the key's "
        "deleteMessage and to the /status reply arriving there; each run on a fresh bot. "
        "The queued → handed part is the bot fetching the flood before it (100 updates per "
        "getUpdates). `slot_first` is the earlier processor (a shared slot, then the per-user "
        "lock, no cap), kept in the benchmark for comparison; its flood is smaller because "
        "each flood message beyond the 256 slots costs the others about one second (every "
        "flood reply is paced at one message per second in the flooder's chat).",
        "",
        f"Measured {result.get('measured_at')}"
        + (" (**--quick sizes: not representative**)" if result.get("quick") else "")
        + ".",
        "",
        "| processor | flood | runs | key queued → deleted | key handed → deleted "
        "| /status queued → reply | /status handed → reply | flood dropped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in result["modes"]:
        lines.append(
            f"| {m['processor']} | {m['flood']} | {m['runs']} "
            f"| {m['median_key_queued_to_delete_ms']} ms "
            f"| {m['median_key_handed_to_delete_ms']} ms "
            f"| {m['median_status_queued_to_reply_ms']} ms "
            f"| {m['median_status_handed_to_reply_ms']} ms | {m['median_flood_dropped']} |"
        )
    lines += [
        "",
        "Every run:",
        "",
        "| processor | run | flood | key queued / handed → deleted "
        "| /status queued / handed → reply | flood replies before the /status reply "
        "| flood dropped | 'skipped' notices |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in result["modes"]:
        for i, r in enumerate(m["every_run"], 1):
            lines.append(
                f"| {m['processor']} | {i} | {r['flood']} "
                f"| {r['key_queued_to_delete_ms']} / {r['key_handed_to_delete_ms']} ms "
                f"| {r['status_queued_to_reply_ms']} / {r['status_handed_to_reply_ms']} ms "
                f"| {r['flood_replies_before_status']} "
                f"| {r['flood_dropped']} | {r['skipped_notices']} |"
            )
    lines += [
        "",
        "With the per-user lock taken before a shared slot, the flood waits in its own "
        "queue (at most 20 updates; the rest are dropped and the flooder is told once), "
        "and a key message is deleted the moment it arrives, whatever queue it would wait "
        "in. With the slot taken first, the flood's updates hold every slot while they "
        "wait their turn, and everyone else, deletions included, waits behind them.",
    ]
    if result.get("burst"):
        lines += ["", *render_burst(result)]
    return "\n".join(lines)


def render_burst(result: dict[str, Any]) -> list[str]:
    burst = result["burst"]
    first = burst[0]
    lines = [
        "### 200 users at once over 10,000 queued notifications",
        "",
        f"{first['burst_users']} users send /status at the same instant while "
        f"{first['notifications']} notifications (one per chat: 5 % stop alerts, 25 % "
        f"summaries, the rest fills) wait in the outbox, and {first['keyers']} users at the "
        "/connect credential step send their key at that instant; the fake Bot API "
        "enforces 30 messages/s per bot and 1 per second per chat (429 beyond). The bot "
        "process sends both through one budget: replies first, then alerts, fills, "
        "summaries. Reply latency from queueing at the fake (what the user waits) and "
        "from the getUpdates answer that handed the command to the bot; the key's "
        "handed → deleteMessage (the secret exposure window); notifications sent in the "
        f"{first['window']:g} s after the burst against what the replies left of the free "
        "30/s; 429s and requests inside a penalty window over the whole run. "
        f"Machine: {result.get('cpus')} CPU(s), shared with other work while measured.",
        "",
        "| mode | runs | reply p50 (queued) | reply p99 (queued) | reply p99 (handed) "
        "| key handed → deleted p99 | notifications / what replies left | 429s "
        "| in penalty window |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in burst:
        lines.append(
            f"| {m['mode']} | {m['runs']} | {m['median_reply_queued_p50_ms']} ms "
            f"| {m['median_reply_queued_p99_ms']} ms | {m['median_reply_handed_p99_ms']} ms "
            f"| {m['median_key_handed_to_delete_p99_ms']} ms "
            f"| {m['median_notification_share_pct']} % | {m['total_429']} "
            f"| {m['total_violations']} |"
        )
    lines += [
        "",
        "Every run:",
        "",
        "| mode | run | replies all in | reply p50 / p99 (queued) | reply p99 (handed) "
        "| key deleted p50 / p99 | replies (paid) in window | notifications (paid) in window "
        "| free left by replies | share | 429s | max/s bot, chat |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in burst:
        for i, r in enumerate(m["every_run"], 1):
            lines.append(
                f"| {m['mode']} | {i} | {r['replies_all_in_s']} s "
                f"| {r['reply_queued']['p50_ms']} / {r['reply_queued']['p99_ms']} ms "
                f"| {r['reply_handed']['p99_ms']} ms "
                f"| {r['key_handed_to_delete']['p50_ms']} / "
                f"{r['key_handed_to_delete']['p99_ms']} ms "
                f"| {r['replies_in_window']} ({r['paid_replies']}) "
                f"| {r['notifications_in_window']} ({r['paid_notifications']}) "
                f"| {r['free_left_by_replies']} | {r['notification_share_pct']} % "
                f"| {r['rate_limited_429']} "
                f"| {r['max_per_bot_per_s']}, {r['max_per_chat_per_s']} |"
            )
    sec = result.get("secret_window_under_load")
    if sec:
        h = sec["handed_to_delete"]
        lines += [
            "",
            f"`bench/secret_window.py` under the same load (free mode, {sec['runs']} runs of "
            f"{sec['keyers']} keys each, every sample pooled): key handed → deleteMessage "
            f"p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms, max {h['max_ms']} ms (n={h['n']}); "
            "per run p99: "
            + ", ".join(f"{r['handed_to_delete']['p99_ms']} ms" for r in sec["every_run"])
            + ".",
        ]
    lines += [
        "",
        "With the free 30 messages/s, 200 replies cannot all arrive within 2 s: the last "
        "one is at least 200 / 30 = 6.7 s away whatever the bot does (the fake counts "
        "replies in the 30/s as Telegram's limit is documented; Telegram does not publish "
        "whether replies to users are exempt). Replies take every token until they are "
        "all out, so their p99 is that floor plus the bot's own time; the notifications "
        "take the rest (the share column). With paid broadcasts on "
        "(`NIJA_PAID_BROADCAST_RATE`), the replies the free 30/s cannot take at once go "
        "as paid broadcasts (0.1 Telegram Stars each) and the notifications keep the free "
        "budget; the burst then costs CPU instead of waiting: 200 handlers and their "
        "sends compete for the bot's event loop (the fake Bot API "
        + (
            "runs in that loop too, `--fake-in-loop`"
            if first.get("fake") == "in_loop"
            else "runs in a process of its own, on the same 2 shared cores"
        )
        + "); the bot writes a deletion, a reply or a notification at once on a kept-open "
        "connection when one is idle (nija_tg/telegram_out/direct_http.py), so what "
        "they wait for is the handlers' CPU, not the HTTP client.",
    ]
    return lines


def write_docs(result: dict[str, Any], path: Path = DOCS) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (from its heading to the
    next "## " heading, the convention of the other section writers), or insert it before
    "## Raw results" (at the end when there is none); every other line stays."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    body = render(result).rstrip("\n") + "\n\n"
    start = text.find(HEADING)
    if start >= 0:
        nxt = text.find("\n## ", start + len(HEADING))
        text = text[:start] + body + ("" if nxt < 0 else text[nxt + 1 :])
    elif (anchor := text.find("## Raw results")) >= 0:
        text = text[:anchor] + body + text[anchor:]
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    logging.getLogger("nija_tg").setLevel(logging.WARNING)
    parser = bench_args(__doc__ or "")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--flood", type=int, default=600)
    parser.add_argument("--legacy-runs", type=int, default=3)
    parser.add_argument("--legacy-flood", type=int, default=300)
    parser.add_argument("--burst-runs", type=int, default=5, help="0: skip the burst")
    parser.add_argument("--burst-keyers", type=int, default=20)
    parser.add_argument(
        "--fake-in-loop",
        action="store_true",
        help="the burst's fake Bot API in the bot's event loop (the earlier setup) instead "
        "of a process of its own",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    args = parser.parse_args(argv)
    result = run(
        args.quick, args.runs, args.flood, args.legacy_runs, args.legacy_flood,
        args.burst_runs, args.fake_in_loop, args.burst_keyers,
    )  # fmt: skip
    if not args.quick and not args.no_docs:
        write_docs(result)
    emit(result, args.json)


if __name__ == "__main__":
    main()
