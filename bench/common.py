"""Shared helpers of the benchmarks: percentiles, memory, the machine, JSON output, and a
cProfile summary of the top entries."""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0..100) by linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return float(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / max / mean of durations given in seconds, reported in milliseconds."""
    if not seconds:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    return {
        "n": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 2),
        "p99_ms": round(percentile(seconds, 99) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
        "mean_ms": round(sum(seconds) / len(seconds) * 1000, 2),
    }


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mib(n_bytes: float) -> float:
    return round(n_bytes / (1024 * 1024), 1)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import aiosqlite
    import ccxt
    import pandas
    import telegram

    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "memory_gib": round(_memory_total() / 1024**3, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "sqlite": __import__("sqlite3").sqlite_version,
        "libraries": {
            "python-telegram-bot": telegram.__version__,
            "ccxt": ccxt.__version__,
            "pandas": pandas.__version__,
            "aiosqlite": aiosqlite.__version__,
        },
    }


def profile_top(fn: Callable[[], Any], limit: int = 12) -> tuple[Any, dict[str, Any]]:
    """Run ``fn`` under cProfile (main thread only: time spent in aiosqlite's worker
    thread shows up as the event loop waiting in ``epoll``). Returns ``fn``'s result and
    ``{"by_package": {...}, "top": [...]}``: own time summed per package, and the top
    functions by own time."""
    prof = cProfile.Profile()
    started = time.perf_counter()
    result = prof.runcall(fn)
    wall = time.perf_counter() - started
    return result, {"wall_s": round(wall, 3), **profile_summary(prof, limit)}


def profile_summary(prof: cProfile.Profile, limit: int = 12) -> dict[str, Any]:
    stats = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    groups: dict[str, float] = {}
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        group = _group(filename, func)
        groups[group] = groups.get(group, 0.0) + tottime
        where = _short(filename)
        rows.append(
            {
                "function": f"{where}:{line}({func})" if line else func,
                "calls": ncalls,
                "tottime_s": round(tottime, 3),
                "cumtime_s": round(cumtime, 3),
            }
        )
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    by_package = {k: round(v, 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}
    return {"by_package": dict(list(by_package.items())[:10]), "top": rows[:limit]}


IDLE = "idle (event loop waiting: SQLite thread, sockets, sleeps)"


def _group(filename: str, func: str) -> str:
    if "epoll" in func or "select.select" in func:
        return IDLE
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/nija_tg/" in filename:
        return "nija_tg"
    if "/tests/" in filename or "/bench/" in filename:
        return "tests/bench fakes and drivers"
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    return "stdlib: " + Path(filename).stem


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.12/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def bench_args(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    return parser


def emit(result: dict[str, Any], path: Path | None) -> None:
    """Print the result as JSON (and write it to ``path`` when given)."""
    text = json.dumps(result, indent=2, default=str)
    if path is not None:
        path.write_text(text + "\n", encoding="utf-8")
    print(text)
    sys.stdout.flush()
