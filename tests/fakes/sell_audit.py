"""The emulators' sell audit (issue 16, "never sell more than our position"): a test
instrument, not exchange behaviour. Each ledger keeps one; the emulators call it where
fills are executed and where balances change.

Per account it tracks "our" quantity: per asset on spot, per (symbol, position side,
direction) on swaps. Fills of orders the bot placed (client id shaped like the bot's:
``nj`` + 16 lowercase base36 characters, see nija_tg/exchange/client_ids.py) move it:
a buy (an opening swap fill) adds, a sell (a closing swap fill) takes away. Every
change the bot did not make (a sale or a close by hand through the API, a withdrawal, a
test writing a balance) clamps it: ours = min(ours, what the account holds); a deposit
never grows it. A bot sell (a closing swap fill) larger than ours at that moment is a
``Violation``, recorded with its details (the fill still happens: the emulator is the
exchange, which does not know whose coins they are).

``ledgers()`` lists every ledger created in this process that is still alive, so a test
teardown can look at all of them (tests/conftest.py).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.emulator_base import EmuOrder, Ledger

ZERO = Decimal(0)
# The shape of the bot's client order ids (kept here rather than imported: the emulators
# do not depend on the code they test; tests/fakes/test_sell_audit.py checks they agree).
BOT_ID = re.compile(r"^nj[0-9a-z]{16}$")

_LEDGERS: weakref.WeakSet[Ledger] = weakref.WeakSet()


def is_bot_id(client_id: str | None) -> bool:
    return bool(client_id) and bool(BOT_ID.match(client_id or ""))


def register(ledger: Ledger) -> None:
    _LEDGERS.add(ledger)


def ledgers() -> list[Ledger]:
    """Every live ledger of this process (emulators not yet garbage-collected)."""
    return list(_LEDGERS)


@dataclass(frozen=True)
class Violation:
    """A bot sell larger than our quantity at that moment."""

    account: str
    key: tuple  # ("spot", asset) or ("swap", symbol, position side, direction)
    order_id: str
    client_id: str | None
    sold: Decimal
    ours: Decimal  # our quantity just before the fill
    held: Decimal  # what the account held just before the fill
    ts_ms: int
    how: str = ""  # what kind of order it was, when that explains it

    def __str__(self) -> str:
        return (
            f"bot order {self.client_id} ({self.order_id}) sold {self.sold} of {self.key[1:]} "
            f"on account ...{self.account[-4:]}, our position was {self.ours} "
            f"(account held {self.held}) at {self.ts_ms}" + (f": {self.how}" if self.how else "")
        )


@dataclass
class SellAudit:
    """Our quantities and the violations of one ledger."""

    is_bot: Callable[[str | None], bool] = is_bot_id
    ours: dict[tuple[str, tuple], Decimal] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    bot_sells: int = 0  # bot sells / closing fills audited
    external_changes: int = 0  # clamps that lowered ours

    def quantity(self, account: str, key: tuple) -> Decimal:
        return self.ours.get((account, key), ZERO)

    def credit(self, account: str, key: tuple, qty: Decimal) -> None:
        """Count ``qty`` as ours: for a test that builds a ledger state by hand (orders and
        fills appended, not executed)."""
        self.ours[(account, key)] = self.quantity(account, key) + qty

    def clamp(self, account: str, key: tuple, held: Decimal) -> None:
        """Something the bot did not do left the account holding ``held``."""
        mine = self.ours.get((account, key))
        if mine is not None and mine > max(held, ZERO):
            self.ours[(account, key)] = max(held, ZERO)
            self.external_changes += 1

    def _bot_fill(
        self,
        order: EmuOrder,
        key: tuple,
        bought: Decimal,
        sold: Decimal,
        held: Decimal,
        now_ms: int,
        how: str = "",
    ) -> None:
        account = order.account
        self.clamp(account, key, held)
        mine = self.quantity(account, key)
        if sold > 0:
            self.bot_sells += 1
            if sold > mine:
                self.violations.append(
                    Violation(
                        account, key, order.order_id, order.client_id, sold, mine, held, now_ms, how
                    )
                )
            mine = max(mine - sold, ZERO)
        self.ours[(account, key)] = mine + bought

    # --- spot -----------------------------------------------------------------------------

    def spot_fill(
        self, order: EmuOrder, base: str, amount: Decimal, held: Decimal, now_ms: int
    ) -> None:
        """Before a spot fill of ``amount`` base moves the balances (``held``: the base the
        account holds now). A fill of an order not the bot's is an outside change: the
        balance watch clamps after it."""
        if not self.is_bot(order.client_id):
            return
        key = ("spot", base)
        if order.side == "buy":
            self._bot_fill(order, key, amount, ZERO, held, now_ms)
        else:
            self._bot_fill(order, key, ZERO, amount, held, now_ms)

    def watch(self, account: str, balances: dict[str, Decimal]) -> WatchedBalances:
        """``balances`` as a dict that clamps our quantities after every write."""

        def changed(asset: str, value: Decimal) -> None:
            self.clamp(account, ("spot", asset), value)

        return WatchedBalances(balances, changed)

    # --- swaps ----------------------------------------------------------------------------

    @staticmethod
    def _swap_keys(order: EmuOrder) -> tuple[tuple, tuple]:
        side = order.position_side or "BOTH"
        return ("swap", order.symbol, side, "long"), ("swap", order.symbol, side, "short")

    def swap_observe(self, account: str, symbol: str, side: str, size: Decimal) -> None:
        """The position (``size`` signed) as it stands: clamp both directions to it."""
        self.clamp(account, ("swap", symbol, side, "long"), max(size, ZERO))
        self.clamp(account, ("swap", symbol, side, "short"), max(-size, ZERO))

    def swap_fill(
        self, order: EmuOrder, size: Decimal, closing: Decimal, opening: Decimal, now_ms: int
    ) -> None:
        """Before a swap fill: ``size`` the signed position it acts on, ``closing`` the
        part that reduces it, ``opening`` the part that opens or adds (direction of the
        order)."""
        side = order.position_side or "BOTH"
        self.swap_observe(order.account, order.symbol, side, size)
        if not self.is_bot(order.client_id):
            return
        long_key, short_key = self._swap_keys(order)
        if closing:
            key = long_key if size > 0 else short_key
            how = "" if meant_to_reduce(order) else NETTED
            self._bot_fill(order, key, ZERO, closing, abs(size), now_ms, how)
        if opening:
            long = order.side == "buy"
            held = max(size if long else -size, ZERO)  # that direction's size before
            self._bot_fill(order, long_key if long else short_key, opening, ZERO, held, now_ms)

    def swap_after(self, order: EmuOrder, size: Decimal) -> None:
        """After a swap fill: an order not the bot's may have closed part of the position."""
        if not self.is_bot(order.client_id):
            self.swap_observe(order.account, order.symbol, order.position_side or "BOTH", size)


