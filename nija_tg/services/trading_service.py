"""Switching trading on and off and choosing paper or live: the desired state the
engine picks up from the database (the change counter tells it within a second)."""

from __future__ import annotations

from dataclasses import dataclass

from nija_tg.core.models import SELF_RESUMABLE_PAUSES, Role, TradingMode, UserStatus
from nija_tg.storage import audit, credentials, users
from nija_tg.storage.db import Database


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


class TradingService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_trading(self, user_id: int, on: bool) -> Outcome:
        user = await users.get_user(self._db, user_id)
        if user is None:
            return Outcome(False, "Please /start first.")
        if user.role is Role.VIEWER:
            return Outcome(False, "Viewers have read-only access and cannot trade.")
        if on:
            if user.status is UserStatus.PAUSED and user.pause_reason in SELF_RESUMABLE_PAUSES:
                resumed_from = user.pause_reason  # the engine paused them: they may resume
            elif user.status is UserStatus.PAUSED:
                reason = f" ({user.pause_reason})" if user.pause_reason else ""
                return Outcome(
                    False, f"Your trading is paused{reason}. An admin must /resume it first."
                )
            else:
                resumed_from = None
            if user.mode is TradingMode.LIVE:
                cred = await credentials.get(self._db, user_id)
                if cred is None or not cred.verified:
                    return Outcome(
                        False, "Live trading needs verified exchange keys: /connect first."
                    )
            if await users.is_halted(self._db):
                return Outcome(False, "Trading is halted for everyone by an admin right now.")
        else:
            resumed_from = None
        async with self._db.transaction() as tx:
            if resumed_from is not None:
                await users.set_status(tx, user_id, UserStatus.ACTIVE)
                await audit.record(tx, user_id, "trading.self_resume", user_id, was=resumed_from)
            await users.set_trading(tx, user_id, on)
            await audit.record(tx, user_id, "trading.on" if on else "trading.off", user_id)
        if on:
            return Outcome(
                True,
                f"Trading is ON ({user.mode.value}). The engine starts within "
                "a second; fills and alerts will come to this chat.",
            )
        return Outcome(
            True,
            "Trading is OFF. No new orders will be placed. Open positions stay open; "
            "where your exchange holds their stop-loss orders, those stay in place.",
        )

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
        async with self._db.transaction() as tx:
            await users.set_mode(tx, user_id, mode)
            await audit.record(tx, user_id, f"mode.{mode.value}", user_id)
        if mode is TradingMode.LIVE:
            return Outcome(True, "LIVE mode is on: the engine trades real money on your account.")
        return Outcome(True, "Paper mode is on: simulated orders on live prices, no real money.")
