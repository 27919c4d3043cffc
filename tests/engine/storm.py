"""Notification storm against the fake Bot API with flood limits enforced (``make chaos``).

    .venv/bin/python -m tests.engine.storm --notifications 10000 --chats 2000 \\
        --bot-limit 30 --sender-rate 25 --spread 300

Queues ``--notifications`` rows for ``--chats`` users, evenly over ``--spread`` seconds
(0: all at once), while the sender runs; then waits until all are delivered (or
``--timeout``). Prints a JSON report and exits 1 if anything was lost, Telegram answered
429, a retry window was violated, or a limit was exceeded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from telegram import Bot

from nija_tg.core.models import Role
from nija_tg.storage import outbox, users
from nija_tg.storage.db import Database
from nija_tg.telegram_out.outbox_sender import Sender
from tests.fakes.telegram_api import FakeBotAPI

MARK = re.compile(r"#(\d+)#")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--notifications", type=int, default=10_000)
    p.add_argument("--chats", type=int, default=2_000)
    p.add_argument("--bot-limit", type=float, default=30.0, help="fake's messages/s per bot")
    p.add_argument("--chat-limit", type=float, default=1.0, help="fake's messages/s per chat")
    p.add_argument("--sender-rate", type=float, default=25.0, help="NIJA_SENDER_RATE")
    p.add_argument("--max-in-flight", type=int, default=8)
    p.add_argument("--spread", type=float, default=300.0, help="seconds to queue over")
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


async def _produce(db: Database, sender: Sender, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    batch = 50
    pause = args.spread * batch / max(args.notifications, 1)
    for start in range(0, args.notifications, batch):
        async with db.transaction() as tx:
            for i in range(start, min(start + batch, args.notifications)):
                await outbox.enqueue(tx, rng.randint(1, args.chats), "fill", f"fill #{i}#")
        sender.notify()
        if pause:
            await asyncio.sleep(pause)


async def storm(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db = await Database.open(workdir / "storm.sqlite3")
    try:
        async with db.transaction() as tx:
            for uid in range(1, args.chats + 1):
                await users.upsert_user(tx, uid, uid, None, "Storm", Role.TRADER)
        async with FakeBotAPI(
            enforce_limits=True,
            per_bot_per_second=args.bot_limit,
            per_chat_per_second=args.chat_limit,
        ) as api:
            async with Bot(api.token, base_url=api.base_url) as bot:
                sender = Sender(db, bot, rate=args.sender_rate, max_in_flight=args.max_in_flight)
                stop = asyncio.Event()
                started = time.monotonic()
                runner = asyncio.create_task(sender.run(stop))
                await _produce(db, sender, args)
                deadline = started + args.timeout
                while time.monotonic() < deadline:
                    if (await outbox.counts(db))["sent"] >= args.notifications:
                        break
                    await asyncio.sleep(0.2)
                elapsed = time.monotonic() - started
                stop.set()
                await runner
            seen: Counter[int] = Counter()
            for r in api.requests:
                if r.ok and r.method == "sendMessage":
                    seen.update(int(m) for m in MARK.findall(str(r.params.get("text", ""))))
            return {
                "notifications": args.notifications,
                "chats": args.chats,
                "elapsed_s": round(elapsed, 1),
                "delivered_rows": len(seen),
                "lost": args.notifications - len(seen),
                "duplicates": sum(n - 1 for n in seen.values()),
                "rate_limited_429": len(api.rate_limited),
                "violations": len(api.violations),
                "max_per_chat_per_s": api.max_rate_per_chat(),
                "max_per_bot_per_s": api.max_rate_per_bot(),
                "outbox": await outbox.counts(db),
                "sender": sender.stats.as_dict(),
            }
    finally:
        await db.close()


def ok(report: dict[str, Any], args: argparse.Namespace) -> bool:
    return (
        report["lost"] == 0
        and report["rate_limited_429"] == 0
        and report["violations"] == 0
        and report["max_per_chat_per_s"] <= max(1, int(args.chat_limit))
        and report["max_per_bot_per_s"] <= int(args.bot_limit)
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory(prefix="nija-storm-") as tmp:
        report = asyncio.run(storm(args, Path(tmp)))
    passed = ok(report, args)
    print(json.dumps({**report, "ok": passed}, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
