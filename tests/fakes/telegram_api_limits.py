"""Flood control of the fake Telegram Bot API: sliding windows per bot and per chat,
``retry_after`` penalty windows, and the statistics tests assert on.

Every delivered message-producing call (``send*`` except ``sendChatAction``, ``edit*``,
``copy*``, ``forward*``) is remembered even when limits are not enforced, so tests can
always ask for the highest observed rate. A window is ``1 / rate`` seconds long (at
least one second) minus ``window_slack`` (default 50 ms) so that a bot pacing itself at
exactly the limit is not punished for scheduling jitter.

Paid broadcasts (Bot API 7.11, ``allow_paid_broadcast``: "allow up to 1000 messages per
second, ignoring broadcasting limits for a fee of 0.1 Telegram Stars per message"): a
``send*``/``copy*``/``forward*`` call with it counts against a separate window of
``per_bot_paid_per_second`` (1,000) instead of the bot's free ~30/s; the per-chat limit
still applies (the fee lifts the broadcasting limit only). Edits cannot be paid.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram_api_wire import ApiError

BOT = "bot"
PAID = "paid"


def is_counted_method(method: str) -> bool:
    """Methods that produce or change a message and so count against flood limits."""
    low = method.lower()
    if low == "sendchataction":
        return False
    return low.startswith(("send", "edit", "copymessage", "forwardmessage"))


def is_paid_broadcast(method: str, params: dict[str, Any]) -> bool:
    """A message sent with ``allow_paid_broadcast`` (not an edit: they cannot be paid)."""
    value = params.get("allow_paid_broadcast")
    flagged = value is True or str(value).lower() in ("true", "1")
    return flagged and is_counted_method(method) and not method.lower().startswith("edit")


@dataclass
class LimitEvent:
    """A 429 answered (``kind="429"``) or a request inside an active penalty window
    (``kind="violation"``)."""

    ts: float
    method: str
    chat_id: int | str | None
    scope: str  # "chat" | "bot" | "paid"
    retry_after: int
    kind: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _window(rate: float, slack: float) -> tuple[float, int]:
    """(window seconds, allowed count) for a per-second rate."""
    if rate >= 1:
        return max(1.0 - slack, 0.01), int(rate)
    return max(1.0 / rate - slack, 0.01), 1


def _max_in_window(times: list[float], window: float) -> int:
    best = 0
    lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class FloodControl:
    """Sliding-window limiter with Telegram's 429 answers and violation tracking."""

    def __init__(
        self,
        *,
        enabled: bool,
        per_bot_per_second: float,
        per_chat_per_second: float,
        retry_after: int | None,
        window_slack: float = 0.05,
        per_bot_paid_per_second: float = 1000,
    ) -> None:
        self.enabled = enabled
        self.retry_after = retry_after
        self.window_slack = window_slack
        self.bot_window, self.bot_limit = _window(per_bot_per_second, window_slack)
        self.chat_window, self.chat_limit = _window(per_chat_per_second, window_slack)
        self.paid_window, self.paid_limit = _window(per_bot_paid_per_second, window_slack)
        self.delivered: dict[Any, list[float]] = defaultdict(list)  # chat_id / BOT -> times
        self.penalty_until: dict[Any, float] = {}
        self.rate_limited: list[LimitEvent] = []
        self.violations: list[LimitEvent] = []

    def clear(self) -> None:
        self.delivered.clear()
        self.penalty_until.clear()
        self.rate_limited.clear()
        self.violations.clear()

    def _retry(self, now: float, oldest: float, window: float) -> int:
        if self.retry_after is not None:
            return self.retry_after
        return max(1, math.ceil(oldest + window - now))

    def _deny(self, now: float, method: str, chat_id: Any, scope: str, secs: int) -> ApiError:
        self.rate_limited.append(LimitEvent(now, method, chat_id, scope, secs, "429"))
        return ApiError(
            429, f"Too Many Requests: retry after {secs}", parameters={"retry_after": secs}
        )

    def check(self, now: float, method: str, chat_id: Any, *, paid: bool = False) -> None:
        """Raise the 429 ``ApiError`` if this call must be refused (only when enabled)."""
        if not self.enabled or not is_counted_method(method):
            return
        bot_key, bot_scope = (PAID, "paid") if paid else (BOT, "bot")
        for key, scope in ((chat_id, "chat"), (bot_key, bot_scope)):
            until = self.penalty_until.get(key)
            if until is not None and now < until:
                secs = max(1, math.ceil(until - now))
                self.violations.append(LimitEvent(now, method, chat_id, scope, secs, "violation"))
                raise self._deny(now, method, chat_id, scope, secs)
        limits = (
            (PAID, "paid", self.paid_window, self.paid_limit)
            if paid
            else (BOT, "bot", self.bot_window, self.bot_limit),
        )
        if chat_id is not None:
            limits = ((chat_id, "chat", self.chat_window, self.chat_limit), *limits)
        for key, scope, window, limit in limits:
            recent = [t for t in self.delivered.get(key, ()) if now - t < window]
            if len(recent) >= limit:
                secs = self._retry(now, recent[-limit], window)
                self.penalty_until[key] = now + secs
                raise self._deny(now, method, chat_id, scope, secs)

    def delivered_now(self, now: float, method: str, chat_id: Any, *, paid: bool = False) -> None:
        """Remember a delivered counted call (always, for the statistics); a paid
        broadcast counts in the paid window, not the bot's free one."""
        if not is_counted_method(method):
            return
        self.delivered[PAID if paid else BOT].append(now)
        if chat_id is not None:
            self.delivered[chat_id].append(now)

    def max_rate_per_chat(self, chat_id: Any = None, window: float | None = None) -> int:
        """Most counted calls to one chat (or to ``chat_id``) within any window
        (default: one second minus the slack)."""
        span = window if window is not None else max(1.0 - self.window_slack, 0.01)
        keys = (
            [chat_id]
            if chat_id is not None
            else [k for k in self.delivered if k not in (BOT, PAID)]
        )
        return max((_max_in_window(self.delivered.get(k, []), span) for k in keys), default=0)

    def max_rate_per_bot(self, window: float | None = None) -> int:
        """Most counted calls by the bot within any window (free ones: paid broadcasts
        are counted by ``max_rate_paid``)."""
        span = window if window is not None else max(1.0 - self.window_slack, 0.01)
        return _max_in_window(self.delivered.get(BOT, []), span)

    def max_rate_paid(self, window: float | None = None) -> int:
        """Most paid broadcasts within any window."""
        span = window if window is not None else max(1.0 - self.window_slack, 0.01)
        return _max_in_window(self.delivered.get(PAID, []), span)

    def paid_count(self) -> int:
        return len(self.delivered.get(PAID, []))
