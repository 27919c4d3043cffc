"""Backtest: the live loop replayed over a CSV; the CLI prints the report and writes a
chart."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from nija_tg.core.errors import ValidationError
from nija_tg.engine.backtest import load_csv, run_backtest, summary
from tests.conftest import PYTHON, REPO, make_env

DATA = REPO / "tests" / "data" / "ETH-BTC-5m.csv"


@pytest.fixture
def csv_slice(tmp_path: Path) -> Path:
    lines = DATA.read_text().splitlines()[:401]  # header + 400 candles
    path = tmp_path / "eth.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_backtest_report_is_consistent(csv_slice):
    candles = load_csv(csv_slice)
    result = await run_backtest(candles, pair="ETH/USDT", balance=Decimal(1000))
    assert result.candles == 400
    assert result.trades, "the ADX strategy trades on these candles"
    sides = [f["side"] for f in result.fills]
    assert sides[::2] == ["buy"] * len(sides[::2])  # spot: long only, one position at a time
    closed = [f for f in result.fills if f["realized_pnl"] is not None]
    assert len(closed) == len(result.trades)
    assert result.pnl == result.final_equity - Decimal(1000)
    assert result.win_rate is not None and 0 <= result.win_rate <= 1
    assert result.equity and result.max_drawdown.pct >= 0
    text = summary(result)
    for word in ("Trades:", "P&L:", "Win rate:", "Max drawdown:"):
        assert word in text
    again = await run_backtest(candles, pair="ETH/USDT", balance=Decimal(1000))
    assert again.fills == result.fills  # deterministic


async def test_backtest_rejects_a_non_usd_pair(csv_slice):
    with pytest.raises(ValidationError):
        await run_backtest(load_csv(csv_slice), pair="ETH/BTC")


def test_cli_backtest_prints_report_and_writes_chart(csv_slice, tmp_path, data_dir):
    settings = tmp_path / "risk.json"
    settings.write_text(json.dumps({"max_position_usd": "500", "trailing_stop": False}))
    chart = tmp_path / "equity.png"
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(csv_slice), "--pair", "ETH/USDT"]
        + ["--settings", str(settings), "--chart", str(chart), "--balance", "2500"],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Backtest ETH/USDT: 400 candles" in proc.stdout
    assert "Win rate:" in proc.stdout and "Max drawdown:" in proc.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_backtest_explains_bad_input(csv_slice, tmp_path, data_dir):
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(tmp_path / "missing.csv")],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "no such data file" in proc.stderr
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(csv_slice), "--pair", "ETH/BTC"],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "--pair" in proc.stderr
