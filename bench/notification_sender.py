"""Notification sender: 10,000 notifications for 2,000 chats, queued over 300 s, through
the engine's Sender against the fake Bot API enforcing Telegram's limits (30 messages/s
per bot, 1 per second per chat). Runs ``tests.engine.storm`` and adds, from the outbox,
the delay from each event (row created) to its delivery (Telegram's answer).

    .venv/bin/python -m bench.notification_sender [--quick]
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench.common import bench_args, emit, summary_ms
from tests.engine import storm

FULL = ["--notifications", "10000", "--chats", "2000", "--spread", "300"]
QUICK = ["--notifications", "60", "--chats", "20", "--spread", "1", "--timeout", "60"]


def _delays(db_path: Path) -> list[float]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT sent_at - created_at FROM outbox WHERE status = 'sent' AND sent_at IS NOT NULL"
        ).fetchall()
    return [float(r[0]) for r in rows]


def run(quick: bool = False) -> dict[str, Any]:
    args = storm._parse(QUICK if quick else FULL)
    with tempfile.TemporaryDirectory(prefix="nija-bench-sender-") as tmp:
        report = asyncio.run(storm.storm(args, Path(tmp)))
        delays = _delays(Path(tmp) / "storm.sqlite3")
    messages = report["sender"]["messages"]
    elapsed = report["elapsed_s"]
    # The sender is busy from the first row to the last delivery; its budget bounds it.
    achieved = messages / elapsed if elapsed else 0.0
    return {
        "benchmark": "notification_sender",
        "notifications": args.notifications,
        "chats": args.chats,
        "spread_s": args.spread,
        "budget_per_s": args.sender_rate,
        "fake_limits": {"per_bot_per_s": args.bot_limit, "per_chat_per_s": args.chat_limit},
        "elapsed_s": elapsed,
        "messages": messages,
        "digests": report["sender"]["digests"],
        "messages_per_s": round(achieved, 2),
        "budget_used_pct": round(100 * achieved / args.sender_rate, 1),
        "rate_limited_429": report["rate_limited_429"],
        "violations": report["violations"],
        "max_per_chat_per_s": report["max_per_chat_per_s"],
        "max_per_bot_per_s": report["max_per_bot_per_s"],
        "lost": report["lost"],
        "duplicates": report["duplicates"],
        "delay_event_to_send": {
            k.replace("_ms", "_s"): round(v / 1000, 2) if k.endswith("_ms") else v
            for k, v in summary_ms(delays).items()
        },
        "storm_ok": storm.ok(report, args),
    }


def main(argv: list[str] | None = None) -> None:
    args = bench_args(__doc__ or "").parse_args(argv)
    emit(run(args.quick), args.json)


if __name__ == "__main__":
    main()
