"""Send budgets that keep the notification sender inside Telegram's flood limits.

Two limits apply (https://core.telegram.org/bots/faq#broadcasting-to-users): about 30
messages per second per bot and about one per second per chat. The sender uses a global
token bucket at ``rate`` per second (``NIJA_SENDER_RATE``, default 25, leaving room for the
bot's own replies) and spaces messages to one chat ``per_chat_interval`` seconds apart,
counted from Telegram's *answer* to the previous one so that network jitter can never make
two requests arrive closer together than the interval. A 429 ``retry_after`` blocks the
chat and pauses the whole budget until it elapses.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """A token bucket (GCRA form): ``rate`` tokens per second, at most ``burst`` saved up.

    ``reserve()`` takes the next token and says how long to wait before using it, so
    concurrent callers queue up fairly without a lock."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Clock = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self._tolerance = max(burst - 1.0, 0.0) * self.interval
        self._clock = clock
        self._tat = 0.0  # theoretical arrival time of the next token
        self._paused_until = 0.0

    def reserve(self) -> float:
        """Take a token; return the seconds to wait before spending it (0 if now)."""
        now = self._clock()
        start = max(now, self._tat - self._tolerance, self._paused_until)
        self._tat = max(self._tat, start) + self.interval
        return start - now

    def available_in(self) -> float:
        """Seconds until a token could be spent (without taking it)."""
        now = self._clock()
        return max(0.0, self._tat - self._tolerance - now, self._paused_until - now)

    def pause(self, seconds: float) -> None:
        """No token is spendable before ``seconds`` from now (a global 429)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())


class RateBudget:
    """The global bucket plus per-chat spacing and per-chat ``retry_after`` blocks."""

    def __init__(
        self,
        rate: float = 25.0,
        *,
        per_chat_interval: float = 1.0,
        burst: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = rate
        self.per_chat_interval = per_chat_interval
        self.global_bucket = TokenBucket(rate, burst, clock)
        self._clock = clock
        self._chat_ready: dict[int, float] = {}

    # -- global -----------------------------------------------------------------------
    def reserve_global(self) -> float:
        return self.global_bucket.reserve()

    def paused_for(self) -> float:
        return self.global_bucket.paused_for()

    def block_all(self, seconds: float) -> None:
        self.global_bucket.pause(seconds)

    # -- per chat ---------------------------------------------------------------------
    def chat_ready_in(self, chat_id: int) -> float:
        """Seconds before ``chat_id`` may receive the next message."""
        return max(0.0, self._chat_ready.get(chat_id, 0.0) - self._clock())

    def chat_ready(self, chat_id: int) -> bool:
        return self.chat_ready_in(chat_id) <= 0.0

    def chat_answered(self, chat_id: int) -> None:
        """Telegram answered a message to ``chat_id``: the next one waits an interval."""
        self._set_chat(chat_id, self._clock() + self.per_chat_interval)

    def block_chat(self, chat_id: int, seconds: float) -> None:
        self._set_chat(chat_id, self._clock() + seconds)

    def _set_chat(self, chat_id: int, until: float) -> None:
        self._chat_ready[chat_id] = max(self._chat_ready.get(chat_id, 0.0), until)

    def busy_chats(self) -> set[int]:
        """Chats that may not receive a message yet (expired entries are forgotten)."""
        now = self._clock()
        expired = [c for c, t in self._chat_ready.items() if t <= now]
        for chat_id in expired:
            del self._chat_ready[chat_id]
        return set(self._chat_ready)

    def next_chat_ready_in(self) -> float | None:
        """Seconds until the earliest busy chat frees up (None when none is busy)."""
        if not self._chat_ready:
            return None
        return max(0.0, min(self._chat_ready.values()) - self._clock())
