"""The notification sender: delivers outbox rows to Telegram within its flood limits.

Each cycle it asks the outbox for chats with due rows (skipping chats that are busy or
in their per-chat pause), merges each chat's pending rows into one digest, spends one
global token per message and sends at most ``max_in_flight`` messages at once. Rows are
marked sent right after Telegram's answer, so a crash in between repeats a message but
never loses one (at-least-once).

Outcomes: 429 ``retry_after`` pauses the chat and the whole sender (Telegram does not
say whether the limit was the chat's or the bot's) and reschedules the rows; 403 marks
the user unreachable and keeps the rows pending; "chat not found" and other permanent
400s drop the rows; "can't parse entities" is retried once as plain text; network
errors and timeouts reschedule with backoff and are counted as possible duplicates.

Shutdown: stop ``run`` (set its event), then ``await sender.drain(deadline)``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import re
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
)

from nija_tg.engine.rate_budget import RateBudget
from nija_tg.storage import outbox
from nija_tg.storage.db import Database

log = logging.getLogger("nija_tg.engine.sender")

_TAG = re.compile(r"<[^>]*>")


def html_to_plain(text: str) -> str:
    """What the user should read when Telegram refuses our HTML."""
    return html.unescape(_TAG.sub("", text))


@dataclass
class SenderStats:
    messages: int = 0  # sendMessage calls Telegram accepted
    rows_sent: int = 0
    digests: int = 0  # accepted messages that merged several rows
    rate_limited: int = 0  # 429 answers
    unreachable: int = 0  # 403 answers
    dropped: int = 0  # rows given up (chat not found, other permanent 400s)
    plain_fallbacks: int = 0  # resent as plain text after "can't parse entities"
    possible_duplicates: int = 0  # rows re-queued after a network error or timeout
    errors: int = 0  # other failures (rows rescheduled)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int form
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Sender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        rate: float = 25.0,
        per_chat_interval: float = 1.0,
        budget: RateBudget | None = None,
        max_in_flight: int = 8,
        poll_interval: float = 0.5,
        retry_base: float = 2.0,
        retry_max: float = 300.0,
        rows_per_message: int = 50,
    ) -> None:
        self._db = db
        self._bot = bot
        self.budget = budget or RateBudget(rate, per_chat_interval=per_chat_interval)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._poll = poll_interval
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._rows_per_message = rows_per_message
        self._per_cycle = max(1, math.ceil(self.budget.rate))
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._started = False
        self.stats = SenderStats()

    def notify(self) -> None:
        """New rows were queued: look now instead of at the next poll."""
        self._wake.set()

    # -- public loops ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; in-flight sends are awaited before returning."""
        watcher = asyncio.create_task(self._wake_on(stop))
        try:
            await self._loop(stop=stop, deadline=None, until_empty=False)
        finally:
            watcher.cancel()

    async def drain(self, deadline: float) -> int:
        """Flush pending rows as far as the limits allow until nothing deliverable is
        left or ``time.monotonic()`` reaches ``deadline``. Returns rows still pending."""
        await self._loop(stop=None, deadline=deadline, until_empty=True)
        left = await outbox.deliverable_count(self._db)
        if left:
            log.info("sender drain: %d notification(s) left pending", left)
        return left

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    @staticmethod
    def _over(stop: asyncio.Event | None, deadline: float | None) -> bool:
        if stop is not None and stop.is_set():
            return True
        return deadline is not None and time.monotonic() >= deadline

    async def _respect_previous_sends(self) -> None:
        """After a restart, chats messaged within the last interval wait out the rest."""
        if self._started:
            return
        self._started = True
        now = time.time()
        interval = self.budget.per_chat_interval
        for chat_id, sent_at in (await outbox.recently_sent(self._db, now - interval)).items():
            self.budget.block_chat(chat_id, max(0.0, sent_at + interval - now))

    async def _loop(
        self, *, stop: asyncio.Event | None, deadline: float | None, until_empty: bool
    ) -> None:
        try:
            await self._respect_previous_sends()
        except Exception:
            log.exception("sender: could not read recent sends")
        while not self._over(stop, deadline):
            try:
                dispatched = await self._cycle(stop, deadline)
            except Exception:
                log.exception("sender cycle failed")
                dispatched = 0
            if dispatched:
                continue
            if until_empty and not self._tasks and not await outbox.deliverable_count(self._db):
                break
            await self._idle(deadline)
        await self._settle(deadline)

    async def _idle(self, deadline: float | None) -> None:
        timeout = self._poll
        ready_in = self.budget.next_chat_ready_in()
        if ready_in is not None:
            timeout = min(timeout, ready_in + 0.01)
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - time.monotonic()))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass

    async def _settle(self, deadline: float | None) -> None:
        """Wait for in-flight sends (cancelled at ``deadline``: their rows stay pending)."""
        tasks = list(self._tasks.values())
        if not tasks:
            return
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- one cycle ------------------------------------------------------------------------
    async def _cycle(self, stop: asyncio.Event | None, deadline: float | None) -> int:
        """Dispatch one message to each ready chat (up to about a second of budget)."""
        self._wake.clear()
        now = time.time()
        busy = self.budget.busy_chats() | set(self._tasks)
        chats = await outbox.due_chats(self._db, now, exclude=busy, limit=self._per_cycle)
        if not chats:
            return 0
        rows = await outbox.claim_due(
            self._db, now, chat_ids=chats, per_chat=self._rows_per_message
        )
        by_chat: dict[int, list[outbox.OutboxRow]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        dispatched = 0
        for chat_id in chats:
            if self._over(stop, deadline):
                break
            if chat_id not in by_chat:
                continue
            await self._slots.acquire()
            try:
                await self._wait_global(deadline)
            except BaseException:
                self._slots.release()
                raise
            if self._over(stop, deadline) or not self.budget.chat_ready(chat_id):
                self._slots.release()
                continue
            digest = outbox.merge(by_chat[chat_id])
            self._tasks[chat_id] = asyncio.create_task(self._deliver(digest))
            dispatched += 1
        return dispatched

    async def _wait_global(self, deadline: float | None) -> None:
        delay = self.budget.reserve_global()
        while delay > 0:
            if deadline is not None:
                delay = min(delay, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(delay)
            delay = self.budget.paused_for()  # a 429 may have arrived meanwhile
            if deadline is not None and time.monotonic() >= deadline:
                return

    async def _deliver(self, digest: outbox.Digest) -> None:
        try:
            await self._attempt(digest)
        except Exception:
            log.exception("sender: delivery to chat %s failed", digest.chat_id)
            self.stats.errors += 1
        finally:
            self.budget.chat_answered(digest.chat_id)
            self._tasks.pop(digest.chat_id, None)
            self._slots.release()
            self._wake.set()

    # -- one message ----------------------------------------------------------------------
    async def _attempt(self, digest: outbox.Digest) -> None:
        if not digest.text:
            log.warning("sender: dropping empty notification(s) %s", digest.ids)
            self.stats.dropped += len(digest.rows)
            await outbox.drop(self._db, digest.ids)
            return
        try:
            try:
                await self._post(digest, digest.text, html_mode=True)
            except BadRequest as exc:
                if "can't parse entities" not in exc.message.lower():
                    raise
                log.warning("sender: chat %s: %s; resending as plain text", digest.chat_id, exc)
                self.stats.plain_fallbacks += 1
                await self._wait_global(None)
                await self._post(digest, html_to_plain(digest.text), html_mode=False)
        except Exception as exc:
            await self._failed(digest, exc)
            return
        await outbox.mark_sent(self._db, digest.ids)
        self.stats.messages += 1
        self.stats.rows_sent += len(digest.rows)
        if len(digest.rows) > 1:
            self.stats.digests += 1

    async def _post(self, digest: outbox.Digest, text: str, *, html_mode: bool) -> None:
        await self._bot.send_message(
            chat_id=digest.chat_id,
            text=text,
            parse_mode=ParseMode.HTML if html_mode else None,
            disable_notification=digest.silent,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    async def _failed(self, digest: outbox.Digest, exc: Exception) -> None:
        chat, ids = digest.chat_id, digest.ids
        if isinstance(exc, RetryAfter):
            secs = _retry_seconds(exc)
            self.stats.rate_limited += 1
            log.warning("sender: 429 for chat %s, retry after %.0fs", chat, secs)
            self.budget.block_chat(chat, secs)
            self.budget.block_all(secs)
            await outbox.reschedule(self._db, ids, time.time() + secs)
        elif isinstance(exc, Forbidden) and digest.user_ids:
            self.stats.unreachable += 1
            log.info("sender: chat %s unreachable (%s); holding its notifications", chat, exc)
            await outbox.mark_unreachable(self._db, digest.user_ids)
        elif isinstance(exc, Forbidden):  # no user to mark: nobody can unblock it
            self.stats.dropped += len(ids)
            log.warning("sender: dropping notification(s) %s for chat %s: %s", ids, chat, exc)
            await outbox.drop(self._db, ids)
        elif isinstance(exc, ChatMigrated):
            log.info("sender: chat %s migrated to %s", chat, exc.new_chat_id)
            await outbox.move_chat(self._db, chat, int(exc.new_chat_id))
        elif isinstance(exc, BadRequest):
            self.stats.dropped += len(ids)
            log.warning("sender: dropping notification(s) %s for chat %s: %s", ids, chat, exc)
            await outbox.drop(self._db, ids)
        else:
            # NetworkError / TimedOut / 5xx / anything unexpected: Telegram may have
            # delivered it; retrying keeps delivery at-least-once.
            attempts = max(r.attempts for r in digest.rows)
            delay = min(self._retry_max, self._retry_base * 2 ** min(attempts, 16))
            if isinstance(exc, NetworkError):
                self.stats.possible_duplicates += len(ids)
            else:
                self.stats.errors += 1
            log.warning(
                "sender: chat %s: %s: %s; retry in %.0fs", chat, type(exc).__name__, exc, delay
            )
            await outbox.reschedule(self._db, ids, time.time() + delay)
