"""The bot's one outgoing budget: every message the bot process sends to Telegram takes
a token here, in priority order, and keeps Telegram's limits
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):

* about 30 messages per second overall (``rate``), spent strictly by priority: answers
  to the user's own action first, then alerts, then fills, then summaries and digests;
  within one priority, first come first served;
* about one message per second per private chat (20 per minute in a group), counted
  from Telegram's *answer* to the previous message so network jitter cannot bunch two
  arrivals together;
* a 429 ``retry_after`` pauses the whole budget (Telegram does not say whether the
  chat's or the bot's limit was hit) and the chat;
* with paid broadcasts on (``paid_rate`` > 0, ``NIJA_PAID_BROADCAST_RATE``), a message
  that would wait behind others for a free token (the free 30/s is taken) goes at once
  with ``allow_paid_broadcast`` (0.1 Telegram Stars each, up to 1,000/s), up to
  ``paid_rate`` per second on top of the free 30.

Deletions never take a token (handlers.rate_limit): they do not produce a message and
must not wait behind replies when they remove a secret; the bot deletes messages that may
carry a secret through its deletion lane (telegram_out.deletion_lane: connections of
their own, started at once), whose 429s pause this budget too.

python-telegram-bot's rate limiter (handlers.rate_limit.PerChatRateLimiter) spends
tokens for replies; the outbox sender (telegram_out.outbox_sender) for notifications.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum

Clock = Callable[[], float]
log = logging.getLogger("nija_tg.bot.budget")

TELEGRAM_RATE = 30.0  # messages/s Telegram allows a bot for free
PAID_MAX_RATE = 1000.0  # with allow_paid_broadcast
PRIVATE_INTERVAL = 1.0  # seconds between two messages to one private chat
GROUP_INTERVAL = 3.0  # 20 messages per minute in a group
# rate_limit_args of the outbox sender's requests: it spent the budget already
PREPAID = "nija:prepaid"


class Priority(IntEnum):
    """Lower goes first."""

    ACTION = 0  # replies, callback answers, edits caused by the user's own action
    ALERT = 1  # stop hit, pause, halt, key verdicts, errors
    FILL = 2  # fills, take-profits, account notices
    SUMMARY = 3  # summaries, digests, broadcasts


WINDOW = 1.0  # seconds over which Telegram counts a rate


class _Bucket:
    """Tokens at ``rate`` per second, evenly spaced (GCRA), and never more than ``rate``
    messages that may land within one second at Telegram: a token is handed out only
    while the messages in flight plus those Telegram answered within the last second
    stay under ``rate``. Counting answers (not grants) makes the limit hold whatever the
    network does to the spacing: a message arrives before its answer, so every message
    Telegram could count together with a new one is still in flight or was answered
    less than a second ago.

    A token handed out late (the event loop was busy) does not push the schedule back:
    up to one interval of lateness is made up by the next token, so a loaded loop still
    spends the whole rate."""

    __slots__ = ("interval", "limit", "tat", "in_flight", "answers")

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.limit = max(1, int(rate * WINDOW))
        self.tat = 0.0  # when the next token may be spent
        self.in_flight = 0
        self.answers: deque[float] = deque()

    def ready_in(self, now: float) -> float:
        wait = self.tat - now
        while self.answers and self.answers[0] <= now - WINDOW:
            self.answers.popleft()
        if self.in_flight + len(self.answers) >= self.limit:
            # the oldest answer leaving the window, or an answer (which kicks the pump)
            wait = max(wait, self.answers[0] + WINDOW - now if self.answers else WINDOW)
        return max(0.0, wait)

    def take(self, now: float) -> None:
        self.tat = max(self.tat, now - self.interval) + self.interval
        self.in_flight += 1

    def answered(self, now: float) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.answers.append(now)

    def refund(self, now: float) -> None:
        self.tat = max(now, self.tat - self.interval)
        self.in_flight = max(0, self.in_flight - 1)


class ChatPace:
    """One chat's turn: one message in flight at a time, the next one ``interval``
    after Telegram's answer (or after a 429's ``retry_after``)."""

    __slots__ = ("lock", "ready_at", "interval")

    def __init__(self, interval: float) -> None:
        self.lock = asyncio.Lock()
        self.ready_at = 0.0
        self.interval = interval


class OutgoingBudget:
    def __init__(
        self,
        rate: float = TELEGRAM_RATE,
        *,
        paid_rate: float = 0.0,
        per_chat_interval: float = PRIVATE_INTERVAL,
        group_interval: float = GROUP_INTERVAL,
        clock: Clock = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.paid_rate = max(0.0, min(paid_rate, PAID_MAX_RATE))
        self.per_chat_interval = per_chat_interval
        self.group_interval = group_interval
        self._clock = clock
        self._free = _Bucket(rate)
        self._paid = _Bucket(self.paid_rate) if self.paid_rate else None
        self._paused_until = 0.0
        self._waiters: list[tuple[int, int, bool, asyncio.Future[bool]]] = []
        self._seq = itertools.count()
        self._pump: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._chats: dict[int, ChatPace] = {}
        self.granted = {p: 0 for p in Priority}  # tokens handed out, per priority
        self.paid_granted = 0
        self.retry_afters = 0

    @property
    def total_rate(self) -> float:
        return self.rate + self.paid_rate

    # -- the overall budget ---------------------------------------------------------------
    async def take(self, priority: Priority, *, paid_ok: bool = True) -> bool:
        """Wait for a token; True when the message must go with ``allow_paid_broadcast``
        (never when not ``paid_ok``: edits cannot be paid broadcasts). Cancelling the
        wait gives the place up. Call ``answered`` once Telegram answered the message
        (or ``refund`` when it was not sent)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._seq), paid_ok, fut))
        self._ensure_pump()
        try:
            paid = await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.refund(fut.result())  # granted just as we gave up
            raise
        self.granted[priority] += 1
        self.paid_granted += paid
        return paid

    def answered(self, paid: bool | None = False) -> None:
        """The message of a token got Telegram's answer (or failed): every token taken
        is given back here or by ``refund``, exactly once."""
        self._bucket(paid).answered(self._clock())
        self._kick.set()

    def refund(self, paid: bool | None = False) -> None:
        """A token taken but not spent (its chat turned out to be busy)."""
        self._bucket(paid).refund(self._clock())
        self._kick.set()

    def _bucket(self, paid: bool | None) -> _Bucket:
        return self._paid if paid and self._paid is not None else self._free

    def pause(self, seconds: float) -> None:
        """Nothing is sent before ``seconds`` from now (a 429's ``retry_after``)."""
        self.retry_afters += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def waiting(self, priority: Priority | None = None) -> int:
        return sum(
            1
            for p, _, _, f in self._waiters
            if not f.done() and (priority is None or p == priority)
        )

    def _ensure_pump(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())
        self._kick.set()

    def _top(self) -> asyncio.Future[bool] | None:
        while self._waiters and self._waiters[0][3].done():
            heapq.heappop(self._waiters)
        return self._waiters[0][3] if self._waiters else None

    def _behind(self, wait: float) -> bool:
        return wait > self._free.interval or self.waiting() > 1

    def _best_payer(self) -> asyncio.Future[bool] | None:
        """The most urgent waiter that may go as a paid broadcast."""
        best = None
        for entry in self._waiters:
            if entry[2] and not entry[3].done() and (best is None or entry < best):
                best = entry
        return None if best is None else best[3]

    async def _run_pump(self) -> None:
        try:
            await self._grant_loop()
        except Exception as exc:  # never leave a waiter hanging
            log.exception("outgoing budget failed")
            for *_, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(exc)
            self._waiters.clear()
            raise

    async def _grant_loop(self) -> None:
        while (fut := self._top()) is not None:
            now = self._clock()
            wait = self._paused_until - now
            paid = False
            if wait <= 0:
                wait = self._free.ready_in(now)
                # pay only when the free 30/s is behind: several waiting, or the next
                # free token more than one token away (a lone message a few milliseconds
                # before its free token waits for it: 0.1 Star each)
                if wait > 0 and self._paid is not None and self._behind(wait):
                    paid_wait = self._paid.ready_in(now)
                    payer = self._best_payer() if paid_wait <= 0 else None
                    if payer is not None:
                        paid, wait, fut = True, 0.0, payer
                    elif paid_wait > 0:
                        wait = min(wait, paid_wait)
            if wait > 0:
                self._kick.clear()
                try:  # a refund or a new waiter may change the answer: look again
                    await asyncio.wait_for(self._kick.wait(), wait)
                except TimeoutError:
                    pass
                continue
            if not paid:
                heapq.heappop(self._waiters)  # the top one; a payer is skipped once done
            (self._paid if paid and self._paid is not None else self._free).take(now)
            fut.set_result(paid)
            await asyncio.sleep(0)  # let the winner run before granting the next token

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        for *_, fut in self._waiters:
            fut.cancel()
        self._waiters.clear()

    # -- per chat -------------------------------------------------------------------------
    def interval_for(self, chat_id: int) -> float:
        return self.per_chat_interval if chat_id > 0 else self.group_interval

    def pace(self, chat_id: int) -> ChatPace:
        pace = self._chats.get(chat_id)
        if pace is None:
            pace = self._chats[chat_id] = ChatPace(self.interval_for(chat_id))
        return pace

    def chat_ready_in(self, chat_id: int) -> float:
        pace = self._chats.get(chat_id)
        return 0.0 if pace is None else max(0.0, pace.ready_at - self._clock())

    def chat_free(self, chat_id: int) -> bool:
        pace = self._chats.get(chat_id)
        return pace is None or (not pace.lock.locked() and pace.ready_at <= self._clock())

    def chat_answered(self, chat_id: int) -> None:
        pace = self.pace(chat_id)
        pace.ready_at = max(pace.ready_at, self._clock() + pace.interval)

    def block_chat(self, chat_id: int, seconds: float) -> None:
        pace = self.pace(chat_id)
        pace.ready_at = max(pace.ready_at, self._clock() + seconds)

    def busy_chats(self) -> set[int]:
        """Chats that may not receive a message now; idle entries are forgotten."""
        now = self._clock()
        busy, idle = set(), []
        for chat_id, pace in self._chats.items():
            if pace.lock.locked() or pace.ready_at > now:
                busy.add(chat_id)
            else:  # released only after ready_at moved on: nobody is about to use it
                idle.append(chat_id)
        for chat_id in idle:
            del self._chats[chat_id]
        return busy

    def next_chat_ready_in(self) -> float | None:
        now = self._clock()
        times = [p.ready_at - now for p in self._chats.values() if p.ready_at > now]
        return max(0.0, min(times)) if times else None
