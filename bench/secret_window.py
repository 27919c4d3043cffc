"""Secret exposure window: from the fake Bot API handing a message that carries a
credential to the bot (the getUpdates answer) to the bot's deleteMessage for it arriving
at the fake; also from the message being queued (injection).

Each run: ``/connect kraken`` (the bot asks for the API key), then the key as a text
message, which the /connect conversation deletes before anything else. Several users run
at once; each waits for the bot's prompts (paced 1 message/s per chat) before going on.

Every reply and every deleteMessage passes python-telegram-bot's overall rate limiter
(each request with a chat_id does), so the budget the bot keeps for itself
(30 - NIJA_SENDER_RATE per second) bounds the runs per second; this benchmark runs with
``NIJA_SENDER_RATE=1`` (29 requests/s for the bot), and a short second pass with the
default configuration (5/s) shows the effect of that budget.

    .venv/bin/python -m bench.secret_window [--quick] [--runs 1000]
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from telegram.warnings import PTBUserWarning

from bench.bot_driver import start_timed_bot, stop_bot
from bench.common import bench_args, emit, summary_ms
from tests.handlers.harness import BotHarness

FIRST_USER = 800_000
TIMEOUT = 120.0
FAKE_KEY = "BENCHkey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"


async def _reply(bot: BotHarness, uid: int, text: str) -> None:
    fut = bot.api.expect("sendMessage", uid)  # type: ignore[attr-defined]
    bot.api.user_message(uid, text)
    await asyncio.wait_for(fut, TIMEOUT)


async def one_run(bot: BotHarness, uid: int) -> tuple[float, float]:
    """(handed -> delete, injected -> delete) in seconds for one credential message."""
    api = bot.api
    await _reply(bot, uid, "/connect kraken")
    deleted = api.expect("deleteMessage", uid)  # type: ignore[attr-defined]
    prompt = api.expect("sendMessage", uid)  # type: ignore[attr-defined]
    injected = time.monotonic()
    message_id = api.user_message(uid, FAKE_KEY)
    at = await asyncio.wait_for(deleted, TIMEOUT)
    await asyncio.wait_for(prompt, TIMEOUT)
    handed = api.handed.get((uid, message_id), injected)  # type: ignore[attr-defined]
    return at - handed, at - injected


async def _pass(data_dir: Path, users: int, runs: int, env: dict[str, str]) -> dict[str, Any]:
    uids = [FIRST_USER + i for i in range(users)]
    bot = await start_timed_bot(data_dir, uids, **env)
    samples: list[tuple[float, float]] = []
    try:
        await _reply(bot, uids[0], "/help")  # warm up
        per_user = [runs // users + (1 if i < runs % users else 0) for i in range(users)]

        async def user(uid: int, count: int) -> None:
            for _ in range(count):
                samples.append(await one_run(bot, uid))

        started = time.monotonic()
        await asyncio.gather(*(user(u, n) for u, n in zip(uids, per_user, strict=True)))
        elapsed = time.monotonic() - started
        undeleted = sum(1 for r in bot.api.requests if r.method == "deleteMessage" and not r.ok)
    finally:
        await stop_bot(bot)
    return {
        "runs": len(samples),
        "users": users,
        "elapsed_s": round(elapsed, 1),
        "runs_per_s": round(len(samples) / elapsed, 1) if elapsed else 0.0,
        "failed_deletes": undeleted,
        "handed_to_delete": summary_ms([s[0] for s in samples]),
        "injected_to_delete": summary_ms([s[1] for s in samples]),
    }


def run(quick: bool = False, runs: int = 1000) -> dict[str, Any]:
    warnings.filterwarnings("ignore", category=PTBUserWarning)
    if quick:
        runs = 6
    with tempfile.TemporaryDirectory(prefix="nija-bench-secret-") as tmp:
        main_dir, default_dir = Path(tmp) / "main", Path(tmp) / "default"
        main_dir.mkdir()
        default_dir.mkdir()
        main = asyncio.run(_pass(main_dir, 3 if quick else 20, runs, {"NIJA_SENDER_RATE": "1"}))
        out: dict[str, Any] = {"benchmark": "secret_window", "bot_budget_29_per_s": main}
        if not quick:
            out["default_budget_5_per_s"] = asyncio.run(_pass(default_dir, 20, 40, {}))
    return out


def main(argv: list[str] | None = None) -> None:
    logging.getLogger("nija_tg").setLevel(logging.WARNING)
    parser = bench_args(__doc__ or "")
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args(argv)
    emit(run(args.quick, args.runs), args.json)


if __name__ == "__main__":
    main()
