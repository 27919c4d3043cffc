"""Fairness under a flood: one user sends ``--flood`` messages as fast as the fake Bot
API takes them; right after, another user (waiting at the /connect credential step)
sends an API key and a third user sends /status. Measured, from the update being queued
at the fake: until the key message's deleteMessage arrives there, and until the /status
reply arrives. Also counted: the flooder's updates dropped by the per-user cap and the
"I skipped some messages" notices.

Two update processors, each run on a fresh bot (the real Application from
nija_tg.bot_main against the fake Bot API, in this process):

* ``per_user_first``: nija_tg's PerUserUpdateProcessor (the per-user lock before a shared
  slot, at most 20 queued updates per user, secrets deleted on arrival);
* ``slot_first``: the earlier order, kept here only for comparison: a shared slot
  first, then the per-user lock, no cap (the flood's updates hold every slot while they
  wait for their turn). Its runs use ``--legacy-flood`` messages (the victim waits about
  one second per flood message beyond the 256 slots, because each flood reply is paced at
  one message per second per chat).

Each run's flood backlog is abandoned (its update tasks cancelled) once the victims have
their answers, so runs do not add up. The report is the median of the runs and every
run; it replaces its own section of docs/benchmarks.md (``--no-docs``: print only).

    .venv/bin/python -m bench.fairness [--quick] [--runs 5] [--flood 600]
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
from bench.common import REPO, bench_args, emit
from nija_tg.bot_main import build_application
from nija_tg.handlers.update_processor import SKIPPED, SKIPPED_SECRETS
from tests.conftest import TEST_TOKEN
from tests.handlers.harness import BotHarness, harness_settings, start_engine_side, stop_bot

FIRST_USER = 900_000
TIMEOUT = 600.0
KEY = "BENCHfairKey0123456789abcdefghijklmnopqrstuvwxyzABCD"
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Fairness under a flood"


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
    legacy_flood: int = 300,
) -> dict[str, Any]:  # fmt: skip
    warnings.filterwarnings("ignore", category=PTBUserWarning)
    if quick:
        runs, flood, legacy_runs, legacy_flood = 1, 40, 1, 40
    with tempfile.TemporaryDirectory(prefix="nija-bench-fair-") as tmp_name:
        tmp = Path(tmp_name)
        modes = [_mode(tmp, "per_user_first", runs, flood, legacy=False)]
        if legacy_runs:
            modes.append(_mode(tmp, "slot_first", legacy_runs, legacy_flood, legacy=True))
    return {
        "benchmark": "fairness",
        "quick": quick,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "modes": modes,
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
    return "\n".join(lines)


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
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    args = parser.parse_args(argv)
    result = run(args.quick, args.runs, args.flood, args.legacy_runs, args.legacy_flood)
    if not args.quick and not args.no_docs:
        write_docs(result)
    emit(result, args.json)


if __name__ == "__main__":
    main()
