"""The notification sender of the bot process: delivers outbox rows (written by the
engine and the services) to Telegram, spending the bot's one outgoing budget
(telegram_out.budget) at each row's priority, below the replies to users' own actions.

Each cycle it asks the outbox for chats with due rows, the most urgent first (alerts,
then fills, then summaries: storage.outbox_claims), skipping chats that are busy (a
reply or a message in flight, or inside their per-chat pause); renders the rows that
hold an event (the engine and the services queue events, not text: messages.stored,
so the words are the renderer's at send time); merges each chat's pending rows into
one digest, takes one token of the shared budget per message at the digest's
priority, holds the chat's turn and sends, at most ``max_in_flight`` at once.
Rows are marked sent right after Telegram's answer, so a crash (kill -9) in between
repeats a message but never loses one (at-least-once).

Outcomes: 429 ``retry_after`` pauses the chat and the whole budget (replies included:
Telegram does not say whether the limit was the chat's or the bot's) and reschedules
the rows; 403 marks the user unreachable and keeps the rows pending; "chat not found"
and other permanent 400s drop the rows, as does an event that cannot be rendered (an
unknown type or a bad payload: a bug, logged without the payload); "can't parse
entities" is retried once as plain text; network errors and timeouts reschedule with
backoff and are counted as possible duplicates. With paid broadcasts on, a message the
free budget cannot take at once goes with ``allow_paid_broadcast``.

Shutdown: stop ``run`` (set its event); ``drain(deadline)`` flushes as far as the limits
allow (tests, the kill test's child process).
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
from telegram.ext import ExtBot

from nija_tg.messages.render import digest_header
from nija_tg.messages.stored import Unrenderable, stored_text
from nija_tg.storage import outbox, outbox_claims
from nija_tg.storage.db import Database
from nija_tg.telegram_out.budget import PREPAID, OutgoingBudget, Priority

log = logging.getLogger("nija_tg.bot.sender")


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
    paid: int = 0  # messages sent with allow_paid_broadcast
    unrenderable: int = 0  # event rows that could not be rendered (dropped: a bug)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int form
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


PREFETCH_AHEAD = 5  # read the next batch when this many chats of the current one are left


class _Cap:
    """The sender's own ceiling (``NIJA_SENDER_RATE``) inside the shared budget."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.tat = 0.0

    def reserve(self) -> float:
        now = time.monotonic()
        start = max(now, self.tat)
        self.tat = start + self.interval
        return start - now