NETTED = (
    "an opening order (not reduce-only, one-way mode) netted against the account's "
    "opposite position"
)


def meant_to_reduce(order: EmuOrder) -> bool:
    """Whether the order was meant to reduce (reduce-only, or a hedge-mode close)."""
    side = order.position_side or "BOTH"
    if side == "BOTH":
        return order.reduce_only
    return (side == "LONG") == (order.side == "sell")


class WatchedBalances(dict):
    """A balances dict that reports every write (asset, new value) after it happens."""

    def __init__(self, initial: dict[str, Decimal], changed: Callable[[str, Decimal], None]):
        super().__init__(initial)
        self._changed = changed

    def __setitem__(self, asset: str, value: Decimal) -> None:
        super().__setitem__(asset, value)
        self._changed(asset, value)

    def __delitem__(self, asset: str) -> None:
        super().__delitem__(asset)
        self._changed(asset, ZERO)

    def pop(self, asset: str, *default: Any) -> Any:
        value = super().pop(asset, *default)
        self._changed(asset, ZERO)
        return value

    def setdefault(self, asset: str, default: Any = None) -> Any:
        value = super().setdefault(asset, default)
        self._changed(asset, self[asset])
        return value

    def update(self, *args: Any, **kwargs: Any) -> None:
        for asset, value in dict(*args, **kwargs).items():
            self[asset] = value

    def clear(self) -> None:
        assets = list(self)
        super().clear()
        for asset in assets:
            self._changed(asset, ZERO)


def all_violations() -> Iterator[tuple[Ledger, Violation]]:
    for ledger in ledgers():
        audit = getattr(ledger, "audit", None)
        for v in audit.violations if audit is not None else ():
            yield ledger, v
