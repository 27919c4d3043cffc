"""engine/funding.py on its own: what it books, when it reads, and what a failed read
does. The account is a small in-test venue with a funding list (no patching)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nija_tg.core.errors import AuthenticationError, RetryableError
from nija_tg.core.models import FillInfo, MarketInfo, Role, Side
from nija_tg.engine.funding import READ_EVERY_MS, FundingReader
from nija_tg.exchange.protocol import FundingPayment
from nija_tg.storage import fills, users
from nija_tg.storage.positions import PositionRow

UID = 31
ETH, SOL, BTC = "ETH/USDT:USDT", "SOL/USDT:USDT", "BTC/USD"
H = 3_600_000
T0 = 1_700_000_000_000 // H * H
MARKETS = {
    ETH: MarketInfo(ETH, "ETH", "USDT", "swap"),
    SOL: MarketInfo(SOL, "SOL", "USDT", "swap"),
    BTC: MarketInfo(BTC, "BTC", "USD", "spot"),
}


class Venue:
    """Answers ``fetch_funding`` from ``payments`` settled by ``now``, or raises
    ``error`` once."""

    def __init__(self, payments: list[FundingPayment]) -> None:
        self.payments = payments
        self.calls: list[tuple[int, list[str] | None]] = []
        self.error: Exception | None = None
        self.now = 0

    async def fetch_funding(self, since_ms: int, symbols: list[str] | None = None):
        self.calls.append((since_ms, symbols))
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        return [p for p in self.payments if since_ms <= p.ts_ms <= self.now]


def held(*symbols: str) -> list[PositionRow]:
    return [
        PositionRow(
            UID, s, "long", Decimal(1), Decimal(1), None, None, Decimal(0), Decimal(0), 0, 0
        )
        for s in symbols
    ]


def pay(pid: str, symbol: str, hours: float, amount: str = "-0.1") -> FundingPayment:
    return FundingPayment(pid, symbol, "USDT", Decimal(amount), int(T0 + hours * H))


@pytest.fixture
async def reader(db):
    async with db.transaction() as tx:
        await users.upsert_user(tx, UID, UID, "u", None, Role.TRADER)
        # the ETH position was entered at T0 + 1 h (the venue's time of its fill)
        entry = FillInfo("e1", ETH, Side.BUY, Decimal(1), Decimal(2000), Decimal(0), "USDT", T0 + H)
        await fills.insert(tx, UID, None, "bingx", entry)
    return FundingReader(db, UID, lambda: T0 + 100 * H)


async def close(reader: FundingReader, venue: Venue | object, positions, at_ms: int) -> int:
    if isinstance(venue, Venue):
        venue.now = at_ms
    return await reader.on_close(
        venue,
        exchange_id="bingx",
        mode="live",
        session_id=None,
        held=positions,
        markets=MARKETS,
        boundary_ms=at_ms,
    )


async def booked(db) -> list[str]:
    rows = await db.fetchall("SELECT payment_id FROM funding_payments ORDER BY ts, payment_id")
    return [r["payment_id"] for r in rows]


async def test_books_own_symbols_since_the_entry_once(db, reader) -> None:
    venue = Venue([pay("old", ETH, 0), pay("a", ETH, 8), pay("sol", SOL, 8), pay("b", ETH, 16)])
    assert await close(reader, venue, held(ETH, BTC), T0 + 17 * H) == 2
    assert await booked(db) == ["a", "b"]  # not before the entry, not SOL (not ours)
    assert venue.calls == [(T0 + H, [ETH])]  # one call, from the entry fill's time
    assert reader.last_amount == Decimal("-0.2")
    # the same hour: no read; the next hour: read again from the newest booked - 1 day,
    # but not before the entry; nothing booked twice
    assert await close(reader, venue, held(ETH), T0 + 17 * H + 300_000) == 0
    assert len(venue.calls) == 1
    assert await close(reader, venue, held(ETH), T0 + 18 * H) == 0
    assert venue.calls[-1] == (T0 + H, [ETH]) and await booked(db) == ["a", "b"]


async def test_no_swap_position_no_read(db, reader) -> None:
    venue = Venue([pay("a", ETH, 8)])
    assert await close(reader, venue, held(BTC), T0 + 9 * H) == 0
    assert await close(reader, venue, [], T0 + 10 * H) == 0
    assert venue.calls == []
    assert await close(reader, object(), held(ETH), T0 + 11 * H) == 0  # paper: no source


async def test_one_read_after_the_close_then_none(db, reader) -> None:
    venue = Venue([pay("a", ETH, 8), pay("b", ETH, 16)])
    await close(reader, venue, held(ETH), T0 + 9 * H)
    assert await booked(db) == ["a"]
    # flat since: the next hour's read still books what was due while it was held
    assert await close(reader, venue, [], T0 + 16 * H + 300_000) == 1
    assert await close(reader, venue, [], T0 + 17 * H) == 0
    assert await close(reader, venue, [], T0 + 18 * H) == 0
    assert len(venue.calls) == 2


async def test_a_failed_read_is_tried_on_the_next_close(db, reader) -> None:
    venue = Venue([pay("a", ETH, 8)])
    venue.error = RetryableError("timeout")
    assert await close(reader, venue, held(ETH), T0 + 9 * H) == 0
    assert await close(reader, venue, held(ETH), T0 + 9 * H + 300_000) == 1  # same hour
    assert await booked(db) == ["a"]
    venue.error = AuthenticationError("key revoked")
    with pytest.raises(AuthenticationError):
        await close(reader, venue, held(ETH), T0 + 9 * H + READ_EVERY_MS)


async def test_a_restart_reads_from_the_newest_booked_minus_a_day(db, reader) -> None:
    venue = Venue([pay(f"p{i}", ETH, 8 * i) for i in range(1, 12)])  # up to 88 h
    await close(reader, venue, held(ETH), T0 + 89 * H)
    assert len(await booked(db)) == 11
    fresh = FundingReader(db, UID, lambda: T0 + 100 * H)  # a new loop after a restart
    assert await close(fresh, venue, held(ETH), T0 + 90 * H) == 0
    assert venue.calls[-1][0] == T0 + 88 * H - 24 * H
