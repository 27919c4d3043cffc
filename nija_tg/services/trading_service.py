"""The user's trading switch (on, exits only, off), explicit closes of open positions,
and paper or live: the desired state the engine picks up from the database (the change
counter tells it within a second).

Protection of open positions never depends on the switch: the engine keeps every open
position's stop (its own check on every candle, and the exchange's resting stop where
there is one) in every state, paused and halted included. Only a close (/close, the
Close button on /positions) ends it.

The service decides and returns an ``Outcome`` (``core.trading_outcome``): what happened
or why not, as data; ``messages/trading.py`` words it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.models import SELF_RESUMABLE_PAUSES, Role, TradingMode, UserStatus
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.core.trading_outcome import Answer, Outcome
from nija_tg.storage import audit, close_requests, credentials, positions, users
from nija_tg.storage.db import Database
from nija_tg.storage.positions import PositionRow
from nija_tg.storage.users import UserRow

__all__ = ["Answer", "CloseTarget", "Outcome", "TradingService"]


@dataclass(frozen=True)
class CloseTarget:
    """One open position a Close button names."""

    symbol: str
    side: str
    amount: Decimal


def _what(p: PositionRow) -> str:
    """A position as the audit log names it."""
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
            return Outcome(False, Answer.START_FIRST)
        if user.role is Role.VIEWER:
            return Outcome(False, Answer.VIEWER_CANNOT_TRADE)
        engine_pause = user.status is UserStatus.PAUSED and user.pause_reason in (
            SELF_RESUMABLE_PAUSES
        )
        admin_pause = user.status is UserStatus.PAUSED and not engine_pause
        halted = await users.is_halted(self._db)
        resumed_from = None
        if switch is TradingSwitch.ON:
            if admin_pause:
                return Outcome(False, Answer.ADMIN_PAUSED, reason=user.pause_reason)
            if user.mode is TradingMode.LIVE:
                cred = await credentials.get(self._db, user_id)
                if cred is None or not cred.verified:
                    return Outcome(False, Answer.LIVE_NEEDS_VERIFIED_KEYS)
            if halted:
                return Outcome(False, Answer.HALTED)
            resumed_from = user.pause_reason if engine_pause else None
        elif switch is TradingSwitch.EXITS and engine_pause:
            if user.pause_reason == "connection" and user.mode is TradingMode.LIVE:
                cred = await credentials.get(self._db, user_id)
                if cred is None or not cred.verified:
                    return Outcome(False, Answer.KEY_STOPPED)
            resumed_from = user.pause_reason
        async with self._db.transaction() as tx:
            if resumed_from is not None:
                await users.set_status(tx, user_id, UserStatus.ACTIVE)
                await audit.record(tx, user_id, "trading.self_resume", user_id, was=resumed_from)
            await users.set_switch(tx, user_id, switch)
            await audit.record(tx, user_id, f"trading.{switch.value}", user_id)
        return Outcome(
            True,
            Answer.SWITCHED,
            switch=switch,
            mode=user.mode.value,
            held=len(await self._held(user)),
            admin_pause=admin_pause,
            halted=halted,
        )

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
            return refusal or Outcome(False, Answer.START_FIRST)
        held = await self._held(user)
        wanted = target.strip().upper()
        if wanted == "ALL":
            if not held:
                return Outcome(True, Answer.NOTHING_OPEN)
            return await self._ask(user, held, [(None, None)])
        matches = [p for p in held if _matches(p.symbol, wanted)]
        if not matches:
            other = await self._other_mode(user, wanted)
            return other or Outcome(True, Answer.NONE_IN, target=wanted)
        symbols = sorted({p.symbol for p in matches})
        return await self._ask(user, matches, [(s, None) for s in symbols])

    async def request_close_position(self, user_id: int, symbol: str, side: str) -> Outcome:
        """The confirmed Close button of one position."""
        user = await users.get_user(self._db, user_id)
        refusal = await self._close_refusal(user)
        if refusal is not None or user is None:
            return refusal or Outcome(False, Answer.START_FIRST)
        matches = [p for p in await self._held(user) if (p.symbol, p.side) == (symbol, side)]
        if not matches:
            return Outcome(True, Answer.GONE, symbol=symbol, side=side)
        return await self._ask(user, matches, [(symbol, side)])

    async def _close_refusal(self, user: UserRow | None) -> Outcome | None:
        if user is None:
            return Outcome(False, Answer.START_FIRST)
        if user.role is Role.VIEWER:
            return Outcome(False, Answer.VIEWER_CANNOT_CLOSE)
        if user.mode is TradingMode.LIVE and user.pause_reason == "connection":
            cred = await credentials.get(self._db, user.user_id)
            if cred is None or not cred.verified:
                return Outcome(False, Answer.KEY_CANNOT_CLOSE)
        return None

    async def _other_mode(self, user: UserRow, wanted: str) -> Outcome | None:
        others = [
            p
            for p in await positions.list_for_user(self._db, user.user_id)
            if p.mode not in (None, user.mode.value) and _matches(p.symbol, wanted)
        ]
        if not others:
            return None
        return Outcome(
            True,
            Answer.OTHER_MODE,
            symbol=others[0].symbol,
            other_mode=others[0].mode or "",
            mode=user.mode.value,
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
        which = tuple((p.symbol, p.side) for p in closing)
        return Outcome(True, Answer.CLOSING if fresh else Answer.ALREADY_CLOSING, closing=which)

    # --- paper or live --------------------------------------------------------------

    async def live_allowed(self, user_id: int) -> Outcome:
        cred = await credentials.get(self._db, user_id)
        if cred is None:
            return Outcome(False, Answer.LIVE_NEEDS_KEYS)
        if not cred.verified:
            return Outcome(False, Answer.KEYS_UNVERIFIED)
        return Outcome(
            True, Answer.LIVE_ALLOWED, exchange_id=cred.exchange_id, key_tail=cred.key_tail
        )

    async def set_mode(self, user_id: int, mode: TradingMode, *, confirmed: bool) -> Outcome:
        user = await users.get_user(self._db, user_id)
        if user is None or user.role is Role.VIEWER:
            return Outcome(False, Answer.VIEWER_READ_ONLY)
        if mode is TradingMode.LIVE:
            allowed = await self.live_allowed(user_id)
            if not allowed.ok:
                return allowed
            if not confirmed:
                return Outcome(False, Answer.LIVE_UNCONFIRMED)
        left = [] if mode is user.mode else await self._held(user)
        async with self._db.transaction() as tx:
            await users.set_mode(tx, user_id, mode)
            await audit.record(tx, user_id, f"mode.{mode.value}", user_id)
        return Outcome(
            True,
            Answer.MODE_SET,
            mode=mode.value,
            held=len(left),
            other_mode=user.mode.value,
        )


def _matches(symbol: str, wanted: str) -> bool:
    """``wanted`` names ``symbol``: the symbol itself (with or without a swap's settle
    currency) or its base asset."""
    if "/" in wanted:
        return symbol == wanted or symbol.split(":")[0] == wanted
    return symbol.split("/")[0] == wanted
