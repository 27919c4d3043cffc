"""Notification sender: 10,000 notifications for 2,000 chats, queued over 300 s, through
the bot process's outbox Sender (nija_tg.telegram_out.outbox_sender, with no reply
traffic: the whole 30/s budget, ``NIJA_SENDER_RATE=30``) against the fake Bot API
enforcing Telegram's limits (30 messages/s per bot, 1 per second per chat). Runs
``tests.engine.storm`` and adds, from the outbox, the delay from each event (row
created) to its delivery (Telegram's answer). Replies competing with notifications are
bench/fairness.py's burst.

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

FULL = ["--notifications", "10000", "--chats", "2000", "--spread", "300", "--sender-rate", "30"]
QUICK = [
    "--notifications", "60", "--chats", "20", "--spread", "1", "--timeout", "60",
    "--sender-rate", "30",
]  # fmt: skip


def _outbox(db_path: Path) -> tuple[list[float], list[float]]:
    """(event-to-send delays of every sent row, send time of every message). Rows merged
    into one digest share chat and ``sent_at``."""
    with sqlite3.connect(db_path) as conn:
        delays = conn.execute(
            "SELECT sent_at - created_at FROM outbox WHERE status = 'sent' AND sent_at IS NOT NULL"
        ).fetchall()
        sends = conn.execute(
            "SELECT sent_at FROM outbox WHERE status = 'sent' AND sent_at IS NOT NULL "
            "GROUP BY chat_id, sent_at ORDER BY sent_at"
        ).fetchall()
    return [float(r[0]) for r in delays], [float(r[0]) for r in sends]


def busiest_rate(times: list[float], window: float) -> float:
    """Most messages in any ``window`` seconds, per second (the sustained peak)."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    span = min(window, times[-1] - times[0]) if times else 0.0
    return best / span if span > 0 else 0.0


def run(quick: bool = False) -> dict[str, Any]:
    args = storm._parse(QUICK if quick else FULL)
    with tempfile.TemporaryDirectory(prefix="nija-bench-sender-") as tmp:
        report = asyncio.run(storm.storm(args, Path(tmp)))
        delays, sends = _outbox(Path(tmp) / "storm.sqlite3")
    messages = report["sender"]["messages"]
    elapsed = report["elapsed_s"]
    active = sends[-1] - sends[0] if len(sends) > 1 else 0.0
    overall = len(sends) / active if active else 0.0
    window = 2.0 if quick else 60.0
    sustained = busiest_rate(sends, window)
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
        "messages_per_s_first_to_last": round(overall, 2),
        "busiest_window_s": window,
        "messages_per_s_busiest_window": round(sustained, 2),
        "budget_used_pct": round(100 * sustained / args.sender_rate, 1),
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
