"""adx_trend's rule expressed for backtesting.py, and the settings both engines run
with (see test_backtesting_py_parity.py for what is compared and why; bench/
backtest_parity.py times both)."""

from __future__ import annotations

import dataclasses
import math
import warnings
from decimal import ROUND_FLOOR, Decimal

import backtesting as bt
import pandas as pd

from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.backtest import MarketRules
from nija_tg.strategies import indicators as ind
from nija_tg.strategies.adx_trend import AdxTrendParams
from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "ETH-BTC-5m.csv"
TF_MS = 300_000
GRACE_MS = 2_000
BALANCE = Decimal(1000)
SLIP = Decimal("0.0005")  # the paper account's defaults (LoopDeps)
FEE = Decimal("0.001")
# whole units (backtesting.py trades whole units; ETH at ~0.09 USDT: a unit is 9 cents),
# no price tick (backtesting.py has none), the usual 5 USDT minimum cost
RULES = MarketRules(Decimal(1), None, Decimal(1), Decimal(5))
SETTINGS = dataclasses.replace(
    RiskSettings(),
    daily_loss_usd=Decimal(100000),  # backtesting.py has no daily-loss or drawdown pause
    daily_loss_pct=Decimal(50),
    max_drawdown_pct=Decimal(90),
)
PARAMS = AdxTrendParams()


def frame_of(candles) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Open": [c.open for c in candles],
            "High": [c.high for c in candles],
            "Low": [c.low for c in candles],
            "Close": [c.close for c in candles],
            "Volume": [c.volume for c in candles],
        },
        index=pd.to_datetime([c.ts for c in candles], unit="ms"),
    )


def clamp(x: float) -> float:
    return 0.0 if math.isnan(x) else min(1.0, max(0.0, x))


class AdxRule(bt.Strategy):
    """adx_trend's documented rule (long side), as a backtesting.py strategy."""

    opens: list[float] = []

    def init(self):
        d = self.data
        full = pd.DataFrame({"high": d.High, "low": d.Low, "close": d.Close, "open": d.Open})
        p = PARAMS
        dirs = ind.adx(full, p.adx_length)
        self.adx = self.I(lambda: dirs["adx"].to_numpy(), name="adx")
        self.dmp = self.I(lambda: dirs["dmp"].to_numpy(), name="dmp")
        self.dmn = self.I(lambda: dirs["dmn"].to_numpy(), name="dmn")
        self.ema_fast = self.I(lambda: ind.ema(full, p.ema_fast).to_numpy(), name="ema_fast")
        self.ema_slow = self.I(lambda: ind.ema(full, p.ema_slow).to_numpy(), name="ema_slow")
        self.atr = self.I(lambda: ind.atr(full, p.atr_length).to_numpy(), name="atr")
        self.anchor = None
        self.signal_closes: set[int] = set()  # entry bars of trades the rule closed

    def next(self):
        i = len(self.data) - 1
        if i + 1 < PARAMS.warmup:
            return
        adx, dmp, dmn = self.adx[-1], self.dmp[-1], self.dmn[-1]
        fast, slow, atr, close = (
            self.ema_fast[-1],
            self.ema_slow[-1],
            self.atr[-1],
            self.data.Close[-1],
        )
        if any(math.isnan(x) for x in (adx, dmp, dmn, fast, slow, atr)):
            return
        if self.trades:
            (trade,) = self.trades
            if dmn > dmp or adx < PARAMS.adx_exit_threshold:  # the rule's exit
                trade.sl = None
                trade.close()
                self.signal_closes.add(trade.entry_bar)
                return
            self.anchor = max(self.anchor, self.data.High[-1])
            trail = self.anchor - atr * float(SETTINGS.trailing_atr_multiplier)
            trade.sl = max(trade.sl, trail)
            return
        last = self.closed_trades[-1] if self.closed_trades else None
        if last is not None and last.exit_bar == i and last.entry_bar not in self.signal_closes:
            return  # stopped out on this bar: the engine's signal was for the position
        if i + 1 >= len(self.opens) or adx < PARAMS.adx_threshold or not dmp > dmn:
            return
        if not (close > slow and fast > slow):
            return
        s_adx = clamp(adx / (2.0 * PARAMS.adx_threshold))
        s_di = clamp(2.0 * (dmp - dmn) / (dmp + dmn)) if dmp + dmn > 0 else 0.0
        s_ema = clamp((fast - slow) / atr) if atr > 0 else 0.0
        if round(0.4 * s_adx + 0.3 * s_di + 0.3 * s_ema, 6) < PARAMS.min_confidence:
            return
        price = Decimal(str(close)) * (1 + SLIP)
        size = int((SETTINGS.max_position_usd / price).to_integral_value(ROUND_FLOOR))
        fill = self.opens[i + 1] * (1 + float(SLIP))
        self.anchor = fill
        self.buy(size=size, sl=fill - atr * PARAMS.atr_multiplier)


def run_backtesting_py(candles):
    AdxRule.opens = [c.open for c in candles]
    engine = bt.Backtest(
        frame_of(candles),
        AdxRule,
        cash=float(BALANCE),
        spread=float(SLIP),
        commission=float(FEE),
        trade_on_close=False,
        exclusive_orders=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return engine.run()
