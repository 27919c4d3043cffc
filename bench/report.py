"""docs/benchmarks.md from the results of bench.run_all."""

from __future__ import annotations

import json
import time
from typing import Any

NA = "n/a"


def _g(d: Any, *path: str, default: Any = NA) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _verdict(ok: bool | None) -> str:
    return NA if ok is None else ("met" if ok else "**not met**")


def _num(x: Any) -> float | None:
    return x if isinstance(x, int | float) and x == x else None


def _v(x: Any) -> Any:
    """A table cell: NaN and None as a dash."""
    return "—" if x is None or (isinstance(x, float) and x != x) else x


def _ms(d: dict, key: str) -> str:
    s = _g(d, key, default={})
    return f"p50 {_g(s, 'p50_ms')} ms / p99 {_g(s, 'p99_ms')} ms (n={_g(s, 'n')})"


def _profile_table(profile: Any) -> list[str]:
    if not isinstance(profile, dict):
        return []
    wall = _g(profile, "wall_s")
    lines = ["", f"Own time per package (cProfile, main thread; wall {wall} s):", ""]
    lines += ["| package | own time (s) |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in _g(profile, "by_package", default={}).items()]
    lines += ["", "Top functions by own time:", "", "| function | calls | own s | cum s |"]
    lines += ["|---|---:|---:|---:|"]
    for row in _g(profile, "top", default=[]):
        fn = str(row["function"]).replace("|", "\\|")
        lines.append(f"| `{fn}` | {row['calls']} | {row['tottime_s']} | {row['cumtime_s']} |")
    return lines


def _machine(m: dict) -> list[str]:
    libs = ", ".join(f"{k} {v}" for k, v in _g(m, "libraries", default={}).items())
    return [
        "| | |",
        "|---|---|",
        f"| CPU | {_g(m, 'cpu_model')} |",
        f"| cores | {_g(m, 'cores')} |",
        f"| memory | {_g(m, 'memory_gib')} GiB |",
        f"| Python | {_g(m, 'implementation')} {_g(m, 'python')} |",
        f"| OS | {_g(m, 'os')} |",
        f"| SQLite | {_g(m, 'sqlite')} |",
        f"| libraries | {libs} |",
    ]


def _fanout_rows(fanout: list[dict]) -> list[str]:
    lines = [
        "| users | finished | startup s | candles | per candle wall (p50 / p99 ms) "
        "| CPU p50 ms | candle requests / close | ticker requests / close "
        "| orders / close | outbox rows / close | SQL statements / commits per close "
        "| RSS before → after (MiB) | KiB / user |",
        "|---:|---|---:|---:|---|---:|---|---:|---:|---:|---|---|---:|",
    ]
    for r in fanout:
        wall = _g(r, "per_candle_wall", default={})
        finished = (
            "yes"
            if r.get("finished")
            else (f"no: {_g(r, 'loops_subscribed')} loops started in {_g(r, 'time_budget_s')} s")
        )
        lines.append(
            f"| {_g(r, 'users')} | {finished} | {_v(_g(r, 'startup_s'))} "
            f"| {_g(r, 'candles_measured')} | {_v(_g(wall, 'p50_ms'))} / {_v(_g(wall, 'p99_ms'))} "
            f"| {_v(_g(r, 'per_candle_cpu', 'p50_ms'))} | {_g(r, 'candle_requests_per_close')} "
            f"| {_g(r, 'ticker_requests_per_close')} | {_g(r, 'orders_per_close')} "
            f"| {_g(r, 'outbox_rows_per_close')} "
            f"| {_g(r, 'statements_per_close')} / {_g(r, 'commits_per_close')} "
            f"| {_g(r, 'rss_before_loops_mib')} → {_g(r, 'rss_after_candles_mib')} "
            f"| {_g(r, 'kib_per_user')} |"
        )
    return lines


def _ratio(ppu: dict) -> str:
    ratio = _num(ppu.get("ratio"))
    return NA if ratio is None else f"{ratio:,.0f}x"


def _summary(res: dict) -> list[str]:
    fan = res.get("engine_fanout") or []
    big = next((r for r in fan if r.get("users") == 10000), None)
    p99_big = _num(_g(big or {}, "per_candle_wall", "p99_ms"))
    fan_ok = None
    if big is not None:
        fan_ok = bool(big.get("finished")) and p99_big is not None and p99_big < 2000
    kib = _num(_g(res, "process_per_user", "engine_kib_per_user"))
    done = [r for r in fan if r.get("finished")]
    requests_ok = all(_g(r, "candle_requests_per_close") == [8] for r in done) if done else None
    snd = res.get("notification_sender", {})
    snd_ok = None
    if "budget_used_pct" in snd:
        snd_ok = (
            snd["budget_used_pct"] >= 95
            and snd["rate_limited_429"] == 0
            and snd["max_per_chat_per_s"] <= 1
        )
    cmd = res.get("command_latency", {})
    cmd_p99 = _num(_g(cmd, "steady", "inject_to_reply", "p99_ms"))
    sec = res.get("secret_window", {})
    sec_p99 = _num(_g(sec, "quiet", "handed_to_delete", "p99_ms"))
    load = sec.get("under_burst_load", {})
    load_p99 = _num(_g(load, "handed_to_delete", "p99_ms"))
    burst = {m.get("mode"): m for m in _g(res, "fairness", "burst", default=None) or []}
    free, paid = burst.get("free", {}), burst.get("paid", {})
    free_p99 = _num(free.get("median_reply_queued_p99_ms"))
    paid_p99 = _num(paid.get("median_reply_queued_p99_ms"))
    share = _num(free.get("median_notification_share_pct"))
    ppu = res.get("process_per_user", {})
    big_wall = (
        f"p50 {_g(big, 'per_candle_wall', 'p50_ms')} / p99 {p99_big} ms"
        if big and big.get("finished")
        else f"did not finish one candle close within {_g(big or {}, 'time_budget_s')} s "
        f"({_g(big or {}, 'loops_subscribed')} of 10,000 loops started)"
    )
    mid = next((r for r in fan if r.get("users") == 1000 and r.get("finished")), None)
    if mid is not None:
        mid_wall = _g(mid, "per_candle_wall", default={})
        big_wall = (
            f"1,000 users: p50 {_g(mid_wall, 'p50_ms')} / p99 {_g(mid_wall, 'p99_ms')} ms; "
            f"10,000: {big_wall}"
        )
    cli_s = _num(_g(res, "backtest_speed", "cli_median_s", default=None))
    ratio = _num(_g(res, "backtest_speed", "ratio_file", default=None))
    rows = [
        (
            "1 engine fan-out, 10,000 users",
            "< 2 s per candle on 2 cores",
            big_wall,
            _verdict(fan_ok),
        ),
        (
            "1 engine memory per added user",
            "< 100 KB",
            f"{kib} KiB (100 → 1,000 users)",
            _verdict(None if kib is None else kib < 100),
        ),
        (
            "1 market-data requests per candle",
            "= distinct pairs (8)",
            ", ".join(f"{r['users']}: {_g(r, 'candle_requests_per_close')}" for r in fan),
            _verdict(requests_ok),
        ),
        (
            "2 process per user",
            "(report the ratio)",
            f"{_g(ppu, 'peak_rss_mib')} MiB per process vs {kib} KiB per engine user: "
            f"{_ratio(ppu)}",
            "reported",
        ),
        (
            "3 notification sender",
            "≥ 95% of budget, 0 429s, ≤ 1 msg/s per chat",
            f"{_g(snd, 'budget_used_pct')}% of {_g(snd, 'budget_per_s')}/s, "
            f"{_g(snd, 'rate_limited_429')} 429s, max {_g(snd, 'max_per_chat_per_s')}/s per chat",
            _verdict(snd_ok),
        ),
        (
            "4 command latency (200 users)",
            "p99 < 50 ms",
            f"steady: {_ms(cmd.get('steady', {}), 'inject_to_reply')}",
            _verdict(None if cmd_p99 is None else cmd_p99 < 50),
        ),
        (
            "5 secret exposure window",
            "p99 < 100 ms",
            _ms(sec.get("quiet", {}), "handed_to_delete"),
            _verdict(None if sec_p99 is None else sec_p99 < 100),
        ),
        (
            "5 secret exposure window under the burst below",
            "p99 < 100 ms",
            _ms(load, "handed_to_delete"),
            _verdict(None if load_p99 is None else load_p99 < 100),
        ),
        (
            "burst: 200 users at once over 10,000 queued notifications, replies",
            "p99 < 2 s, 0 429s",
            f"free 30/s: median of runs' p99 {free_p99} ms; paid broadcasts on: {paid_p99} ms; "
            f"429s {free.get('total_429', NA)} / {paid.get('total_429', NA)}",
            _verdict(
                None if paid_p99 is None or free_p99 is None else max(paid_p99, free_p99) < 2000
            ),
        ),
        (
            "burst: notifications",
            ">= 95 % of what replies leave",
            f"{share} % (free mode, median of runs)",
            _verdict(None if share is None else share >= 95),
        ),
        (
            "6 indicator cost",
            "(measure)",
            f"{_g(res, 'indicators', 'full_prepare_per_symbol_ms')} ms per symbol (500 candles); "
            f"per market and close: whole window "
            f"{_g(res, 'indicators_per_close', 'median', 'full_window_p50_us')} µs, rolling "
            f"(live) {_g(res, 'indicators_per_close', 'median', 'rolling_p50_us')} µs",
            "reported",
        ),
        (
            "7 backtest: CLI over a year of 5m candles",
            "< 5 s",
            f"{_g(res, 'backtest_speed', 'cli_median_s')} s",
            _verdict(None if cli_s is None else cli_s < 5.0),
        ),
        (
            "7 backtest vs backtesting.py (candles/s ratio)",
            ">= 1.0",
            f"{_g(res, 'backtest_speed', 'ratio_file')} (ETH file), "
            f"{_g(res, 'backtest_speed', 'ratio_year')} (year)",
            _verdict(None if ratio is None else ratio >= 1.0),
        ),
    ]
    out = ["| benchmark | target | measured | verdict |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return out


def render(res: dict[str, Any]) -> str:
    from bench.report_sections import sections

    when = res.get("measured_at") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Benchmarks",
        "",
        "How far one machine goes and what each user costs (issue 7). Rerun with "
        "`make bench` (about 10 minutes); this file is generated by `bench/run_all.py` "
        "(`python -m bench.<name> --help` runs one benchmark). Benchmarks, not tests: "
        "nothing here fails CI; `tests/bench_smoke` only checks that each one runs.",
        "",
        f"Measured {when}; whole run {res.get('total_s', NA)} s"
        + (" (**--quick sizes: not representative**)" if res.get("quick") else "")
        + ". The machine is a shared VM: expect run-to-run noise of tens of percent.",
        "",
        "## Machine",
        "",
        *_machine(res.get("machine", {})),
        "",
        "## Targets",
        "",
        *_summary(res),
        "",
        *sections(res, _fanout_rows, _profile_table, _ms),
        "",
        "## Raw results",
        "",
        "<details><summary>JSON written by bench/run_all.py</summary>",
        "",
        "```json",
        json.dumps(res, indent=1, default=str),
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)
