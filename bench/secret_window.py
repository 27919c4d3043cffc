"""Secret exposure window: from the fake Bot API handing a message that carries a
credential to the bot (the getUpdates answer) to the bot's deleteMessage for it arriving
at the fake; also from the message being queued (injection).

Each run: ``/connect kraken`` (the bot asks for the API key), then the key as a text
message, which the /connect conversation deletes before anything else. Several users run
at once; each waits for the bot's prompts (paced 1 message/s per chat) before going on.

Replies spend the bot's one outgoing budget (30 messages/s, replies before
notifications); deleteMessage takes no token and never waits, and goes through the bot's
deletion lane (nija_tg/telegram_out/deletion_lane.py: started eagerly as the update is
queued, written at once on a kept-open connection, else an HTTP connection of its own).

The fake Bot API runs in a process of its own, as Telegram is remote, and the users'
side runs there too (bench/fake_side.py): both ends of every interval are taken in the
fake's process. ``--fake-in-loop`` runs it in the bot's event loop (the earlier setup, for
comparison). The first pass runs the
default configuration with no notification traffic (the replies' pacing bounds the runs
per second). The second pass (``under_burst_load``) is bench/fairness.py's burst: 200
users send /status at the same instant while 10,000 notifications wait in the outbox,
and ``--load-keyers`` (50) users at the /connect credential step send their key at that
instant; ``--load-runs`` (3) runs, every sample kept.

    .venv/bin/python -m bench.secret_window [--quick] [--runs 1000] [--load-runs 3]
        [--fake-in-loop] [--paid]
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

from bench import fairness
from bench.bot_driver import start_bot_over, stop_bot
from bench.common import bench_args, emit, percentile, summary_ms
from bench.fake_side import make_fake
from tests.conftest import TEST_TOKEN

FIRST_USER = 800_000
FAKE_KEY = "BENCHkey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"


async def _pass(
    data_dir: Path, users: int, runs: int, env: dict[str, str], in_loop: bool
) -> dict[str, Any]:
    uids = [FIRST_USER + i for i in range(users)]
    fake = make_fake(TEST_TOKEN, in_loop=in_loop)
    bot = await start_bot_over(fake, data_dir, uids, **env)
    samples: list[list[float]] = []
    try:
        await fake.call("reply", uid=uids[0], text="/help")  # warm up
        per_user = [runs // users + (1 if i < runs % users else 0) for i in range(users)]

        async def user(uid: int, count: int) -> None:
            samples.extend(await fake.call("connect_runs", uid=uid, count=count, key=FAKE_KEY))

        started = time.monotonic()
        await asyncio.gather(*(user(u, n) for u, n in zip(uids, per_user, strict=True)))
        elapsed = time.monotonic() - started
        undeleted = await fake.call("failed_deletes")
    finally:
        await stop_bot(bot)
    return {
        "fake": "in_loop" if in_loop else "process",
        "runs": len(samples),
        "users": users,
        "elapsed_s": round(elapsed, 1),
        "runs_per_s": round(len(samples) / elapsed, 1) if elapsed else 0.0,
        "failed_deletes": undeleted,
        "handed_to_delete": summary_ms([s[0] for s in samples]),
        "injected_to_delete": summary_ms([s[1] for s in samples]),
    }


def under_load(
    quick: bool, runs: int, keyers: int, in_loop: bool = False, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The secret window while 200 replies and 10,000 notifications compete (one
    bench.fairness burst per run; free mode, the default configuration)."""
    sizes = {"burst_users": 200, "notifications": 10_000, "keyers": keyers, "window": 2.0}
    if quick:
        runs, sizes = 1, {"burst_users": 20, "notifications": 300, "keyers": 3, "window": 1.0}
    every = []
    with tempfile.TemporaryDirectory(prefix="nija-bench-secret-load-") as tmp:
        for i in range(runs):
            data_dir = Path(tmp) / f"run-{i}"
            data_dir.mkdir()
            every.append(
                asyncio.run(fairness.burst_run(data_dir, env=env or {}, in_loop=in_loop, **sizes))
            )
    samples = [k for r in every for k in r["key_handed_to_delete_s"]]
    return {
        "fake": "in_loop" if in_loop else "process",
        "paid": bool(env),
        "runs": runs,
        **sizes,
        "handed_to_delete": summary_ms(samples),
        "median_run_p99_ms": round(
            percentile([r["key_handed_to_delete"]["p99_ms"] for r in every], 50), 2
        ),
        "every_run": [
            {
                "handed_to_delete": r["key_handed_to_delete"],
                "reply_queued_p99_ms": r["reply_queued"]["p99_ms"],
                "reply_queued_p50_ms": r["reply_queued"]["p50_ms"],
                "notification_share_pct": r["notification_share_pct"],
                "pending_at_burst": r["pending_at_burst"],
                "rate_limited_429": r["rate_limited_429"],
            }
            for r in every
        ],
    }


def run(
    quick: bool = False,
    runs: int = 1000,
    load_runs: int = 3,
    load_keyers: int = 50,
    in_loop: bool = False,
    paid: bool = False,
) -> dict[str, Any]:
    warnings.filterwarnings("ignore", category=PTBUserWarning)
    if quick:
        runs = 6
    out: dict[str, Any] = {"benchmark": "secret_window"}
    if runs:
        with tempfile.TemporaryDirectory(prefix="nija-bench-secret-") as tmp:
            main_dir = Path(tmp) / "main"
            main_dir.mkdir()
            out["quiet"] = asyncio.run(_pass(main_dir, 3 if quick else 20, runs, {}, in_loop))
    if load_runs:
        env = fairness.PAID_ENV if paid else {}
        out["under_burst_load"] = under_load(quick, load_runs, load_keyers, in_loop, env)
    return out


def main(argv: list[str] | None = None) -> None:
    logging.getLogger("nija_tg").setLevel(logging.WARNING)
    parser = bench_args(__doc__ or "")
    parser.add_argument("--runs", type=int, default=1000, help="0: skip the quiet pass")
    parser.add_argument("--load-runs", type=int, default=3, help="0: skip the burst pass")
    parser.add_argument("--load-keyers", type=int, default=50)
    parser.add_argument(
        "--fake-in-loop",
        action="store_true",
        help="the fake Bot API in the bot's event loop (the earlier setup) instead of a "
        "process of its own",
    )
    parser.add_argument(
        "--paid", action="store_true", help="the burst with paid broadcasts on (replies' tail)"
    )
    args = parser.parse_args(argv)
    result = run(
        args.quick, args.runs, args.load_runs, args.load_keyers, args.fake_in_loop, args.paid
    )
    emit(result, args.json)


if __name__ == "__main__":
    main()
