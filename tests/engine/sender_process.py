"""Run as a child process: the notification sender against a fake Bot API.

``python -m tests.engine.sender_process DB BASE_URL TOKEN [RATE]`` prints ``ready`` once
started, delivers until SIGTERM, then drains (5 s) and prints ``drained <left> <stats>``.
Used by the kill -9 test."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from telegram import Bot

from nija_tg.storage.db import Database
from nija_tg.telegram_out.outbox_sender import Sender


async def main(path: Path, base_url: str, token: str, rate: float) -> None:
    db = await Database.open(path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with Bot(token, base_url=base_url) as bot:
            sender = Sender(db, bot, rate=rate)
            print("ready", flush=True)
            await sender.run(stop)
            left = await sender.drain(time.monotonic() + 5)
            print(f"drained {left} {json.dumps(sender.stats.as_dict())}", flush=True)
    finally:
        await db.close()


if __name__ == "__main__":
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 25.0
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], rate))
