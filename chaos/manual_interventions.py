"""Issue 16: random manual interventions during live trading.

The real daemon (reconciler, MarketHub, user loops, Executor) runs in this process with
the real ``CcxtGateway`` and the vault-decrypting account factory, against the Kraken
spot emulator and the BingX swap emulator (tests/fakes/), under a simulated clock that
this script moves one 5 m candle at a time (``tests/engine/live_rig.advance_candle``:
each step waits until every loop handled the close). LIVE users trade strategies that
enter and exit every few candles, with stops resting on the exchange: Kraken users
``test_flipflop`` on ETH/USD and SOL/USD, holding coins of their own besides ours (odd
users in the traded assets, even users in BTC only);
BingX users ``test_swapflip`` (long, exit, short, exit, ...) on ETH and SOL perpetuals,
one in one-way and one in hedge mode.

Between candles, or while the loops handle one (a random share), the script plays the
user at random, with the user's own key through ccxt where the exchange has a call for
it, else on the emulator's ledger:

- Kraken: sell part or all of our position by hand (after cancelling our stop, whose
  hold would refuse the sale), cancel our stop, deposit extra coins (often of the asset
  just sold by hand), withdraw coins the account has free;
- BingX: close part or all of our position by hand (a reduce-only market order), cancel
  our stop, open an extra position of the user's own on the same side, deposit or
  withdraw USDT margin.

Then a few quiet candles, and the checks:

- 0 sells beyond our positions: the emulators' sell audit (tests/fakes/sell_audit.py)
  follows our quantity per account from our own fills, lowered by every change the bot
  did not make; no fill of ours may sell more;
- 0 duplicate or unknown orders: each client id of ours is one exchange order, known to
  the database for the right user, in the same state (a stop the exchange fired after
  the engine's last look is pending, not a failure);
- 0 repeated "Stop hit" messages: per user and symbol, no more "Stop hit" messages
  than stop closes the engine filled, and no more exchange-stop fill messages than
  exchange stops filled.

- the books end true: each position the database holds equals the audit's quantity
  (after the quiet candles the engine has reconciled every change made by hand).

Figures besides: "closed outside the bot" messages, error messages told (their texts).

Usage: ``python -m chaos.manual_interventions --interventions 40 --out result.json``
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from chaos.common import base_parser, emit, result

TF = 300_000
ZERO = Decimal(0)
KRAKEN_PAIRS = ("ETH", "SOL")
BINGX_PAIRS = ("ETH", "SOL")
OWN_COINS = {"ETH": Decimal("0.5"), "SOL": Decimal(4)}  # odd Kraken users' own, at start
OTHER_COINS = {"BTC": Decimal("0.05")}  # even Kraken users' own: none of the traded assets
KRAKEN_KINDS = ("sell_part", "sell_all", "cancel_stop", "deposit", "withdraw")
BINGX_KINDS = ("close_part", "close_all", "cancel_stop", "add_own", "deposit", "withdraw")


class NothingToDo(Exception):
    """The intervention no longer applies (the position closed meanwhile)."""


@dataclass
class Plan:
    interventions: int = 40
    kraken_users: int = 2
    bingx: bool = True  # BingX swap users too (one one-way, one hedge)
    period: int = 6  # candles per enter/exit cycle of the strategies
    stop_pct: float = 1.5
    concurrent_share: float = 0.4  # interventions fired while the loops handle a close
    settle_candles: int = 4
    max_candles: int = 600
    seed: int = 6
    start_candle: int = 320


@dataclass
class User:
    uid: int
    venue: str  # "kraken" | "bingx"
    acct: Any = None
    hedge: bool = False
    last_sold: str | None = None  # the asset the user last sold by hand (Kraken)


@dataclass
class Tally:
    done: Counter[str] = field(default_factory=Counter)  # "venue:kind" -> count
    skipped: Counter[str] = field(default_factory=Counter)  # refused by the exchange
    concurrent: int = 0
    candles: int = 0
    failures: list[str] = field(default_factory=list)


class Run:
    """The emulators, the daemon and the user's hand."""

    def __init__(self, work: Path, plan: Plan) -> None:
        self.work, self.plan = work, plan
        self.rng = random.Random(plan.seed)
        self.tally = Tally()
        self.users: list[User] = []
        self.error_texts: list[str] = []

    # --- set-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        from nija_tg.config import load_settings
        from nija_tg.exchange.ccxt_gateway import CcxtGateway
        from nija_tg.runtime import Runtime
        from nija_tg.storage.db import Database
        from nija_tg.vault.keyring import KeyRing
        from tests.engine.live_child import PacedClock, register_flipflop
        from tests.engine.live_rig import start_live_daemon, until
        from tests.engine.swap_support import register_swapflip
        from tests.fakes.bingx import BingXEmulator
        from tests.fakes.kraken import KrakenEmulator

        data = self.work / "data"
        data.mkdir(parents=True, exist_ok=True)
        settings = load_settings({"NIJA_DATA_DIR": str(data)}, dotenv=None)
        self.db = await Database.open(settings.db_path)
        settings = dataclasses.replace(settings, engine_drain_seconds=5.0)
        self.runtime = Runtime(settings, self.db, KeyRing.generate())
        self.kraken, self.bingx = KrakenEmulator(), BingXEmulator()
        first = self.kraken.candles["ETH/USD"][self.plan.start_candle][0]
        self.clock = PacedClock(int(first + TF // 2))
        register_flipflop()
        register_swapflip()
        urls = {}
        for emu, name in ((self.kraken, "kraken"), (self.bingx, "bingx")):
            emu.clock_ms = self.clock.now_ms
            await emu.start()
            urls[name] = emu.base_url
        for i in range(self.plan.kraken_users):
            await self._add_kraken_user(1 + i)
        if self.plan.bingx:
            await self._add_bingx_user(11, hedge=False)
            await self._add_bingx_user(12, hedge=True)
        self.gateway = CcxtGateway(
            exchange_urls=urls, timeout_ms=3000, enable_rate_limit=False, retry_delay_s=0.02
        )
        self.stop_event = asyncio.Event()
        self.hub, self.daemon, self.task = start_live_daemon(
            self.runtime, self.gateway, self.clock, self.stop_event
        )
        ready = await until(lambda: self.hub.subscribers == len(self.users), timeout=60)
        assert ready, "the users' loops did not start"

    def _phase(self, uid: int) -> int:
        first = self.clock.now_ms() // TF * TF
        return (-(first // TF) + uid) % self.plan.period

    async def _add_kraken_user(self, uid: int) -> None:
        from nija_tg.core.risk_settings import RiskSettings
        from tests.engine.live_child import FLIPFLOP, FlipFlopParams
        from tests.engine.live_rig import arrange_live_user

        own = OWN_COINS if uid % 2 else OTHER_COINS
        acct = self.kraken.add_account({"USD": Decimal(10000), **own})
        risk = RiskSettings(
            strategy=FLIPFLOP,
            strategy_params=FlipFlopParams(
                period=self.plan.period, phase=self._phase(uid), stop_pct=self.plan.stop_pct
            ),
            allowed_pairs=KRAKEN_PAIRS,
            max_open_positions=len(KRAKEN_PAIRS),
            max_position_usd=Decimal(300),
            max_drawdown_pct=Decimal(90),
            daily_loss_pct=Decimal(50),
            daily_loss_usd=Decimal(100000),
            trailing_stop=False,
        )
        creds = self.kraken.credentials(acct)
        await arrange_live_user(
            self.runtime, uid, "kraken", creds, risk, chat_id=5000 + uid, username=f"k{uid}"
        )
        self.users.append(User(uid, "kraken", acct))

    async def _add_bingx_user(self, uid: int, hedge: bool) -> None:
        from tests.engine.live_rig import arrange_live_user
        from tests.engine.swap_support import SwapFlipParams, swap_settings

        acct = self.bingx.add_account({"USDT": Decimal(2000)})
        self.bingx.set_hedge_mode(acct, hedge)
        risk = swap_settings(
            leverage_cap=2,
            position_mode="hedge" if hedge else "one_way",
            allowed_pairs=BINGX_PAIRS,
            max_open_positions=len(BINGX_PAIRS),
            max_position_usd=Decimal(200),
            strategy_params=SwapFlipParams(
                period=self.plan.period, stop_pct=self.plan.stop_pct, phase=self._phase(uid)
            ),
        )
        creds = self.bingx.credentials(acct)
        await arrange_live_user(
            self.runtime, uid, "bingx", creds, risk, chat_id=5000 + uid, username=f"b{uid}"
        )
        self.users.append(User(uid, "bingx", acct, hedge))

    async def stop_daemon(self) -> None:
        self.stop_event.set()
        try:
            await asyncio.wait_for(self.task, 30)
        finally:
            await self.gateway.close_all()

    async def close(self) -> None:
        await self.kraken.stop()
        await self.bingx.stop()
        await self.db.close()

    # --- the user's hand ------------------------------------------------------------------

    def client(self, u: User):
        if u.venue == "kraken":
            from tests.fakes.test_kraken_emulator import make_client

            return make_client(self.kraken, u.acct)
        from tests.fakes.test_bingx_emulator import make_client as bingx_client

        return bingx_client(self.bingx, self.bingx.credentials(u.acct))

    def emu(self, u: User):
        return self.kraken if u.venue == "kraken" else self.bingx

    def our_stops(self, u: User, symbol: str | None = None) -> list:
        from nija_tg.exchange.client_ids import is_ours

        return [
            o
            for o in self.emu(u).ledger.orders
            if o.account == u.acct.api_key
            and o.status == "open"
            and o.trigger_price is not None
            and is_ours(o.client_id)
            and (symbol is None or o.symbol == symbol)
        ]

    def ours(self, u: User) -> dict[tuple, Decimal]:
        """The audit's quantities of ``u`` (the truth about our positions), non-zero."""
        audit = self.emu(u).ledger.audit
        return {k: q for (a, k), q in audit.ours.items() if a == u.acct.api_key and q > 0}

    def choose(self) -> tuple[User, str] | None:
        """A user and an intervention that applies to them now."""
        options = []
        for u in self.users:
            held = self.ours(u)
            kinds = KRAKEN_KINDS if u.venue == "kraken" else BINGX_KINDS
            for kind in kinds:
                needs_position = kind not in ("deposit", "withdraw")
                if needs_position and not held:
                    continue
                if kind == "cancel_stop" and not self.our_stops(u):
                    continue
                options.append((u, kind))
        if not options:
            return None
        # the rarer kinds so far first, so that every kind is played
        least = min(self.tally.done[f"{u.venue}:{k}"] for u, k in options)
        options = [(u, k) for u, k in options if self.tally.done[f"{u.venue}:{k}"] <= least + 1]
        return self.rng.choice(options)

    async def intervene(self, u: User, kind: str) -> None:
        import ccxt

        client = self.client(u)
        try:
            if u.venue == "kraken":
                await self._kraken(client, u, kind)
            else:
                await self._bingx(client, u, kind)
            self.tally.done[f"{u.venue}:{kind}"] += 1
        except ccxt.BaseError as e:  # the exchange refused the user's move: note it
            self.tally.skipped[f"{u.venue}:{kind}: {type(e).__name__}"] += 1
        except NothingToDo:
            self.tally.skipped[f"{u.venue}:{kind}: position gone meanwhile"] += 1
        finally:
            await client.close()

    def _pick_ours(self, u: User) -> tuple[tuple, Decimal]:
        held = sorted(self.ours(u).items())
        if not held:
            raise NothingToDo
        return self.rng.choice(held)

    async def _cancel_stops(self, client, u: User, symbol: str) -> None:
        for o in self.our_stops(u, symbol):
            await client.cancel_order(o.order_id, symbol)

    async def _kraken(self, client, u: User, kind: str) -> None:
        from tests.fakes.kraken_markets import PAIRS

        bal = u.acct.balances
        if kind in ("deposit", "withdraw"):
            base = self.rng.choice(KRAKEN_PAIRS)
            if kind == "deposit":
                # coins often come back to an asset just sold by hand: the case where
                # what the account holds no longer tells our position
                if u.last_sold is not None and self.rng.random() < 0.7:
                    base, u.last_sold = u.last_sold, None
                extra = OWN_COINS[base] * Decimal(str(self.rng.uniform(0.2, 1)))
                bal[base] = bal.get(base, ZERO) + extra.quantize(Decimal("1e-8"))
                return
            held = self.kraken.ledger.holds(u.acct.api_key, self.kraken.split_symbol)
            free = bal.get(base, ZERO) - held.get(base, ZERO)
            take = (free * Decimal(str(self.rng.uniform(0.3, 1)))).quantize(Decimal("1e-8"))
            if take > 0:
                bal[base] = bal[base] - take
            return
        (_, base), mine = self._pick_ours(u)
        symbol = f"{base}/USD"
        await self._cancel_stops(client, u, symbol)
        if kind == "cancel_stop":
            return
        share = Decimal(1) if kind == "sell_all" else Decimal(str(self.rng.uniform(0.3, 0.7)))
        amount = (mine * share).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
        if amount >= Decimal(PAIRS[symbol].ordermin):
            await client.create_order(symbol, "market", "sell", float(amount))
            u.last_sold = base

    async def _bingx(self, client, u: User, kind: str) -> None:
        bal = u.acct.balances
        if kind == "deposit":
            bal["USDT"] = bal["USDT"] + Decimal(self.rng.randint(50, 500))
            return
        if kind == "withdraw":
            free = self.bingx.ledger.summary(u.acct.api_key)["available"]
            take = (free * Decimal(str(self.rng.uniform(0.05, 0.3)))).quantize(Decimal("0.01"))
            if take > 0:
                bal["USDT"] = bal["USDT"] - take
            return
        (_, symbol, _side, direction), mine = self._pick_ours(u)
        if kind == "cancel_stop":
            await self._cancel_stops(client, u, symbol)
            return
        params: dict[str, Any] = {"hedged": True} if u.hedge else {}
        if kind == "add_own":  # the user's own position, on the same side
            side = "buy" if direction == "long" else "sell"
            size = max(mine * Decimal(str(self.rng.uniform(0.3, 1))), Decimal("0.01"))
            await client.create_order(symbol, "market", side, float(round(size, 2)), None, params)
            return
        share = Decimal(1) if kind == "close_all" else Decimal(str(self.rng.uniform(0.3, 0.7)))
        amount = (mine * share).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        if amount <= 0:
            return
        side = "sell" if direction == "long" else "buy"
        await client.create_order(
            symbol, "market", side, float(amount), None, {**params, "reduceOnly": True}
        )

    # --- driving ----------------------------------------------------------------------------

    async def step(self) -> None:
        from tests.engine.live_rig import advance_candle

        await advance_candle(self.clock, self.hub)
        self.tally.candles += 1

    async def play(self) -> None:
        plan = self.plan
        while sum(self.tally.done.values()) < plan.interventions:
            if self.tally.candles >= plan.max_candles:
                self.tally.failures.append(
                    f"only {sum(self.tally.done.values())} interventions in {plan.max_candles}"
                    " candles"
                )
                break
            picked = self.choose() if self.rng.random() < 0.5 else None
            if picked is None:
                await self.step()
                continue
            u, kind = picked
            if self.rng.random() < plan.concurrent_share:
                self.tally.concurrent += 1

                async def later(u=u, kind=kind) -> None:
                    await asyncio.sleep(self.rng.uniform(0, 0.05))
                    await self.intervene(u, kind)

                task = asyncio.create_task(later())
                await self.step()
                await task
            else:
                await self.intervene(u, kind)
                await self.step()
        for _ in range(plan.settle_candles):
            await self.step()

    # --- the checks ---------------------------------------------------------------------------

    async def check(self) -> dict[str, Any]:
        from nija_tg.exchange.client_ids import is_ours

        fails = self.tally.failures
        figures: Counter[str] = Counter()
        orders = {
            r["client_order_id"].lower(): r for r in await self.db.fetchall("SELECT * FROM orders")
        }
        fills_of: Counter[int] = Counter()
        for r in await self.db.fetchall("SELECT order_id FROM fills"):
            fills_of[r["order_id"]] += 1
        outbox = await self.db.fetchall(
            "SELECT user_id, kind, text, event_type, payload FROM outbox"
        )
        positions = await self.db.fetchall("SELECT * FROM positions")
        for venue, emu in (("kraken", self.kraken), ("bingx", self.bingx)):
            users = {u.acct.api_key: u for u in self.users if u.venue == venue}
            if not users:
                continue
            audit = emu.ledger.audit
            figures[f"{venue}_sells_beyond_position"] = len(audit.violations)
            figures[f"{venue}_bot_sells_audited"] = audit.bot_sells
            fails += [f"{venue}: sold more than our position: {v}" for v in audit.violations]
            ours = [o for o in emu.ledger.orders if is_ours(o.client_id)]
            figures[f"{venue}_orders"] = len(ours)
            figures[f"{venue}_stop_orders"] = sum(1 for o in ours if o.trigger_price is not None)
            dups = [c for c, n in Counter(o.client_id for o in ours).items() if n > 1]
            figures[f"{venue}_duplicate_orders"] = len(dups)
            fails += [f"{venue}: duplicate exchange orders for {c}" for c in dups]
            unknown = mismatched = pending = 0
            for o in ours:
                u = users.get(o.account)
                row = orders.get((o.client_id or "").lower())
                if u is None or row is None or row["user_id"] != u.uid:
                    unknown += 1
                    fails.append(f"{venue}: exchange order {o.client_id} unknown to the database")
                    continue
                fired_unseen = row["status"] == "open" and o.status != "open"
                if row["trigger_price"] is not None and fired_unseen:
                    pending += 1  # fired after the engine's last look
                    continue
                want = {"closed": "filled", "open": "open", "canceled": "canceled"}[o.status]
                if row["status"] != want:
                    mismatched += 1
                    got = row["status"]
                    fails.append(f"{venue}: {o.client_id} database {got}, exchange {want}")
            figures[f"{venue}_unknown_orders"] = unknown
            figures[f"{venue}_mismatched_orders"] = mismatched
            figures[f"{venue}_pending_stops"] = pending
            off = self._books_off(venue, users, positions)
            figures[f"{venue}_books_off"] = off
            if off:
                fails.append(f"{venue}: {off} positions booked apart from the audit's at the end")
        self._stop_messages(orders, fills_of, outbox, figures)
        return dict(figures)

    def _books_off(self, venue: str, users: dict, positions: list) -> int:
        """Positions whose booked amount differs from the audit's quantity at the end."""
        audit = (self.kraken if venue == "kraken" else self.bingx).ledger.audit
        booked: dict[tuple, Decimal] = {}
        for r in positions:
            for key, u in users.items():
                if r["user_id"] != u.uid:
                    continue
                if venue == "kraken":
                    k = (key, ("spot", r["symbol"].split("/")[0]))
                else:
                    side = "BOTH" if not u.hedge else r["side"].upper()
                    k = (key, ("swap", r["symbol"], side, r["side"]))
                booked[k] = booked.get(k, ZERO) + Decimal(r["amount"])
        truth = {k: q for k, q in audit.ours.items() if k[0] in users and q > 0}
        return sum(1 for k in set(booked) | set(truth) if booked.get(k, ZERO) != truth.get(k, ZERO))

    def _stop_messages(self, orders: dict, fills_of: Counter, outbox: list, figures) -> None:
        """ "Stop hit" messages against the stop closes the engine filled, exchange-stop
        fill messages against the exchange stops filled, per user and symbol."""
        from nija_tg.messages.stored import stored_text

        engine_stops: Counter[tuple] = Counter()
        native_stops: Counter[tuple] = Counter()
        for r in orders.values():
            if r["purpose"] != "stop" or not fills_of[r["order_id"]]:
                continue
            key = (r["user_id"], r["symbol"])
            (native_stops if r["trigger_price"] is not None else engine_stops)[key] += 1
        hits: Counter[tuple] = Counter()
        native_told: Counter[tuple] = Counter()
        outside = 0
        errors: list[str] = []
        for r in outbox:
            text = stored_text(r["text"], r["event_type"], r["payload"])  # as the bot sends it
            symbol = next((s for s in self._symbols() if s in text), "")
            # messages.render: "🛑 <b>Stop hit</b>: …" (the engine's stop close) and
            # "🛑 <b>Stop hit on the exchange</b>: …" (the stop order that fired)
            if "Stop hit</b>:" in text:
                hits[(r["user_id"], symbol)] += 1
            if "Stop hit on the exchange" in text:
                native_told[(r["user_id"], symbol)] += 1
            outside += "outside the bot" in text
            if r["kind"] == "error":
                errors.append(text[:160])
        repeated = sum(max(0, n - engine_stops[k]) for k, n in hits.items())
        repeated_native = sum(max(0, n - native_stops[k]) for k, n in native_told.items())
        figures["stop_hit_messages"] = sum(hits.values())
        figures["engine_stop_closes"] = sum(engine_stops.values())
        figures["repeated_stop_hit"] = repeated
        figures["exchange_stop_fills"] = sum(native_stops.values())
        figures["exchange_stop_messages"] = sum(native_told.values())
        figures["repeated_exchange_stop_messages"] = repeated_native
        figures["closed_outside_messages"] = outside
        figures["error_messages"] = len(errors)
        self.error_texts = sorted(set(errors))[:10]
        if repeated:
            self.tally.failures.append(f"{repeated} repeated 'Stop hit' messages: {dict(hits)}")
        if repeated_native:
            self.tally.failures.append(f"{repeated_native} repeated exchange-stop fill messages")

    def _symbols(self) -> list[str]:
        # longest first: "ETH/USDT:USDT" before "ETH/USD"
        spot = [f"{b}/USD" for b in KRAKEN_PAIRS]
        swaps = [f"{b}/USDT:USDT" for b in BINGX_PAIRS]
        return sorted(spot + swaps, key=len, reverse=True)


async def run_interventions(work: Path, plan: Plan) -> dict[str, Any]:
    started = time.monotonic()
    run = Run(work, plan)
    try:
        await run.start()
        try:
            await run.play()
        except AssertionError as e:  # a step the loops did not finish
            run.tally.failures.append(f"driving failed: {e}")
        finally:
            await run.stop_daemon()
        figures = await run.check()
    finally:
        await run.close()
    t = run.tally
    return result(
        "manual_interventions",
        t.failures,
        started,
        interventions=sum(t.done.values()),
        by_kind=dict(sorted(t.done.items())),
        refused_by_exchange=dict(t.skipped),
        concurrent_with_a_close=t.concurrent,
        error_texts=run.error_texts,
        candles=t.candles,
        users=len(run.users),
        **figures,
    )


def run(work: Path, **kw: Any) -> dict[str, Any]:
    """The whole run in ``work`` (sync, for the smoke test); ``kw``: Plan fields."""
    from nija_tg.strategies import unregister
    from tests.engine.live_child import FLIPFLOP
    from tests.engine.swap_support import SWAPFLIP

    try:
        return asyncio.run(run_interventions(work, Plan(**kw)))
    finally:
        unregister(FLIPFLOP)
        unregister(SWAPFLIP)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--interventions", type=int, default=40)
    parser.add_argument("--kraken-users", type=int, default=2)
    parser.add_argument("--no-bingx", action="store_true", help="Kraken spot users only")
    args = parser.parse_args(argv)
    kw = dict(
        interventions=args.interventions,
        kraken_users=args.kraken_users,
        bingx=not args.no_bingx,
        seed=args.seed,
    )
    if args.work_dir is not None:
        res = run(args.work_dir, **kw)
    else:
        with tempfile.TemporaryDirectory(prefix="manual-interventions-") as tmp:
            res = run(Path(tmp), **kw)
    return emit(res, args.out)


if __name__ == "__main__":
    sys.exit(main())
