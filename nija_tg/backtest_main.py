"""``nija-tg backtest``: replay a strategy over a CSV of candles with the live engine's
strategy, risk checks and paper execution; print trades, P&L, win rate and max
drawdown; optionally write an equity chart."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal, InvalidOperation

from nija_tg.config import Settings
from nija_tg.core.errors import NijaError
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.backtest import load_csv, run_backtest, summary, write_chart
from nija_tg.strategies import available


def _fail(message: str) -> int:
    print(f"nija-tg backtest: {message}", file=sys.stderr)
    return 2


def run_backtest_cli(args: argparse.Namespace, settings: Settings) -> int:
    if args.strategy not in available():
        return _fail(f"unknown strategy {args.strategy!r}; available: {', '.join(available())}")
    if not args.data.is_file():
        return _fail(f"no such data file: {args.data}")
    risk = None
    if args.settings is not None:
        try:
            risk = RiskSettings.from_dict(json.loads(args.settings.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            return _fail(f"cannot read settings {args.settings}: {exc}")
        except NijaError as exc:
            return _fail(f"bad settings in {args.settings}: {exc.user_message}")
    try:
        balance = Decimal(str(args.balance))
        candles = load_csv(args.data)
    except (InvalidOperation, KeyError, ValueError) as exc:
        return _fail(f"cannot read {args.data}: {exc}")
    if balance <= 0:
        return _fail("--balance must be positive")
    try:
        result = asyncio.run(
            run_backtest(
                candles, strategy=args.strategy, pair=args.pair, settings=risk, balance=balance
            )
        )
    except NijaError as exc:
        return _fail(exc.user_message)
    print(summary(result))
    if args.chart is not None:
        write_chart(result, args.chart)
        print(f"Equity chart: {args.chart}")
    return 0
