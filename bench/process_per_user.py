"""A process per user, as the earlier single-user bots do it: the RSS of one Python
process that imports the same libraries (ccxt, python-telegram-bot, pandas, pandas-ta,
aiosqlite, nija_tg), holds a ccxt exchange object, a telegram Bot and one user's trading
loop (paper, 8 pairs, a few candle closes over real candles), next to the engine's
memory per added user (from bench.engine_fanout). The ratio is what a process per user
costs against one more loop in the shared engine.

    .venv/bin/python -m bench.process_per_user [--engine-kib 40]
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.common import REPO, bench_args, emit, mib

CHILD = "--child"


def _child() -> None:
    """Runs in the measured process: everything a single-user bot would hold."""
    import warnings

    warnings.filterwarnings("ignore")
    from bench.common import peak_rss_bytes, rss_bytes

    base = rss_bytes()
    import aiosqlite  # noqa: F401
    import ccxt
    import pandas  # noqa: F401
    import pandas_ta  # noqa: F401
    import telegram

    from bench.engine_fanout import run_one
    from tests.conftest import TEST_TOKEN

    imported = rss_bytes()
    exchange = ccxt.kraken()
    bot = telegram.Bot(TEST_TOKEN)
    result = run_one(1, 3)
    out = {
        "rss_bare_interpreter_mib": mib(base),
        "rss_after_imports_mib": mib(imported),
        "rss_with_one_loop_mib": mib(rss_bytes()),
        "peak_rss_mib": mib(peak_rss_bytes()),
        "candles": result["candles_measured"],
        "holds": [type(exchange).__name__, type(bot).__name__, "UserLoop"],
    }
    print(json.dumps(out))


def measure_child() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.process_per_user", CHILD],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False, engine_kib_per_user: float | None = None) -> dict[str, Any]:
    child = measure_child()
    out: dict[str, Any] = {"benchmark": "process_per_user", **child}
    if engine_kib_per_user:
        per_process_kib = child["peak_rss_mib"] * 1024
        out["engine_kib_per_user"] = engine_kib_per_user
        out["ratio"] = round(per_process_kib / engine_kib_per_user, 0)
    return out


def main(argv: list[str] | None = None) -> None:
    if argv is None and CHILD in sys.argv[1:]:
        _child()
        return
    parser = bench_args(__doc__ or "")
    parser.add_argument("--engine-kib", type=float, default=None)
    args = parser.parse_args(argv)
    emit(run(args.quick, args.engine_kib), args.json)


if __name__ == "__main__":
    main()
