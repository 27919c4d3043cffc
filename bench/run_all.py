"""Run every benchmark and write docs/benchmarks-run.md (``make bench``).

docs/benchmarks.md is the curated record (each round's runs, hand-run and merged); a
whole run goes to its own file so that it never overwrites that record.

Each benchmark runs in its own Python process (so memory figures are per benchmark) and
writes JSON; the raw results go at the end of the report.

The notification storm takes about 5.5 minutes and mostly waits on its 25 messages/s
budget (a few % of one core), so it runs in the background while the CPU-bound
benchmarks (indicators, backtest, engine fan-out) run; the latency benchmarks (commands,
secret window, key verification) run after it has finished, on a quiet machine. The key
verification, fairness and backtest-parity benchmarks write their own sections
(bench/key_verification.py ``section``, bench/fairness.py ``write_docs``,
bench/backtest_parity.py ``section``).

    .venv/bin/python -m bench.run_all [--quick] [--out docs/benchmarks-run.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import backtest_parity, fairness, key_verification
from bench.common import REPO, machine
from bench.report import render


def _cmd(module: str, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", f"bench.{module}", "--json", str(out), *args]


def _finish(proc: subprocess.Popen, out: Path, name: str, started: float) -> dict[str, Any]:
    code = proc.wait()
    took = time.monotonic() - started
    if code != 0 or not out.exists():
        print(f"[bench] {name} FAILED (exit {code}) after {took:.0f}s", flush=True)
        return {"benchmark": name, "error": f"exit status {code}", "took_s": round(took, 1)}
    result = json.loads(out.read_text(encoding="utf-8"))
    result["took_s"] = round(took, 1)
    print(f"[bench] {name} done in {took:.0f}s", flush=True)
    return result


def _start(name: str, module: str, tmp: Path, *args: str) -> tuple:
    out = tmp / f"{name}.json"
    print(f"[bench] {name} ...", flush=True)
    proc = subprocess.Popen(_cmd(module, out, *args), cwd=REPO, stdout=subprocess.DEVNULL)
    return proc, out, name, time.monotonic()


def _run(name: str, module: str, tmp: Path, *args: str) -> dict[str, Any]:
    return _finish(*_start(name, module, tmp, *args))


def engine_kib_per_user(small: dict[str, Any], large: dict[str, Any]) -> float | None:
    """Memory per added user between two fan-out sizes (RSS after the candles)."""
    try:
        extra = large["rss_after_candles_mib"] - small["rss_after_candles_mib"]
        return round(extra * 1024 / (large["users"] - small["users"]), 1)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def run_all(quick: bool) -> dict[str, Any]:
    q = ["--quick"] if quick else []
    results: dict[str, Any] = {
        "machine": machine(),
        "quick": quick,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nija-bench-") as tmp_name:
        tmp = Path(tmp_name)
        sender = _start("notification_sender", "notification_sender", tmp, *q)
        results["indicators"] = _run("indicators", "indicators", tmp, *q)
        results["indicators_per_close"] = _run(
            "indicators_per_close", "indicators_per_close", tmp, *q
        )
        results["backtest_speed"] = _run("backtest_speed", "backtest_speed", tmp, *q)
        results["backtest_parity"] = _run(
            "backtest_parity", "backtest_parity", tmp, *q, "--no-docs"
        )  # its own section (bench/backtest_parity.py ``section``)
        sizes = [(10, 3, 60)] if quick else [(100, 20, 120), (1000, 4, 150), (10000, 1, 100)]
        fanout = []
        for users, candles, budget in sizes:
            fanout.append(
                _run(
                    f"engine_fanout_{users}",
                    "engine_fanout",
                    tmp,
                    "--users",
                    str(users),
                    "--candles",
                    str(candles),
                    "--budget",
                    str(budget),
                    "--runs",
                    "1" if quick else "3",  # the median of 3 processes, every run kept
                )
            )
        profile_users = "10" if quick else "300"
        results["engine_profile"] = _run(
            "engine_profile", "engine_fanout", tmp, "--users", profile_users, "--candles", "1",
            "--profile",
        )  # fmt: skip
        results["engine_fanout"] = fanout
        kib = engine_kib_per_user(fanout[0], fanout[1]) if len(fanout) > 1 else None
        kib = kib or fanout[0].get("kib_per_user")
        extra = ["--engine-kib", str(kib)] if kib else []
        results["process_per_user"] = _run("process_per_user", "process_per_user", tmp, *extra)
        results["notification_sender"] = _finish(*sender)
        results["command_latency"] = _run("command_latency", "command_latency", tmp, *q)
        results["close_to_order"] = _run("close_to_order", "close_to_order", tmp, *q)
        results["secret_window"] = _run("secret_window", "secret_window", tmp, *q)
        results["key_verification"] = _run("key_verification", "key_verification", tmp, *q)
        results["fairness"] = _run("fairness", "fairness", tmp, *q, "--no-docs")
    results["total_s"] = round(time.monotonic() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (checks it runs)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks-run.md")
    args = parser.parse_args(argv)
    results = run_all(args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = render(results)
    kv = results.get("key_verification")
    if isinstance(kv, dict) and "error" not in kv:
        kv.setdefault("measured_at", results["measured_at"])
        text = key_verification.insert_section(text, key_verification.section(kv))
    par = results.get("backtest_parity")
    if isinstance(par, dict) and "error" not in par and not args.quick:
        text = backtest_parity.insert_section(text, backtest_parity.section(par))
    args.out.write_text(text, encoding="utf-8")
    fair = results.get("fairness")
    if isinstance(fair, dict) and "error" not in fair and not args.quick:
        fairness.write_docs(fair, args.out)  # its own section
    print(f"[bench] wrote {args.out} in {results['total_s']:.0f}s", flush=True)
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
