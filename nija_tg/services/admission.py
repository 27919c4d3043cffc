"""Who may register (``NIJA_REGISTRATION``): ``open`` (anyone who sends /start),
``approval`` (a newcomer's /start asks the admins, who approve or reject with a button),
``closed`` (nobody new). Registered users and the configured admins always get in.
Every request and decision is audited.

A request is never lost: it stays pending in the database until an admin decides, every
admin's /start (and /pending) shows what is pending, and the newcomer's repeated /start
asks the admins again when none has been shown the request for ``REASK_AFTER`` seconds
(or never: no admin had a chat with the bot yet, or every send failed)."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nija_tg.services import registration
from nija_tg.storage import audit, join_requests, users
from nija_tg.storage.db import Database
from nija_tg.storage.join_requests import JoinRequest
from nija_tg.storage.users import UserRow


class RegistrationMode(enum.StrEnum):
    OPEN = "open"
    APPROVAL = "approval"
    CLOSED = "closed"


REASK_AFTER = 600.0  # a waiting newcomer's /start asks the admins again after this
MAX_SHOWN = 10  # pending requests shown at once (each with its own buttons)


class Outcome(enum.StrEnum):
    REGISTERED = "registered"  # in (``row``; ``created`` when new)
    ASKED = "asked"  # a new request: tell the admins, then ``asked``
    ASK_AGAIN = "ask_again"  # still pending, no admin shown it lately: tell them again
    WAITING = "waiting"  # an admin was shown it lately, still pending
    REJECTED = "rejected"
    CLOSED = "closed"


@dataclass(frozen=True)
class Admitted:
    outcome: Outcome
    row: UserRow | None = None
    created: bool = False
    admins: list[int] = field(default_factory=list)  # to tell (ASKED, ASK_AGAIN)


@dataclass(frozen=True)
class Pending:
    """What admins have to decide: the oldest ``MAX_SHOWN`` requests, and how many wait."""

    requests: list[JoinRequest]
    total: int


@dataclass(frozen=True)
class Decision:
    request: JoinRequest | None  # None: no such request
    done: bool  # False: decided before (``request`` says how and by whom)
    row: UserRow | None = None  # the registered user, when approved now
    decider_name: str | None = None  # who decided before (``done`` False), if known


@dataclass
class Admission:
    db: Database
    admin_ids: frozenset[int]
    mode: RegistrationMode = RegistrationMode.OPEN
    clock: Callable[[], float] = time.time

    async def start(
        self, user_id: int, chat_id: int, username: str | None, first_name: str | None
    ) -> Admitted:
        known = await users.get_user(self.db, user_id)
        if known is not None or user_id in self.admin_ids or self.mode is RegistrationMode.OPEN:
            return await self._register(user_id, chat_id, username, first_name)
        if self.mode is RegistrationMode.CLOSED:
            return Admitted(Outcome.CLOSED)
        name = registration.clean_name
        async with self.db.transaction() as tx:
            created = await join_requests.create(
                tx, user_id, chat_id, name(username), name(first_name)
            )
            if created:
                await audit.record(tx, user_id, "registration.request", user_id)
        if created:
            return Admitted(Outcome.ASKED, admins=await users.admin_user_ids(self.db))
        request = await join_requests.get(self.db, user_id)
        if request is not None and request.status == "rejected":
            return Admitted(Outcome.REJECTED)
        if request is not None and request.status == "approved":  # approved, then /forget
            return await self._register(user_id, chat_id, username, first_name)
        if request is not None and self._due(request):
            return Admitted(Outcome.ASK_AGAIN, admins=await users.admin_user_ids(self.db))
        return Admitted(Outcome.WAITING)

    def _due(self, request: JoinRequest) -> bool:
        """No admin was shown this pending request yet, or not for ``REASK_AFTER``."""
        return request.asked_at is None or self.clock() - request.asked_at >= REASK_AFTER

    async def asked(self, user_ids: list[int]) -> None:
        """These pending requests were just shown to an admin (a send Telegram accepted)."""
        async with self.db.transaction() as tx:
            await join_requests.mark_asked(tx, user_ids, self.clock())

    async def pending(self) -> Pending:
        """The requests waiting for a decision, the oldest first."""
        found = await join_requests.pending(self.db, MAX_SHOWN)
        total = len(found)
        if total == MAX_SHOWN:
            total = await join_requests.pending_count(self.db)
        return Pending(found, total)

    async def _register(self, user_id, chat_id, username, first_name) -> Admitted:
        row, created = await registration.register(
            self.db, self.admin_ids, user_id, chat_id, username, first_name
        )
        return Admitted(Outcome.REGISTERED, row=row, created=created)

    async def decide(self, admin_id: int, user_id: int, approve: bool) -> Decision:
        async with self.db.transaction() as tx:
            done = await join_requests.decide(tx, user_id, approve, admin_id)
            if done:
                action = "registration.approve" if approve else "registration.reject"
                await audit.record(tx, admin_id, action, user_id)
        request = await join_requests.get(self.db, user_id)
        if not done and request is not None and request.decided_by is not None:
            decider = await users.get_user(self.db, request.decided_by)
            return Decision(request, False, decider_name=decider and decider.first_name)
        if not done or request is None or not approve:
            return Decision(request, done)
        row, _ = await registration.register(
            self.db,
            self.admin_ids,
            user_id,
            request.chat_id,
            request.username,
            request.first_name,
        )
        return Decision(request, True, row)
