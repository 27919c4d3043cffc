"""Helpers shared by the chaos scripts: child-process environment, waiting, results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a child process: no NIJA_/TELEGRAM_ variable of the
    operator's leaks in; the repository is importable (``-m chaos...``, ``-m tests...``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIJA_", "TELEGRAM_"))}
    env["NIJA_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def wait_for[T](predicate: Callable[[], T], timeout: float, what: str, step: float = 0.2) -> T:
    """Poll ``predicate`` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    mem_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_mb": mem_mb,
        "python": platform.python_version(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "platform": platform.platform(terse=True),
    }


def result(name: str, failures: list[str], started: float, **figures: Any) -> dict[str, Any]:
    """The JSON a chaos script reports: ``ok`` is true when nothing failed."""
    return {
        "name": name,
        "ok": not failures,
        "failures": failures[:50],
        "failure_count": len(failures),
        "seconds": round(time.monotonic() - started, 1),
        **figures,
    }


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--work-dir", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="write the JSON result here too")
    parser.add_argument("--seed", type=int, default=6)
    return parser


def emit(res: dict[str, Any], out: Path | None) -> int:
    """Print the result (and write it to ``out``); exit status 0 only when ok."""
    text = json.dumps(res, indent=2, sort_keys=True)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return 0 if res["ok"] else 1