class Sender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        budget: OutgoingBudget | None = None,
        rate: float | None = None,
        per_chat_interval: float = 1.0,
        max_in_flight: int = 32,
        poll_interval: float = 0.25,
        retry_base: float = 2.0,
        retry_max: float = 300.0,
        rows_per_message: int = 50,
    ) -> None:
        """``budget``: the bot's shared one (without it, a budget of its own at ``rate``,
        as in the storm test). ``rate`` below the budget's caps the sender further."""
        self._db = db
        self._bot = bot
        self.budget = budget or OutgoingBudget(rate or 30.0, per_chat_interval=per_chat_interval)
        cap = rate if rate is not None and rate < self.budget.total_rate else None
        self._cap = _Cap(cap) if cap else None
        self._slots = asyncio.Semaphore(max_in_flight)
        self._poll = poll_interval
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._rows_per_message = rows_per_message
        self._per_cycle = max(1, math.ceil(cap or self.budget.total_rate))
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._prefetch: asyncio.Future | None = None
        self._wake = asyncio.Event()
        self._started = False
        self._prepaid = isinstance(bot, ExtBot) and bot.rate_limiter is not None
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

    async def cancel_in_flight(self) -> None:
        """Give up sends still waiting for Telegram (shutdown): their rows stay pending
        and go at the next start (at-least-once)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
        if self._prefetch is not None:
            self._prefetch.cancel()
            await asyncio.gather(self._prefetch, return_exceptions=True)
            self._prefetch = None
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
        """Dispatch one message to each ready chat (up to about a second of budget), the
        chats holding the most urgent rows first. The first token is asked for while
        the outbox is read, so the query costs no token when replies leave some."""
        self._wake.clear()
        first: list[asyncio.Future | None] = [
            asyncio.ensure_future(self._token(Priority.SUMMARY, stop, deadline))
        ]
        try:
            return await self._dispatch(first, stop, deadline)
        finally:
            if first[0] is not None:
                await self._give_back(first[0])

    async def _give_back(self, token: asyncio.Future) -> None:
        """An unused token (or the wait for one) goes back to the budget."""
        if not token.done():
            token.cancel()
            await asyncio.gather(token, return_exceptions=True)
        elif not token.cancelled() and token.exception() is None and token.result() is not None:
            self.budget.refund(token.result())

    async def _fetch(
        self, exclude: set[int]
    ) -> tuple[list[tuple[int, int]], dict[int, list[outbox.OutboxRow]]]:
        """The next chats to serve (most urgent first) and their due rows."""
        now = time.time()
        busy = self.budget.busy_chats() | set(self._tasks) | exclude
        chats = await outbox_claims.due_chats_by_priority(
            self._db, now, exclude=busy, limit=self._per_cycle
        )
        if not chats:
            return [], {}
        rows = await outbox.claim_due(
            self._db, now, chat_ids=[c for c, _ in chats], per_chat=self._rows_per_message
        )
        by_chat: dict[int, list[outbox.OutboxRow]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        return chats, by_chat

    async def _rendered(self, rows: list[outbox.OutboxRow]) -> list[outbox.OutboxRow]:
        """The rows with their text: events rendered now (``messages.stored``). A row
        that cannot be rendered is dropped (a permanent error: retrying cannot help),
        logged by id and type, never by its payload."""
        ready: list[outbox.OutboxRow] = []
        bad: list[int] = []
        for row in rows:
            if row.event_type is None:
                ready.append(row)
                continue
            try:
                ready.append(row.with_text(stored_text(row.text, row.event_type, row.payload)))
            except Unrenderable as exc:
                log.error("sender: dropping notification %s: %s", row.outbox_id, exc)
                bad.append(row.outbox_id)
        if bad:
            self.stats.dropped += len(bad)
            self.stats.unrenderable += len(bad)
            await outbox.drop(self._db, bad)
        return ready

    async def _next_batch(
        self,
    ) -> tuple[list[tuple[int, int]], dict[int, list[outbox.OutboxRow]]]:
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            try:
                chats, by_chat = await prefetch
            except Exception:
                log.exception("sender: reading the outbox ahead failed")
            else:
                if chats:  # read while the last batch went out: a few may be stale
                    return chats, by_chat
        return await self._fetch(set())

    async def _dispatch(
        self, first: list[asyncio.Future | None], stop: asyncio.Event | None, deadline: float | None
    ) -> int:
        """``first[0]``: the token asked for with the query (None once spent). The next
        batch is read while the last messages of this one wait for their tokens."""
        chats, by_chat = await self._next_batch()
        if not chats:
            return 0
        ahead_at = max(0, len(chats) - PREFETCH_AHEAD)
        dispatched = 0
        for index, (chat_id, rank) in enumerate(chats):
            if self._over(stop, deadline):
                break
            if index == ahead_at and self._prefetch is None:
                batch = {c for c, _ in chats}
                self._prefetch = asyncio.ensure_future(self._fetch(batch))
            if chat_id not in by_chat:
                continue
            # rendered chat by chat, as they go (not a whole batch at once: the bot's
            # replies share this event loop)
            rows = await self._rendered(by_chat[chat_id])
            if not rows:
                continue
            await self._slots.acquire()
            early, first[0] = first[0], None
            if early is not None:
                paid = await early
                if paid is not None and self.budget.paused_for() > 0:
                    # granted before a 429 paused the budget (while the slot's last
                    # message was out): given back, taken again after the pause
                    self.budget.refund(paid)
                    paid = await self._token(Priority(rank), stop, deadline)
            else:
                paid = await self._token(Priority(rank), stop, deadline)
            if paid is None:
                self._slots.release()
                break
            if self._over(stop, deadline) or not self.budget.chat_free(chat_id):
                self.budget.refund(paid)  # a reply took the chat meanwhile
                self._slots.release()
                continue
            pace = self.budget.pace(chat_id)
            await pace.lock.acquire()  # free: taken without yielding
            digest = outbox.merge(rows, header=digest_header)
            self._tasks[chat_id] = asyncio.create_task(self._deliver(digest, paid))
            dispatched += 1
        return dispatched

    async def _token(
        self, priority: Priority, stop: asyncio.Event | None, deadline: float | None
    ) -> bool | None:
        """A token of the shared budget (True: paid); None when stopped first."""
        if self._cap is not None:
            delay = self._cap.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
        take = asyncio.ensure_future(self.budget.take(priority))
        waits: set[asyncio.Future] = {take}
        stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
        if stopper is not None:
            waits.add(stopper)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if stopper is not None:
                stopper.cancel()
            if not take.done():
                take.cancel()
                await asyncio.gather(take, return_exceptions=True)
        if take.cancelled() or take.exception() is not None:
            return None
        return take.result()

    async def _deliver(self, digest: outbox.Digest, paid: bool) -> None:
        try:
            await self._attempt(digest, paid)
        except Exception:
            log.exception("sender: delivery to chat %s failed", digest.chat_id)
            self.stats.errors += 1
        finally:
            self.budget.chat_answered(digest.chat_id)
            pace = self.budget.pace(digest.chat_id)
            if pace.lock.locked():
                pace.lock.release()
            self._tasks.pop(digest.chat_id, None)
            self._slots.release()
            self._wake.set()

    # -- one message ----------------------------------------------------------------------
    async def _attempt(self, digest: outbox.Digest, paid: bool) -> None:
        if not digest.text:
            self.budget.refund(paid)
            log.warning("sender: dropping empty notification(s) %s", digest.ids)
            self.stats.dropped += len(digest.rows)
            await outbox.drop(self._db, digest.ids)
            return
        try:
            try:
                await self._post(digest, digest.text, html_mode=True, paid=paid)
            except BadRequest as exc:
                if "can't parse entities" not in exc.message.lower():
                    raise
                log.warning("sender: chat %s: %s; resending as plain text", digest.chat_id, exc)
                self.stats.plain_fallbacks += 1
                again = await self._token(Priority.ACTION, None, None)
                if again is None:
                    raise
                await self._post(digest, html_to_plain(digest.text), html_mode=False, paid=again)
        except Exception as exc:
            await self._failed(digest, exc)
            return
        await outbox.mark_sent(self._db, digest.ids)
        self.stats.messages += 1
        self.stats.paid += paid
        self.stats.rows_sent += len(digest.rows)
        if len(digest.rows) > 1:
            self.stats.digests += 1

    async def _post(
        self, digest: outbox.Digest, text: str, *, html_mode: bool, paid: bool | None
    ) -> None:
        """Send on a token already taken (given back here, whatever the outcome)."""
        extra = {"rate_limit_args": PREPAID} if self._prepaid else {}
        try:
            await self._bot.send_message(
                chat_id=digest.chat_id,
                text=text,
                parse_mode=ParseMode.HTML if html_mode else None,
                disable_notification=digest.silent,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                allow_paid_broadcast=True if paid else None,
                **extra,
            )
        finally:
            self.budget.answered(paid)

    async def _failed(self, digest: outbox.Digest, exc: Exception) -> None:
        chat, ids = digest.chat_id, digest.ids
        if isinstance(exc, RetryAfter):
            secs = _retry_seconds(exc)
            self.stats.rate_limited += 1
            log.warning("sender: 429 for chat %s, retry after %.0fs", chat, secs)
            self.budget.block_chat(chat, secs)
            self.budget.pause(secs)
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
