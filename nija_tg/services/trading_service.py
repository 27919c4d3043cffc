"""The user's trading switch (on, exits only, off), explicit closes of open positions,
and paper or live: the desired state the engine picks up from the database (the change
counter tells it within a second).

Protection of open positions never depends on the switch: the engine keeps every open
position's stop (its own check on every candle, and the exchange's resting stop where
there is one) in every state, paused and halted included. Only a close (/close, the
Close button on /positions) ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.models import SELF_RESUMABLE_PAUSES, Role, TradingMode, UserStatus
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.storage import audit, close_requests, credentials, positions, users
from nija_tg.storage.db import Database
from nija_tg.storage.positions import PositionRow
from nija_tg.storage.users import UserRow

# what each switch position means, as told in the /trade reply
ON_MEANS = "new positions are opened as your strategy signals; exits and stops run"
EXITS_MEANS = "no new positions; strategy exits and stops keep running"
OFF_MEANS = "no new positions and no strategy exits; stops keep protecting what is open"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


@dataclass(frozen=True)
class CloseTarget:
    """One open position a Close button names."""

    symbol: str
    side: str
    amount: Decimal


def open_count(n: int) -> str:
    return f"{n} open position{'' if n == 1 else 's'}"


def _what(p: PositionRow) -> str:
    return f"{p.symbol} {p.side}"


class TradingService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _held(self, user: UserRow) -> list[PositionRow]:
        """The positions the user's engine loop manages (those of their mode)."""
        return await positions.list_for_user(self._db, user.user_id, user.mode.value)

    # --- the switch -----------------------------------------------------------------

    async def set_trading(self, user_id: int, on: bool) -> Outcome:
        return await self.set_switch(user_id, TradingSwitch.ON if on else TradingSwitch.OFF)

    async def set_switch(self, user_id: int, switch: TradingSwitch) -> Outcome:
        user = await users.get_user(self._db, user_id)
        if user is None:
            return Outcome(False, "Please /start first.")
        if user.role is Role.VIEWER:
            return Outcome(False, "Viewers have read-only access and cannot trade.")
        engine_pause = user.status is UserStatus.PAUSED and user.pause_reason in (
            SELF_RESUMABLE_PAUSES
        )
        admin_pause = user.status is UserStatus.PAUSED and not engine_pause
        halted = await users.is_halted(self._db)
        resumed_from = None
        if switch is TradingSwitch.ON:
            if admin_pause:
                reason = f" ({user.pause_reason})" if user.pause_reason else ""
                return Outcome(
                    False, f"Your trading is paused{reason}. An admin must /resume it first."
                )
            if user.mode is TradingMode.LIVE:
                cred = await credentials.get(self._db, user_id)
                if cred is None or not cred.verified:
                    return Outcome(
                        False, "Live trading needs verified exchange keys: /connect first."
                    )
            if halted:
                return Outcome(
                    False,
                    "Trading is halted for everyone by an admin right now: no new positions. "
                    "Stops and exits keep running; /trade exits is allowed.",
                )
            resumed_from = user.pause_reason if engine_pause else None
        elif switch is TradingSwitch.EXITS and engine_pause:
            if user.pause_reason == "connection" and user.mode is TradingMode.LIVE:
                cred = await credentials.get(self._db, user_id)
                if cred is None or not cred.verified:
                    return Outcome(False, "Your exchange key stopped working: /connect first.")
            resumed_from = user.pause_reason
        async with self._db.transaction() as tx:
            if resumed_from is not None:
                await users.set_status(tx, user_id, UserStatus.ACTIVE)
                await audit.record(tx, user_id, "trading.self_resume", user_id, was=resumed_from)
            await users.set_switch(tx, user_id, switch)
            await audit.record(tx, user_id, f"trading.{switch.value}", user_id)
        held = len(await self._held(user))
        return Outcome(True, self._switch_text(user, switch, held, admin_pause, halted))

    @staticmethod
    def _switch_text(
        user: UserRow, switch: TradingSwitch, held: int, admin_pause: bool, halted: bool
    ) -> str:
        kept = f"your {open_count(held)}" if held else "any position you open later"
        if switch is TradingSwitch.ON:
            return (
                f"Trading is ON ({user.mode.value}): {ON_MEANS}. The engine starts within "
                "a second; fills and alerts will come to this chat."
            )
        if switch is TradingSwitch.EXITS:
            text = (
                "Exits only: no new positions; stops and exits keep running for "
                f"{kept}. /trade on opens new positions again, /trade off stops exits too."
            )
        else:
            text = (
                "Trading is OFF: no new positions and no strategy exits. Stops keep "
                f"protecting {kept} (the engine's check on every candle, and the "
                "exchange's stop order where it holds one); /close ends that."
            )
        if admin_pause:
            text += " Your account is paused by an admin: only stops run until they /resume it."
        elif halted and switch is TradingSwitch.EXITS:
            text += " (A global halt is on: everyone is on exits only for now.)"
        return text

    # --- closes ---------------------------------------------------------------------

    async def close_targets(self, user_id: int) -> list[CloseTarget]:
        """The positions that may get a Close button (those the engine manages)."""
        user = await users.get_user(self._db, user_id)
        if user is None or user.role is Role.VIEWER:
            return []
        return [CloseTarget(p.symbol, p.side, p.amount) for p in await self._held(user)]

    async def request_close(self, user_id: int, target: str) -> Outcome:
        """/close <symbol|asset|all>: ask the engine to close at market what matches."""
        user = await users.get_user(self._db, user_id)
        refusal = await self._close_refusal(user)
        if refusal is not None or user is None:
            return refusal or Outcome(False, "Please /start first.")
        held = await self._held(user)
        wanted = target.strip().upper()
        if wanted == "ALL":
            if not held:
                return Outcome(True, "You have no open positions: nothing to close.")
            return await self._ask(user, held, [(None, None)])
        matches = [p for p in held if _matches(p.symbol, wanted)]
        if not matches:
            other = await self._other_mode(user, wanted)
            return Outcome(
                True, other or f"You have no open position in {wanted}: nothing to close."
            )
        symbols = sorted({p.symbol for p in matches})
        return await self._ask(user, matches, [(s, None) for s in symbols])

    async def request_close_position(self, user_id: int, symbol: str, side: str) -> Outcome:
        """The confirmed Close button of one position."""
        user = await users.get_user(self._db, user_id)
        refusal = await self._close_refusal(user)
        if refusal is not None or user is None:
            return refusal or Outcome(False, "Please /start first.")
        matches = [p for p in await self._held(user) if (p.symbol, p.side) == (symbol, side)]
        if not matches:
            return Outcome(
                True, f"Your {symbol} {side} is not open any more (its stop may have closed it)."
            )
        return await self._ask(user, matches, [(symbol, side)])

    async def _close_refusal(self, user: UserRow | None) -> Outcome | None:
        if user is None:
            return Outcome(False, "Please /start first.")
        if user.role is Role.VIEWER:
            return Outcome(False, "Viewers have read-only access and cannot close positions.")
        if user.mode is TradingMode.LIVE and user.pause_reason == "connection":
            cred = await credentials.get(self._db, user.user_id)
            if cred is None or not cred.verified:
                return Outcome(
                    False,
                    "Your exchange key stopped working, so the engine cannot reach your "
                    "account to close anything. Close the position on the exchange, or "
                    "/connect a working key first.",
                )
        return None

    async def _other_mode(self, user: UserRow, wanted: str) -> str | None:
        others = [
            p
            for p in await positions.list_for_user(self._db, user.user_id)
            if p.mode not in (None, user.mode.value) and _matches(p.symbol, wanted)
        ]
        if not others:
            return None
        mode = others[0].mode
        return (
            f"Your {others[0].symbol} position was opened in {mode} mode and you are in "
            f"{user.mode.value} mode now: /mode {mode} first, then /close it."
        )

    async def _ask(
        self,
        user: UserRow,
        closing: list[PositionRow],
        requests: list[tuple[str | None, str | None]],
    ) -> Outcome:
        async with self._db.transaction() as tx:
            fresh = False
            for symbol, side in requests:
                _, new = await close_requests.request(tx, user.user_id, symbol, side)
                fresh = fresh or new
            await audit.record(
                tx,
                user.user_id,
                "trading.close",
                user.user_id,
                positions=[_what(p) for p in closing],
            )
        names = ", ".join(_what(p) for p in closing)
        if not fresh:
            return Outcome(True, f"Already closing {names}: the fill comes here in a moment.")
        return Outcome(
            True,
            f"Closing {names} at market: the engine cancels any stop resting on the exchange "
            "and sends the order within a second; the fill comes here.",
        )

    # --- paper or live --------------------------------------------------------------

    async def live_allowed(self, user_id: int) -> Outcome:
        cred = await credentials.get(self._db, user_id)
        if cred is None:
            return Outcome(False, "Live trading needs your exchange keys: /connect first.")
        if not cred.verified:
            return Outcome(False, "Your keys are not verified: /connect them again.")
        return Outcome(True, f"Live trading on {cred.exchange_id} with key ••••{cred.key_tail}.")

    async def set_mode(self, user_id: int, mode: TradingMode, *, confirmed: bool) -> Outcome:
        user = await users.get_user(self._db, user_id)
        if user is None or user.role is Role.VIEWER:
            return Outcome(False, "Viewers have read-only access.")
        if mode is TradingMode.LIVE:
            allowed = await self.live_allowed(user_id)
            if not allowed.ok:
                return allowed
            if not confirmed:
                return Outcome(False, "Live mode needs your confirmation.")
        left = [] if mode is user.mode else await self._held(user)
        async with self._db.transaction() as tx:
            await users.set_mode(tx, user_id, mode)
            await audit.record(tx, user_id, f"mode.{mode.value}", user_id)
        if mode is TradingMode.LIVE:
            text = "LIVE mode is on: the engine trades real money on your account."
        else:
            text = "Paper mode is on: simulated orders on live prices, no real money."
        if left:
            old = user.mode.value
            text += (
                f" ⚠️ Your {open_count(len(left))} opened in {old} mode are not managed while "
                f"you are in {mode.value} mode (no stop checks, no trailing; a stop order "
                f"resting on the exchange stays there): /mode {old} and /close them, or "
                "switch back to keep them protected."
            )
        return Outcome(True, text)


def _matches(symbol: str, wanted: str) -> bool:
    """``wanted`` names ``symbol``: the symbol itself (with or without a swap's settle
    currency) or its base asset."""
    if "/" in wanted:
        return symbol == wanted or symbol.split(":")[0] == wanted
    return symbol.split("/")[0] == wanted
