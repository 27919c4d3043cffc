"""Candle close -> first order sent, 50 pairs (issue 13 item 5: market data pushed, not
polled).

One LIVE user of the real daemon (reconciler, ``MarketHub``, ``UserLoop``, executor,
the real ``CcxtGateway`` and vault-decrypting account factory) trades 50 Kraken pairs
(the emulator's 8 and 42 made-up ones, ``tests.fakes.kraken_markets.more_pairs``) with
``test_flipflop`` at period 2: every close enters or exits, so every close sends
orders. Time is a paced simulated clock the emulator follows; a close is timed from the
moment the clock reaches the boundary to the arrival of the close's first ``AddOrder``
at the emulator (``time.perf_counter`` on both sides, one process).

Modes:

- ``ws``: candles by WebSocket (Kraken v2 ``ohlc`` from the emulator); at the boundary
  the emulator pushes the first trade of the new candle (``emu.ws.push()``), which
  closes the previous one for the hub.
- ``rest``: the emulator refuses WebSocket connections, so the hub falls back to REST:
  it waits the grace (2 s of real time here, as in production) and then fetches the 50
  pairs concurrently (paced per pair, ``candle_pacing.py``).

Each run starts a fresh database, emulator and daemon, takes 2 warm-up closes (the
first window by REST, the first pushed close) and then ``--closes`` timed ones. Every
run is kept; the headline is the median over runs of each run's p50 / p99.

These runs leave ccxt's rate limiting off. ``--limited-runs N`` adds N runs with it on
for each of ``--limiters`` (``ccxt``: its default spacing, before issue 13's change;
``counter``: Kraken's Starter call counter, ``ccxt_factory.token_bucket``), the emulator
enforcing Kraken's Starter counter (refusals and the counter's peak are reported), with
``--limited-pause`` (``--ccxt-pause`` for ``ccxt``) seconds of real time before each
close.

    .venv/bin/python -m bench.close_to_order [--runs 5] [--closes 20] [--docs docs/benchmarks.md]
    .venv/bin/python -m bench.close_to_order --modes "" --limited-runs 3 --limited-closes 4
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import emit, machine, percentile, summary_ms

TF = 300_000
UID = 4242
ADD_ORDER = "/0/private/AddOrder"
HEADING = "## Candle close to first order (market data pushed, not polled)"


LIMITERS = ("off", "ccxt", "counter")


async def one_run(
    mode: str, closes: int, pairs: int, limiter: str = "off", pause_s: float = 0.0
) -> dict[str, Any]:
    """One run. ``limiter``: ``off`` (ccxt's rate limiting off, the emulator enforces
    nothing: the market-data path alone); ``ccxt`` (ccxt's default spacing for Kraken,
    3 s per private call: before issue 13's change) or ``counter`` (keyed clients paced by
    Kraken's Starter call counter, ``ccxt_factory.token_bucket``: after); in both the
    emulator enforces the Starter counter and every refusal is counted."""
    assert limiter in LIMITERS, limiter
    from nija_tg.config import load_settings
    from nija_tg.core.risk_settings import RiskSettings
    from nija_tg.engine.daemon import Daemon
    from nija_tg.engine_main import account_factory
    from nija_tg.exchange.ccxt_gateway import CcxtGateway
    from nija_tg.runtime import Runtime
    from nija_tg.storage.db import Database
    from nija_tg.vault.keyring import KeyRing
    from tests.engine.live_child import FLIPFLOP, FlipFlopParams, PacedClock, register_flipflop
    from tests.engine.live_rig import arrange_live_user, until
    from tests.fakes.kraken import KrakenEmulator
    from tests.fakes.kraken_markets import PAIRS, more_pairs

    grace_ms = 2_000
    TimedHub = _timed_hub()  # noqa: N806 (a class)
    with tempfile.TemporaryDirectory(prefix="nija-c2o-") as tmp, more_pairs(pairs - len(PAIRS)):
        settings = load_settings({"NIJA_DATA_DIR": tmp}, dotenv=None)
        db = await Database.open(settings.db_path)
        runtime = Runtime(
            dataclasses.replace(settings, engine_drain_seconds=5), db, KeyRing.generate()
        )
        emu = KrakenEmulator(rate_tier=None if limiter == "off" else "starter")
        await emu.start()
        symbols = sorted(PAIRS)
        clock = PacedClock(int(emu.candles[symbols[0]][320][0] + TF // 2))
        emu.clock_ms = clock.now_ms
        if mode == "rest":
            emu.ws.refuse = True  # the socket is down for the whole run
        acct = emu.add_account({"USD": Decimal(10_000_000)})
        register_flipflop()
        risk = RiskSettings(
            strategy=FLIPFLOP,
            strategy_params=FlipFlopParams(period=2, phase=0, stop_pct=3.0),
            allowed_pairs=tuple(s.split("/")[0] for s in symbols),
            max_open_positions=1,  # one entry or one exit a close: the loop stays short
            max_position_usd=Decimal(1000),
            risk_per_trade_pct=Decimal(10),
            trailing_stop=False,
            max_drawdown_pct=Decimal(90),
            daily_loss_pct=Decimal(50),
            daily_loss_usd=Decimal(100000),
        )
        creds = emu.credentials(acct)
        await arrange_live_user(runtime, UID, "kraken", creds, risk, chat_id=UID, username="b")
        gateway = CcxtGateway(
            exchange_urls={"kraken": emu.base_url},
            timeout_ms=10_000,
            enable_rate_limit=limiter != "off",
        )
        if limiter == "ccxt":  # no counter: ccxt's own spacing for every client
            gateway.settings = dataclasses.replace(gateway.settings, call_counters={})
        hub = TimedHub(gateway, clock, late_retries=0, grace_ms=grace_ms, stream=True)
        daemon = Daemon(
            runtime,
            account_factory=account_factory(runtime, gateway),
            market_data=gateway,
            clock=clock,
            hub=hub,
            release_account=gateway.release,
            poll_interval=0.05,
            backoff_base=0.05,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        latencies: list[float] = []
        published: list[float] = []  # close -> the hub published it (the market-data part)
        paths: list[str] = []
        before_order: list[int] = []  # private calls of a close before its first order
        per_close: list[int] = []  # private calls of the whole close
        sequences: list[str] = []  # and which, in order
        no_order = 0
        try:
            assert await until(lambda: hub.subscribers == 1, 60), "the loop did not start"
            boundary = (clock.now_ms() // TF + 1) * TF
            warm = 2
            while len(latencies) < closes:
                if pause_s:
                    await asyncio.sleep(pause_s)  # real time between closes (ccxt's bucket)
                seen = len(emu.requests)
                took, how = await _close(emu, hub, clock, boundary, mode, grace_ms, until)
                boundary += TF
                if warm > 0:
                    warm -= 1
                elif took is None:
                    no_order += 1  # nothing to send on this close (e.g. a stop closed it)
                    assert no_order <= closes, "the strategy sends no orders"
                else:
                    latencies.append(took)
                    published.append(hub.published_at[boundary - TF] - hub.close_at)
                    paths.append(how)
                    calls = _private_calls(emu, seen)
                    per_close.append(len(calls))
                    sequences.append(" ".join(calls))
                    before_order.append(calls.index("AddOrder") if "AddOrder" in calls else -1)
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
            await gateway.close_all()
            await emu.stop()
            await db.close()
    limits = emu.limits
    return {
        "mode": mode,
        "limiter": limiter,
        "pause_s": pause_s,
        "private_calls_before_order": before_order,
        "private_calls_per_close": per_close,
        "private_calls": sequences,
        "counter": None
        if limits is None
        else {
            "tier": limits.tier.name,
            "refused": len(limits.refused),
            "peak": round(max((c.peak for c in limits.rest.values()), default=0.0), 2),
        },
        "pairs": len(symbols),
        "closes": len(latencies),
        "closes_by": {k: paths.count(k) for k in sorted(set(paths))},
        "closes_without_order": no_order,
        "latencies_ms": [round(x * 1000, 1) for x in latencies],
        **summary_ms(latencies),
        "published": summary_ms(published),
        "hub": {
            "rest_fetches": hub.stats.total,
            "pushed_closes": sum(hub.stats.pushed.values()),
            "socket_errors": hub.stats.stream_errors,
        },
    }


def _timed_hub():
    from nija_tg.engine.market_data import MarketHub

    class TimedHub(MarketHub):
        """The hub, noting when each close was published (``time.perf_counter``)."""

        close_at = 0.0
        published_at: dict[int, float]

        async def poll(self, boundary: int) -> list:
            updated = await super().poll(boundary)
            self.published_at = getattr(self, "published_at", {})
            self.published_at[boundary] = time.perf_counter()
            return updated

    return TimedHub


async def _close(emu, hub, clock, boundary: int, mode: str, grace_ms: int, until):
    """Move to ``boundary``; returns (seconds to the first AddOrder or None when the
    close sent none, "ws"|"rest": where the hub took the close from)."""
    assert await until(lambda: hub.waiting_for == boundary, 60), "hub not waiting"
    seen = len(emu.requests)
    pushed, fetched = sum(hub.stats.pushed.values()), hub.stats.total
    clock.set(boundary)
    t0 = hub.close_at = time.perf_counter()
    if mode == "ws":
        await emu.ws.push()  # the venue pushes the new candle's first trade at the close
    if not await until(lambda: hub.published >= boundary, 1.0 if mode == "ws" else 0.0):
        await asyncio.sleep(max(0.0, grace_ms / 1000 - (time.perf_counter() - t0)))
        clock.set(boundary + grace_ms)  # REST: after the grace, in real time too
    # the loop is done with the close when the hub sees it idle: its orders are sent
    assert await until(lambda: hub.published >= boundary and hub._all_idle(), 900)
    first = _first_order(emu, seen)
    how = "ws" if sum(hub.stats.pushed.values()) > pushed else "rest"
    assert how == "ws" or hub.stats.total > fetched
    return (None if first is None else first - t0), how


def _private_calls(emu, seen: int) -> list[str]:
    """The private methods requested since ``seen`` (order calls included)."""
    prefix = "/0/private/"
    return [p[len(prefix) :] for _m, p in emu.requests[seen:] if p.startswith(prefix)]


def _first_order(emu, seen: int) -> float | None:
    for (_method, path), at in zip(emu.requests[seen:], emu.request_times[seen:], strict=False):
        if path == ADD_ORDER:
            return at
    return None


def _block(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": results,
        "median_p50_ms": round(statistics.median(r["p50_ms"] for r in results), 1),
        "median_p99_ms": round(statistics.median(r["p99_ms"] for r in results), 1),
        "all_closes_p99_ms": round(
            percentile([x for r in results for x in r["latencies_ms"]], 99), 1
        ),
    }


@dataclasses.dataclass(frozen=True)
class Limited:
    """The runs with ccxt's rate limiting on: ``runs`` of each limiter, interleaved
    (ccxt, counter, ccxt, ...) so that both see the same machine, ``closes`` timed closes
    each, ``pause_s`` of real time before each close (production's closes are 5 minutes
    apart: the counter's window, 41.5 s for Kraken Starter, has emptied by then)."""

    runs: int = 0
    closes: int = 5
    pause_s: float = 45.0
    modes: tuple[str, ...] = ("ws",)
    limiters: tuple[str, ...] = ("ccxt", "counter")
    # ccxt's default leaky bucket does not refill while idle (async throttler, 4.5.90):
    # a longer pause would not change its figure, only the run's length
    ccxt_pause_s: float = 4.0


def run(runs: int, closes: int, pairs: int, modes: list[str], limited: Limited | int = 0) -> dict:
    """``runs`` runs of each mode with ccxt's rate limiting off (the market-data path
    alone: the emulator enforces no limit), then ``limited.runs`` runs with it on, before
    (``ccxt``: its default spacing) and after (``counter``: Kraken's Starter counter),
    the emulator enforcing the Starter counter."""
    out: dict[str, Any] = {
        "benchmark": "close_to_order",
        "pairs": pairs,
        "runs": runs,
        "closes_per_run": closes,
        "machine": machine(),
        "load_before": _loadavg(),
    }
    if not isinstance(limited, Limited):  # no runs with the limiter on
        limited = Limited()

    def one(label: str, mode: str, n: int, limiter: str, pause_s: float) -> dict:
        res = asyncio.run(one_run(mode, n, pairs, limiter, pause_s))
        res["load_after"] = _loadavg()
        p50, p99 = res["p50_ms"], res["p99_ms"]
        print(f"[close_to_order] {label}: p50 {p50} ms, p99 {p99} ms", flush=True)
        return res

    for mode in filter(None, modes):
        out[mode] = _block(
            [one(f"{mode} run {i + 1}", mode, closes, "off", 0.0) for i in range(runs)]
        )
    if limited.runs:
        out["limited"] = dataclasses.asdict(limited)
        for mode in limited.modes:
            done: dict[str, list[dict]] = {name: [] for name in limited.limiters}
            for i in range(limited.runs):
                for limiter in limited.limiters:
                    label = f"{mode}, limiter {limiter}, run {i + 1}"
                    pause = limited.ccxt_pause_s if limiter == "ccxt" else limited.pause_s
                    res = one(label, mode, limited.closes, limiter, pause)
                    done[limiter].append(res)
            for limiter, results in done.items():
                out[f"{mode}_limiter_{limiter}"] = _block(results)
    return out


def _loadavg() -> list[float]:
    try:
        with open("/proc/loadavg") as fh:
            return [float(x) for x in fh.read().split()[:3]]
    except OSError:
        return []


def section(res: dict[str, Any] | None) -> list[str]:
    """This benchmark's part of docs/benchmarks.md."""
    if not isinstance(res, dict) or "error" in res or "ws" not in res:
        return [HEADING, "", "Not measured in this run (`python -m bench.close_to_order`).", ""]
    ws, rest = res["ws"], res.get("rest")
    cores = res.get("machine", {}).get("cores", "?")
    verdict = "met" if ws["median_p99_ms"] < 1000 else "**missed**"
    lines = [
        HEADING,
        "",
        "`bench/close_to_order.py`: one LIVE user of the real daemon trading "
        f"{res['pairs']} Kraken pairs on the emulator (`test_flipflop`, period 2: every close "
        "sends orders); a close is timed from the paced clock reaching the boundary to the "
        "arrival of its first `AddOrder` at the emulator. `ws`: candles by the emulator's "
        "Kraken v2 `ohlc` WebSocket, pushed at the close; `rest`: the socket refused, so the "
        "hub waits its 2 s grace (real time) and fetches the pairs by REST, concurrently. "
        f"{res['runs']} runs of {res['closes_per_run']} timed closes each (after 2 warm-up "
        "closes), every run kept; ccxt rate limiting off (see below). "
        f"Measured on {cores} cores **shared with other engineers' work at the time** (load "
        f"average before: {res.get('load_before')}): expect noise.",
        "",
        f"Target: < 1 s p99 by WebSocket: {verdict} (median over runs of the p99: "
        f"{ws['median_p99_ms']} ms; p99 over every close of every run: "
        f"{ws['all_closes_p99_ms']} ms).",
        "",
        "| mode | run | closes (by) | p50 ms | p99 ms | max ms | published p50 / p99 ms "
        "| REST fetches | pushed (market closes) | load after |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, block in (("ws", ws), ("rest", rest)):
        if not block:
            continue
        for i, r in enumerate(block["runs"], 1):
            by = ", ".join(f"{k} {v}" for k, v in r["closes_by"].items())
            lines.append(
                f"| {name} | {i} | {r['closes']} ({by}) | {r['p50_ms']} | {r['p99_ms']} | "
                f"{r['max_ms']} | {_pub(r)} | {r['hub']['rest_fetches']} | "
                f"{r['hub']['pushed_closes']} | {r.get('load_after')} |"
            )
        lines.append(
            f"| **{name} median** | | | **{block['median_p50_ms']}** | "
            f"**{block['median_p99_ms']}** | | | | | |"
        )
    lines += [
        "",
        "REST fetches include each run's first window (one per pair); in `ws` nothing "
        "else, in `rest` one per pair and close. The REST figure is mostly the grace the "
        "hub waits before asking (a venue serves a closed candle on REST a moment after the "
        "close); the 50 requests then go out together (Kraken limits OHLC per IP *and pair*). "
        "*Published* is the market-data part: from the boundary to the hub publishing the "
        "close (the push, or the grace and the 50 fetches; then 50 windows and frames). The "
        "rest is the user's loop before its first order: a balance read, the first market's "
        "signal and sizing, a ticker read, the order's intent committed (SQLite, full "
        "sync), then the `AddOrder`.",
        "",
        "These runs leave ccxt's rate limiting off (the emulator enforces no limit) to time "
        "the market-data path; `--limited-runs` adds runs with it on (Kraken's call "
        "counter enforced by the emulator), shown below when this run made them.",
        "",
    ]
    return lines + limited_section(res)


LIMITED_HEADING = "### With ccxt's rate limiter on (Kraken's per-key call counter)"


def limited_section(res: dict[str, Any]) -> list[str]:
    """The runs with ccxt's rate limiting on, before (``ccxt``) and after (``counter``),
    when the run made them (``--limited-runs``)."""
    blocks = [
        (key.split("_limiter_")[0], key.split("_limiter_")[1], res[key])
        for key in sorted(res)
        if "_limiter_" in key and isinstance(res[key], dict)
    ]
    if not blocks:
        return []
    lines = [
        LIMITED_HEADING,
        "",
        "The same LIVE user with ccxt's rate limiting on for every client, as in "
        "production, the emulator enforcing Kraken's Starter counter (per key: at most 15, "
        "+1 a call, +2 ledger/trade history, -0.33 a second; orders on their own per-pair "
        "counter; `tests/fakes/kraken_limits.py`). `ccxt`: ccxt's default for Kraken, a "
        "private call costs 3 tokens refilled at 1 a second, and its async leaky bucket "
        "refills only while a call waits, so every private call waits ~3 s, the first of "
        "a close too (before). `counter`: keyed Kraken clients on ccxt's rolling window "
        "sized to the Starter counter, 13 calls at once, then 13 per 41.5 s "
        "(`ccxt_factory.token_bucket`; after). Pause: real time before each close "
        "(production's closes are 5 minutes apart; 45 s empties the 41.5 s window; "
        "ccxt's bucket does not refill while idle, so its pause changes nothing). "
        "*Private calls before the order*: per timed close, the private requests "
        "before its first `AddOrder` (an exit: `OpenOrders`, `BalanceEx`, `OpenOrders`, "
        "`CancelOrder` of the stop, `OpenOrders`, `ClosedOrders`; an entry: two "
        "`BalanceEx`). *Refused*: `EAPI:Rate limit exceeded` answers over the run; "
        "*peak*: the highest the key's counter reached.",
        "",
        "| mode | limiter | run | closes | p50 ms | p99 ms | max ms | private calls before "
        "the order | calls per close | refused | peak | pause s | load after |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---|",
    ]
    for mode, limiter, block in blocks:
        for i, r in enumerate(block["runs"], 1):
            counter = r.get("counter") or {}
            before = ", ".join(str(n) for n in r.get("private_calls_before_order", []))
            per_close = ", ".join(str(n) for n in r.get("private_calls_per_close", []))
            lines.append(
                f"| {mode} | {limiter} | {i} | {r['closes']} | {r['p50_ms']} | {r['p99_ms']} "
                f"| {r['max_ms']} | {before} | {per_close} | {counter.get('refused', '?')} "
                f"| {counter.get('peak', '?')} | {r.get('pause_s')} | {r.get('load_after')} |"
            )
        lines.append(
            f"| **{mode} median** | **{limiter}** | | | **{block['median_p50_ms']}** | "
            f"**{block['median_p99_ms']}** | | | | | | | |"
        )
    lines.append("")
    return lines


def _pub(run: dict[str, Any]) -> str:
    pub = run.get("published") or {}
    return f"{pub.get('p50_ms', '?')} / {pub.get('p99_ms', '?')}"


def write_docs(res: dict[str, Any], path: Path) -> None:
    """Replace (or add, before "## Raw results") this benchmark's section in ``path``."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    body = "\n".join(section(res)).rstrip("\n") + "\n\n"
    start = text.find(HEADING)
    if start >= 0:
        nxt = text.find("\n## ", start + len(HEADING))
        end = len(text) if nxt < 0 else nxt + 1
        text = text[:start] + body + text[end:]
    else:
        anchor = text.find("## Raw results")
        text = (
            text.rstrip("\n") + "\n\n" + body
            if anchor < 0
            else text[:anchor] + body + text[anchor:]
        )
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    from bench.common import bench_args

    logging.getLogger("nija_tg").setLevel(logging.WARNING)
    parser = bench_args(__doc__ or "")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--closes", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--modes", default="ws,rest")
    parser.add_argument(
        "--limited-runs",
        type=int,
        default=0,
        help="also this many runs with ccxt's limiter on, before (ccxt) and after (counter)",
    )
    parser.add_argument("--limited-closes", type=int, default=5)
    parser.add_argument("--limited-pause", type=float, default=45.0, help="seconds")
    parser.add_argument("--limited-modes", default="ws")
    parser.add_argument("--limiters", default="ccxt,counter")
    parser.add_argument("--ccxt-pause", type=float, default=4.0, help="seconds")
    parser.add_argument("--docs", type=Path, default=None, help="write the section here")
    args = parser.parse_args(argv)
    runs, closes = (1, 3) if args.quick else (args.runs, args.closes)
    limited = Limited(
        args.limited_runs,
        args.limited_closes,
        args.limited_pause,
        tuple(args.limited_modes.split(",")),
        tuple(args.limiters.split(",")),
        args.ccxt_pause,
    )
    res = run(runs, closes, args.pairs, args.modes.split(","), limited)
    emit(res, args.json)
    if args.docs is not None:
        write_docs(res, args.docs)


if __name__ == "__main__":
    main()
