"""Who may register (``NIJA_REGISTRATION``): ``open`` (anyone who sends /start),
``approval`` (a newcomer's /start asks the admins, who approve or reject with a button),
``closed`` (nobody new). Registered users and the configured admins always get in.
Every request and decision is audited."""

from __future__ import annotations

import enum
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


class Outcome(enum.StrEnum):
    REGISTERED = "registered"  # in (``row``; ``created`` when new)
    ASKED = "asked"  # a new request: tell the admins
    WAITING = "waiting"  # asked before, still pending
    REJECTED = "rejected"
    CLOSED = "closed"


@dataclass(frozen=True)
class Admitted:
    outcome: Outcome
    row: UserRow | None = None
    created: bool = False
    admins: list[int] = field(default_factory=list)  # to tell about a new request


@dataclass(frozen=True)
class Decision:
    request: JoinRequest | None  # None: no such request
    done: bool  # False: decided before (``request`` says how and by whom)
    row: UserRow | None = None  # the registered user, when approved now


@dataclass
class Admission:
    db: Database
    admin_ids: frozenset[int]
    mode: RegistrationMode = RegistrationMode.OPEN

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
        return Admitted(Outcome.WAITING)

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
