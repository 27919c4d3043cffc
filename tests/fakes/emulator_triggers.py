"""Stop-market triggering shared by the exchange emulators.

An open ``EmuOrder`` with ``trigger_price`` set is a stop: a sell triggers when the price
falls to or below the trigger, a buy when it rises to or above it; once triggered it fills
as a market order (the ledger's ``execute``). Two things trigger a stop:

- the current price (a ``set_price`` pin, or the newest candle's close): on placement a
  stop the price already reached fills at once at that price (``Ledger.try_fill``); when
  ``Ledger.set_price`` or ``StopTriggers.sync`` finds the price moved to or past the
  trigger, the stop fills at its trigger (the price passed it on the way);
- the replayed candles: ``StopTriggers.sync(now)`` walks, in time order, every candle that
  closed after the stop was created and no later than ``now`` (the emulator clock), and
  triggers the stop in the first one whose range reaches its trigger. The fill is at the
  trigger, or at the candle's open when the open already lay beyond it (a gap), rounded
  the emulator's way; the fill time is the candle's last millisecond.

Deterministic: candles are scanned in order; each stop keeps a cursor so no candle is
scanned twice for it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fakes.emulator_base import EmulatorServer, EmuOrder

CANDLE_MS = 300_000  # every candle file in tests/data holds 5m candles


def stop_crossed(side: str, trigger: Decimal, price: Decimal) -> bool:
    """Whether ``price`` reaches a ``side`` stop's ``trigger`` (sell: <=, buy: >=)."""
    return price <= trigger if side == "sell" else price >= trigger


def candle_fill_price(
    side: str, trigger: Decimal, open_: Decimal, high: Decimal, low: Decimal
) -> Decimal | None:
    """Where a ``side`` stop at ``trigger`` fills within one candle, None if it does not
    trigger there: at the trigger, or at the open when the open gapped beyond it."""
    if side == "sell":
        if low > trigger:
            return None
        return open_ if open_ < trigger else trigger
    if high < trigger:
        return None
    return open_ if open_ > trigger else trigger


class StopTriggers:
    """Triggers ``emu``'s open stops from its replayed candles and current prices.

    ``round_px(symbol, price)`` rounds a candle price the way the emulator rounds prices
    (identity by default)."""

    def __init__(
        self,
        emu: EmulatorServer,
        round_px: Callable[[str, Decimal], Decimal] | None = None,
    ) -> None:
        self.emu = emu
        self.round_px = round_px or (lambda _symbol, px: px)
        self._next_row: dict[str, int] = {}  # order id -> index of the next candle to scan

    def open_stops(self) -> list[EmuOrder]:
        return [
            o
            for o in self.emu.ledger.orders
            if o.status == "open" and o.trigger_price is not None and o.triggered_ms is None
        ]

    def sync(self, now_ms: int) -> None:
        """Trigger every open stop the candles closed by ``now_ms`` (oldest first) or the
        current reference price reach. The candles are traded prices: a stop watching a
        mark price a test holds apart (BingX ``MARK_PRICE``) is left to that price."""
        ledger, split = self.emu.ledger, self.emu.split_symbol
        for order in self.open_stops():
            if ledger.trigger_reference(order)[1]:
                self._scan_candles(order, now_ms)
        for order in self.open_stops():
            ledger.check_stop(order, now_ms, split)

    def _scan_candles(self, order: EmuOrder, now_ms: int) -> None:
        rows = self.emu.candles.get(order.symbol, [])
        assert order.trigger_price is not None
        start = self._next_row.get(order.order_id)
        if start is None:  # first candle that closes after the order was created
            start = bisect.bisect_right(rows, order.created_ms - CANDLE_MS, key=lambda r: r[0])
        end = bisect.bisect_right(rows, now_ms - CANDLE_MS, key=lambda r: r[0])
        for i in range(start, end):
            ts, o, h, low = rows[i][:4]
            prices = [self.round_px(order.symbol, Decimal(str(x))) for x in (o, h, low)]
            px = candle_fill_price(order.side, order.trigger_price, *prices)
            if px is not None:
                when = max(order.created_ms, int(ts) + CANDLE_MS - 1)
                self.emu.ledger.trigger(order, px, when, self.emu.split_symbol)
                self._next_row.pop(order.order_id, None)
                return
        self._next_row[order.order_id] = max(start, end)
