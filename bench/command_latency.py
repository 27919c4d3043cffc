"""Command latency: simulated users sending /status, /balance and /positions through the
real bot (python-telegram-bot, long polling) and the fake Bot API on 127.0.0.1. Latency
is from the update being queued at the fake ("injection") to the bot's sendMessage
arriving there; also reported from the getUpdates answer that handed it to the bot.
These replies read the database only (no exchange call).

Scenarios (distinct users, each waiting for its reply and for the 1 message/s per chat
pacing before its next command):

* ``idle``: one command at a time;
* ``steady``: 200 users, ~22 commands/s in total, the bot's outgoing budget raised to
  25 messages/s (``NIJA_SENDER_RATE=5``) so it is not the bottleneck;
* ``burst_default``: 200 users send /status at the same instant, default configuration
  (the bot keeps 30 - NIJA_SENDER_RATE = 5 messages/s for itself).

    .venv/bin/python -m bench.command_latency [--quick]
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from telegram.warnings import PTBUserWarning

from bench.bot_driver import start_timed_bot, stop_bot
from bench.common import bench_args, emit, summary_ms
from tests.handlers.harness import BotHarness

COMMANDS = ("/status", "/balance", "/positions")
FIRST_USER = 700_000
REPLY_TIMEOUT = 120.0


async def command(bot: BotHarness, uid: int, text: str) -> tuple[float, float]:
    """Send ``text`` as ``uid``; (seconds injection -> reply, handed -> reply)."""
    api = bot.api
    fut = api.expect("sendMessage", uid)  # type: ignore[attr-defined]
    injected = time.monotonic()
    message_id = api.user_message(uid, text)
    replied = await asyncio.wait_for(fut, REPLY_TIMEOUT)
    handed = api.handed.get((uid, message_id), injected)  # type: ignore[attr-defined]
    return replied - injected, replied - handed


async def _user(bot: BotHarness, uid: int, start: float, gap: float, out: list) -> None:
    await asyncio.sleep(start)
    for text in COMMANDS:
        began = time.monotonic()
        out.append(await command(bot, uid, text))
        await asyncio.sleep(max(1.1, gap - (time.monotonic() - began)))


async def _scenario(
    data_dir: Path, users: list[int], env: dict[str, str], body
) -> list[tuple[float, float]]:
    bot = await start_timed_bot(data_dir, users, **env)
    try:
        for uid in users[:3]:  # warm up PTB, the database and the handlers
            await command(bot, uid, "/help")
        await asyncio.sleep(1.2)
        return await body(bot)
    finally:
        await stop_bot(bot)


def _report(samples: list[tuple[float, float]], **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "inject_to_reply": summary_ms([s[0] for s in samples]),
        "handed_to_reply": summary_ms([s[1] for s in samples]),
    }


async def _run(quick: bool, workdir: Path) -> dict[str, Any]:
    n_users = 4 if quick else 200
    n_idle = 60
    gap = 1.2 if quick else 9.0
    rng = random.Random(7)
    users = [FIRST_USER + i for i in range(n_users)]

    async def idle(bot: BotHarness) -> list:
        out = []
        for i in range(n_idle):
            out.append(await command(bot, users[i % n_users], COMMANDS[i % 3]))
            await asyncio.sleep(0.05 if i % n_users else 1.1)
        return out

    async def steady(bot: BotHarness) -> list:
        out: list = []
        starts = [rng.uniform(0, gap) for _ in users]
        await asyncio.gather(
            *(_user(bot, u, s, gap, out) for u, s in zip(users, starts, strict=True))
        )
        return out

    async def burst(bot: BotHarness) -> list:
        return list(await asyncio.gather(*(command(bot, u, "/status") for u in users)))

    fast = {"NIJA_SENDER_RATE": "5"}
    started = time.monotonic()
    out: dict[str, Any] = {"benchmark": "command_latency", "users": n_users}
    if not quick:
        a = await _scenario(workdir / "idle", users, fast, idle)
        out["idle"] = _report(a, commands=len(a), bot_budget_per_s=25)
    b = await _scenario(workdir / "steady", users, fast, steady)
    offered = len(b) / (gap * len(COMMANDS))
    out["steady"] = _report(
        b, commands=len(b), offered_per_s=round(offered, 1), bot_budget_per_s=25
    )
    if not quick:
        c = await _scenario(workdir / "burst", users, {}, burst)
        out["burst_default"] = _report(c, commands=len(c), bot_budget_per_s=5)
    out["elapsed_s"] = round(time.monotonic() - started, 1)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    warnings.filterwarnings("ignore", category=PTBUserWarning)
    with tempfile.TemporaryDirectory(prefix="nija-bench-cmd-") as tmp:
        workdir = Path(tmp)
        for sub in ("idle", "steady", "burst"):
            (workdir / sub).mkdir()
        return asyncio.run(_run(quick, workdir))


def main(argv: list[str] | None = None) -> None:
    logging.getLogger("nija_tg").setLevel(logging.WARNING)
    args = bench_args(__doc__ or "").parse_args(argv)
    emit(run(args.quick), args.json)


if __name__ == "__main__":
    main()
