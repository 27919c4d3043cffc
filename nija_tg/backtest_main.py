"""Entry point of ``nija-tg backtest`` (filled in by the engine work)."""

from __future__ import annotations

import argparse
import sys

from nija_tg.config import Settings


def run_backtest_cli(args: argparse.Namespace, settings: Settings) -> int:
    print("nija-tg: backtest is not available yet", file=sys.stderr)
    return 1
