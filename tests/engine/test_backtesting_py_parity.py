"""Our backtest against backtesting.py (an independent engine, PyPI ``backtesting``) run
with its native fill model on the same candles (tests/data/ETH-BTC-5m.csv, a copy of
the shared data, 5,760 real 5m candles) and the same adx_trend rule expressed for it:
the same trades (bars, sizes, entry prices), and every difference in exits and final
equity explained and asserted exactly.

backtesting.py's native model (``trade_on_close=False``, the default): a market order
placed at a bar's close fills at the next bar's open; a stop-loss fills at the stop
price, or at the bar's open when the bar opens beyond it (a gap); ``spread`` moves the
ENTRY price against the trader; ``commission`` is charged on entry and exit notional.
Ours (``exchange/paper.py``): the same, except that the slippage moves EXITS against
the trader too. Hence the explained differences:

1. each exit price is backtesting.py's x (1 - slippage) (a long's sell fills lower);
2. the final equity is backtesting.py's less, per closed trade, size x its exit price
   x slippage x (1 - fee) (the slipped proceeds and the fee saved on them).

The expression of the rule for backtesting.py (``AdxRule``):

- indicators from the same functions (``nija_tg.strategies.indicators``: pandas-ta,
  ADX/DI, EMAs, ATR) computed over the whole history, where our engine computes them
  over its 300-candle window: after the 300-candle warm-up the two agree to ~1e-10
  relative (Wilder's smoothing forgets its seed geometrically), so stop prices (from
  the ATR) agree to that precision and are compared with a 1e-9 relative tolerance,
  the only tolerance besides float rounding (1e-12);
- entry at a bar's close when no position is held and the rule says long (spot: no
  shorts), sized as our risk check sizes a capped entry: floor(max_position_usd /
  (close x (1 + slippage))) units (the amount step is 1 unit, backtesting.py's whole
  units); the stop-loss = the fill price - ATR x atr_multiplier, given with the order
  (the fill price, next open x (1 + spread), is read from the data ahead: our engine
  sets the stop right after the fill, before the next candle is checked);
- on every later bar: the stop trails ATR x trailing_atr_multiplier behind the highest
  high since entry (never down); the rule's exit (DI cross or ADX fading) closes at
  the next open, its stop-loss cancelled first (our engine sells at once at the close:
  no stop is checked on the next candle);
- a bar whose stop closed the position gives no new entry (our engine decides on the
  position it held at that close: its signal is an exit or hold).
"""

from __future__ import annotations

import math
from decimal import Decimal

from nija_tg.engine.backtest import load_csv, run_backtest
from tests.engine.backtesting_py_rule import (
    BALANCE,
    DATA,
    FEE,
    GRACE_MS,
    RULES,
    SETTINGS,
    SLIP,
    TF_MS,
    run_backtesting_py,
)


def close_to(a: Decimal, b: float, rel: float) -> bool:
    return math.isclose(float(a), b, rel_tol=rel, abs_tol=0)


async def test_same_trades_as_backtesting_py_every_difference_explained():
    candles = load_csv(DATA)
    assert len(candles) == 5760
    index = {c.ts: i for i, c in enumerate(candles)}
    ours = await run_backtest(
        candles, pair="ETH/USDT", settings=SETTINGS, balance=BALANCE, rules=RULES
    )
    stats = run_backtesting_py(candles)
    theirs = stats["_trades"].sort_values("EntryBar").reset_index(drop=True)

    fills = ours.fills
    pairs = [(fills[k], fills[k + 1]) for k in range(0, len(fills) - 1, 2)]
    open_at_end = len(fills) % 2 == 1
    assert all(a["purpose"] == "entry" and b["realized_pnl"] is not None for a, b in pairs)
    assert len(pairs) == len(theirs) >= 30, (len(pairs), len(theirs))

    explained = Decimal(0)
    purposes = {"exit": 0, "stop": 0}
    gaps = 0  # stops filled at the open of a candle that opened below the stop
    for (entry, exit_), row in zip(pairs, theirs.itertuples(), strict=True):
        entry_boundary = round(entry["ts"] * 1000) - GRACE_MS
        assert index[entry_boundary] == row.EntryBar  # filled at that bar's open
        size = Decimal(entry["amount"])
        assert size == Decimal(exit_["amount"]) == Decimal(int(row.Size))
        assert close_to(Decimal(entry["price"]), row.EntryPrice, 1e-12)
        exit_boundary = round(exit_["ts"] * 1000) - GRACE_MS
        if exit_["purpose"] == "stop":  # at the close of the bar that touched the stop
            assert index[exit_boundary - TF_MS] == row.ExitBar
            rel = 1e-9  # the stop comes from the ATR: whole history vs 300-candle window
            gaps += Decimal(str(candles[row.ExitBar].open)) < Decimal(exit_["stop_price"])
        else:  # the rule's exit: at the next bar's open
            assert exit_["purpose"] == "exit" and index[exit_boundary] == row.ExitBar
            rel = 1e-12
        purposes[exit_["purpose"]] += 1
        # difference 1: our slippage on the exit
        assert close_to(Decimal(exit_["price"]), row.ExitPrice * (1 - float(SLIP)), rel)
        explained += size * Decimal(float(row.ExitPrice)) * SLIP * (1 - FEE)
    assert purposes["exit"] > 0 and purposes["stop"] > 0, purposes
    assert gaps == 1  # one of the 57 stops here gapped: filled at that open on both sides

    # difference 2: the final equity, by the slipped exits' proceeds
    their_final = Decimal(float(stats["Equity Final [$]"]))
    assert abs(ours.final_equity - (their_final - explained)) < Decimal("1e-6"), (
        ours.final_equity,
        their_final,
        explained,
    )
    assert explained > 0
    # a position open at the end: valued at the last close on both sides (no exit fee)
    assert open_at_end == (len(stats["_strategy"].trades) == 1)
