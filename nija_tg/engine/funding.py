"""Funding payments of a user's swap positions, read from the venue and booked once.

Perpetual swaps pay or charge funding at the venue's settlement times (BingX: every 8
hours, 00:00, 08:00 and 16:00 UTC) out of the wallet, so the account's equity already
moves with it; what the engine adds is the booking, so that the reports count it in the
realised P&L (``core.pnl``, "funding" in /pnl and /status).

Cheap by design: a loop reads only while it holds a swap position (or held one at its
last read: one more read after the close catches a settlement just before it), and at
most once per ``READ_EVERY_MS`` (the first candle close of each UTC hour, and the first
close after a start): one request for every symbol of the account (BingX ``GET
/openApi/swap/v2/user/income?incomeType=FUNDING_FEE``), whatever the number of
positions. It asks from the newest payment already booked minus ``OVERLAP_MS`` (a
payment the venue posts late is still found), but never before the opening of the
oldest position it watches (the venue's time of its entry fill); only payments on the
symbols of the user's swap positions, settled after that opening, are booked. Each is
keyed by the venue's id (``funding_payments``, unique per user and exchange): reading it
again, after a restart too, books nothing twice. Payments are not told one by one
(three a day per position would bury the fills): they show summed in the P&L.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from nija_tg.core.errors import AuthenticationError, NijaError
from nija_tg.core.models import MarketInfo
from nija_tg.exchange.protocol import FundingPayment
from nija_tg.storage import funding as funding_store
from nija_tg.storage.db import Database
from nija_tg.storage.positions import PositionRow

log = logging.getLogger("nija_tg.engine.funding")

READ_EVERY_MS = 3_600_000  # at most one read per UTC hour
OVERLAP_MS = 24 * 3_600_000  # re-read this much before the newest payment booked


def _is_swap(market: MarketInfo | None) -> bool:
    return market is not None and market.kind == "swap"


class FundingReader:
    """One loop's reader (see the module docstring)."""

    def __init__(self, db: Database, user_id: int, now_ms: Callable[[], int]) -> None:
        self.db = db
        self.user_id = user_id
        self.now_ms = now_ms
        # symbol -> since when (venue ms) a position of ours is held there
        self.watch: dict[str, int] = {}
        self.read_slot: int | None = None  # READ_EVERY_MS slot of the last read
        self.booked = 0  # payments booked by this loop (status, tests)
        # the sum of the payments the last call booked: the wallet moved by it without a
        # fill (a balance jump that is neither a deposit nor a withdrawal)
        self.last_amount = Decimal(0)

    async def on_close(
        self,
        account: object,
        *,
        exchange_id: str,
        mode: str,
        session_id: int | None,
        held: Iterable[PositionRow],
        markets: Mapping[str, MarketInfo],
        boundary_ms: int,
    ) -> int:
        """Read and book the payments due (see the module docstring); the number newly
        booked. A read that fails for a passing reason is tried on the next close; a
        refused key raises (the loop pauses the user)."""
        self.last_amount = Decimal(0)
        fetch = getattr(account, "fetch_funding", None)
        if fetch is None:
            return 0
        held_now = {p.symbol for p in held if _is_swap(markets.get(p.symbol))}
        for symbol in held_now - set(self.watch):
            # since the venue's time of the entry fill (our clock's now without one)
            opened = await funding_store.entry_time(self.db, self.user_id, symbol)
            self.watch[symbol] = self.now_ms() if opened is None else int(opened * 1000)
        slot = boundary_ms // READ_EVERY_MS
        if not self.watch or slot == self.read_slot:
            return 0
        since = min(self.watch.values())
        last = await funding_store.last_ts(self.db, self.user_id, exchange_id)
        if last is not None:
            since = max(since, int(last * 1000) - OVERLAP_MS)
        try:
            payments: list[FundingPayment] = await fetch(since, sorted(self.watch))
        except AuthenticationError:
            raise
        except NijaError as exc:
            log.warning("user %s: funding not read this close: %s", self.user_id, exc)
            return 0
        ours = [p for p in payments if p.symbol in self.watch and p.ts_ms >= self.watch[p.symbol]]
        booked = await self._book(ours, exchange_id, mode, session_id)
        self.read_slot = slot
        # a symbol no longer held was read once more after its close: forget it
        self.watch = {s: t for s, t in self.watch.items() if s in held_now}
        return booked

    async def _book(
        self,
        payments: list[FundingPayment],
        exchange_id: str,
        mode: str,
        session_id: int | None,
    ) -> int:
        if not payments:
            return 0
        booked = 0
        now = self.now_ms() / 1000
        async with self.db.transaction() as tx:
            for p in payments:
                new = await funding_store.record(
                    tx,
                    self.user_id,
                    exchange_id,
                    mode,
                    payment_id=p.payment_id,
                    symbol=p.symbol,
                    currency=p.currency,
                    amount=p.amount,
                    ts=p.ts_ms / 1000,
                    session_id=session_id,
                    now=now,
                )
                booked += new
                self.last_amount += p.amount if new else 0
        if booked:
            log.info("user %s: %d funding payment(s) booked", self.user_id, booked)
        self.booked += booked
        return booked
