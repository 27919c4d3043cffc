"""``nija-tg backtest``: run a strategy over a CSV of candles with the live engine's
trading core (strategy, stops, risk checks, limits) on a simulated venue in memory
(``engine/backtest.py``); print trades, P&L, win rate and max drawdown; optionally
write an equity chart."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from decimal import Decimal, InvalidOperation

from nija_tg.config import Settings
from nija_tg.core.errors import NijaError
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.backtest import (
    MarketRules,
    backtest,
    default_rules,
    load_csv,
    summary,
    write_chart,
)
from nija_tg.messages.errors import text as error_text
from nija_tg.strategies import available


def _fail(message: str) -> int:
    print(f"nija-tg backtest: {message}", file=sys.stderr)
    return 2


RULE_FLAGS = ("amount_step", "price_step", "min_amount", "min_cost")


def market_rules(args: argparse.Namespace, candles: list) -> MarketRules | None:
    """The simulated market's steps and minimums: the defaults for the pair's price,
    with what the flags give instead; None without any flag (run_backtest's defaults)."""
    given = {f: getattr(args, f, None) for f in RULE_FLAGS}
    if all(v is None for v in given.values()) or not candles:
        return None
    values = {}
    for name, raw in given.items():
        if raw is None:
            continue
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value <= 0:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be a positive number, got {raw[:20]!r}")
        values[name] = value
    return dataclasses.replace(default_rules(candles[0].close), **values)


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
            return _fail(f"bad settings in {args.settings}: {error_text(exc)}")
    try:
        balance = Decimal(str(args.balance))
        candles = load_csv(args.data)
    except (InvalidOperation, KeyError, ValueError) as exc:
        return _fail(f"cannot read {args.data}: {exc}")
    if balance <= 0:
        return _fail("--balance must be positive")
    try:
        rules = market_rules(args, candles)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        result = backtest(  # in memory: no event loop, no database
            candles,
            strategy=args.strategy,
            pair=args.pair,
            settings=risk,
            balance=balance,
            rules=rules,
        )
    except NijaError as exc:
        return _fail(error_text(exc))
    print(summary(result))
    if args.chart is not None:
        write_chart(result, args.chart)
        print(f"Equity chart: {args.chart}")
    return 0
