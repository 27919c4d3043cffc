"""The engine's key intake: opens credentials the bot sealed, verifies them with the
exchange (balance call and withdraw-permission proof), and keeps or erases them.

The bot stores a submitted credential as *pending*; this loop picks it up within
``poll_interval``, opens it with the engine's private key, runs the verifier with at most
``max_in_flight`` verifications at once for the whole engine (each one makes private
calls from the server's one IP), then in one transaction either moves it into
``credentials`` or erases it, audits, and queues the verdict for the user's chat.

It also keeps the key ring in step with the database: private keys the database marks
retired are forgotten at once, and the key ids held are reported (``rotate-key --env``
checks them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from nija_tg.core.errors import NijaError, VaultError
from nija_tg.core.events import KeyRefused, KeyVerified
from nija_tg.core.exchange_catalogue import allowed_fields
from nija_tg.core.models import TradingMode, Verification
from nija_tg.engine.notify import tell
from nija_tg.exchange.protocol import CredentialVerifier
from nija_tg.services import key_verdict
from nija_tg.storage import audit, credentials, seal_keys, users
from nija_tg.storage.credentials import PendingRow
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import KeyRing

log = logging.getLogger("nija_tg.engine.keys")


class KeyIntake:
    def __init__(
        self,
        db: Database,
        ring: KeyRing,
        verifier: CredentialVerifier,
        *,
        allow_unproven: bool = False,
        max_in_flight: int = 4,
        poll_interval: float = 0.2,
        key_sync_interval: float = 1.0,
        on_verdict: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._ring = ring
        self._verifier = verifier
        self._allow_unproven = allow_unproven
        self._slots = asyncio.Semaphore(max_in_flight)
        self._poll = poll_interval
        self._key_sync_interval = key_sync_interval
        self._on_verdict = on_verdict
        self._busy: dict[tuple[int, float], asyncio.Task[None]] = {}
        self._last_key_sync = 0.0
        self.verified = 0
        self.refused = 0

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except Exception:
                    log.exception("key intake step failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._poll)
        finally:
            await self.drain()

    async def step(self) -> None:
        """One look: sync the key ring (each ``key_sync_interval``), start verifying
        pending credentials not already in hand."""
        now = time.monotonic()
        if now - self._last_key_sync >= self._key_sync_interval:
            self._last_key_sync = now
            await self.sync_keys()
        for row in await credentials.pending(self._db):
            key = (row.user_id, row.submitted_at)
            if key not in self._busy:
                task = asyncio.create_task(self._verify(row), name=f"verify-{row.user_id}")
                self._busy[key] = task
                task.add_done_callback(lambda _t, k=key: self._busy.pop(k, None))

    async def drain(self) -> None:
        tasks = list(self._busy.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def sync_keys(self) -> None:
        """Forget retired private keys; pick up a key the file gained; report what we
        hold."""
        states = await seal_keys.states(self._db)
        retired = {kid for kid, state in states.items() if state == "retired"}
        if retired & set(self._ring.key_ids):
            self._ring.forget(retired)
            log.info("forgot %d retired engine key(s)", len(retired))
        current = next((kid for kid, s in states.items() if s == "current"), None)
        if current is not None and not self._ring.holds(current):
            self._ring.reload()
            if not self._ring.holds(current):
                log.error("the current sealing key %s is not in this engine's keys", current)
        async with self._db.transaction() as tx:
            await seal_keys.report_engine_keys(tx, list(self._ring.key_ids))

    async def _verify(self, row: PendingRow) -> None:
        async with self._slots:
            # read it again now: waiting for a slot can take seconds, and a rotation may
            # have re-sealed the row (and retired the key it was sealed to) meanwhile
            fresh = await credentials.pending_row(self._db, row.user_id, row.submitted_at)
            if fresh is None:
                return  # replaced by a newer submission, or withdrawn
            row = fresh
            verification = await self._check(row)
        mode = await self._mode(row.user_id)
        async with self._db.transaction() as tx:
            if verification.ok:
                kept = await credentials.promote_pending(
                    tx,
                    row,
                    permissions=verification.permissions,
                    can_withdraw=verification.can_withdraw,
                )
                verdict: KeyVerified | KeyRefused = key_verdict.accepted(
                    row.exchange_id, row.key_tail, verification, mode
                )
            else:
                kept = await credentials.drop_pending(tx, row)
                verdict = key_verdict.refused(row.exchange_id, verification.reason)
            if not kept:
                return  # superseded by a newer submission, or the user disconnected
            await audit.record(
                tx,
                row.user_id,
                "credentials.connect" if verification.ok else "credentials.refused",
                row.user_id,
                exchange=row.exchange_id,
                key_tail=row.key_tail,
                reason=verification.reason.code if verification.reason else "",
            )
            await tell(tx, row.user_id, verdict)
        if verification.ok:
            self.verified += 1
        else:
            self.refused += 1
        if self._on_verdict is not None:
            self._on_verdict()

    async def _check(self, row: PendingRow) -> Verification:
        try:
            allowed_fields(row.exchange_id, allow_unproven=self._allow_unproven)
        except NijaError as err:
            return Verification(ok=False, reason=err.reason)
        try:
            secrets = self._ring.open(row.ciphertext, row.user_id, row.exchange_id)
        except VaultError as err:
            log.warning("user %s: pending credential does not open (%s)", row.user_id, err)
            return Verification(ok=False, reason=key_verdict.OPEN_FAILED)
        try:
            return await self._verifier.verify(
                row.exchange_id, secrets, allow_unproven=self._allow_unproven
            )
        except Exception as err:  # the verifier promises not to raise; never keep then
            log.error("user %s: verification failed (%s)", row.user_id, type(err).__name__)
            return Verification(
                ok=False,
                reason="I could not check this key with the exchange right now. "
                "Please try /connect again in a few minutes.",
            )
        finally:
            del secrets

    async def _mode(self, user_id: int) -> TradingMode:
        user = await users.get_user(self._db, user_id)
        return user.mode if user is not None else TradingMode.PAPER
