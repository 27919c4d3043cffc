"""Admin actions: users overview, detail, pause/resume, roles, grants, audit, broadcast,
global halt.

Every method takes the acting admin's user id and checks, inside its own transaction,
that this user is an admin now (the handler checked too; this closes the race with a
concurrent demotion). Every change is audited with actor, target and details, and the
users it concerns are told through the outbox in the same transaction.

Rules chosen here:
- ``/role``: nobody may leave the bot without an admin. Since only admins call this,
  the only way to do that is the last admin demoting themselves: refused. Demoting an
  admin listed in NIJA_ADMIN_IDS is allowed, but they become admin again on ``/start``
  (``RoleChange.configured_admin`` lets the handler say so). Becoming a viewer switches
  trading off; a viewer who becomes anything else loses their viewer grants (audited).
- ``/pause all`` pauses every user not yet paused; ``/resume all`` resumes every paused
  user. Pause/resume notices use the outbox kind ``pause``, halt notices ``halt`` (both
  in the user's "halts" preference group); role and grant notices use ``info``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.events import (
    Broadcast,
    Halted,
    PausedByAdmin,
    ResumedByAdmin,
    RoleChanged,
    ViewGranted,
)
from nija_tg.core.models import SELF_RESUMABLE_PAUSES, Role, UserStatus
from nija_tg.messages.render import render
from nija_tg.services.notify import tell
from nija_tg.storage import admin_queries as q
from nija_tg.storage import audit, outbox, users
from nija_tg.storage.admin_queries import CredentialInfo, Totals, UserOverview
from nija_tg.storage.audit import AuditRow
from nija_tg.storage.db import Database, Transaction
from nija_tg.storage.users import UserRow

PAGE_SIZE = 20
MAX_REASON = 200
MAX_BROADCAST = 3500  # characters the admin typed (after cleaning)
MAX_AUDIT = 100
DEFAULT_REASON: str | None = None  # no reason given: none stored, none told
# refusals' error codes (the words: messages.errors)
REFUSAL = "admins_only"
NO_SUCH_USER = "no_such_user"

_ZWJ = "\u200d"
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def clean_text(value: str, *, keep_newlines: bool = False) -> str:
    """Drop control and format characters (bidi overrides included; the emoji joiner
    stays); other whitespace becomes a space (newlines kept if asked); trimmed."""
    out = []
    for ch in value.replace("\r\n", "\n"):
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch.isspace():
            out.append(" ")
        elif (ch.isprintable() or ch == _ZWJ) and ch not in _BIDI:
            out.append(ch)
    return "".join(out).strip()


@dataclass(frozen=True, slots=True)
class UsersPage:
    page: int
    pages: int
    rows: list[UserOverview]
    totals: Totals


@dataclass(frozen=True, slots=True)
class UserDetail:
    user: UserRow
    overview: UserOverview
    credential: CredentialInfo | None
    can_view: list[int]  # traders this user (a viewer) was granted
    viewed_by: list[int]  # viewers granted to see this user


@dataclass(frozen=True, slots=True)
class RoleChange:
    user_id: int
    chat_id: int
    old: Role
    new: Role
    changed: bool
    configured_admin: bool  # demoted, but NIJA_ADMIN_IDS re-promotes them on /start


class AdminService:
    def __init__(self, db: Database, admin_ids: frozenset[int]) -> None:
        self._db = db
        self._admin_ids = admin_ids

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    async def _require_admin(reader: Database | Transaction, actor_id: int) -> None:
        if await q.role_of(reader, actor_id) is not Role.ADMIN:
            raise PermissionDeniedError(f"user {actor_id} is not an admin", code=REFUSAL)

    @staticmethod
    async def _existing(reader: Database | Transaction, user_id: int) -> UserRow:
        row = await users.get_user(reader, user_id)  # type: ignore[arg-type]
        if row is None:
            raise ValidationError(f"no user {user_id}", code=NO_SUCH_USER)
        return row

    async def record_denied(self, actor_id: int, command: str) -> None:
        """A non-admin tried an admin command or button."""
        async with self._db.transaction() as tx:
            await audit.record(tx, actor_id, "admin.denied", None, command=command[:64])

    # -- reads -----------------------------------------------------------------------
    async def users_page(self, actor_id: int, page: int) -> UsersPage:
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            totals = await q.totals(tx)
            pages = max(1, math.ceil(totals.users / PAGE_SIZE))
            if not 1 <= page <= pages:
                raise ValidationError(
                    f"page {page} of {pages}",
                    code="no_such_page",
                    params={"page": page, "pages": pages},
                )
            rows = await q.users_page(tx, (page - 1) * PAGE_SIZE, PAGE_SIZE)
            await audit.record(tx, actor_id, "admin.users", None, page=page)
        return UsersPage(page=page, pages=pages, rows=rows, totals=totals)

    async def user_detail(self, actor_id: int, target_id: int) -> UserDetail:
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            user = await self._existing(tx, target_id)
            overview = await q.user_overview(tx, target_id)
            assert overview is not None
            detail = UserDetail(
                user=user,
                overview=overview,
                credential=await q.credential_info(tx, target_id),
                can_view=await users.granted_traders(tx, target_id),
                viewed_by=await q.viewers_of(tx, target_id),
            )
            await audit.record(tx, actor_id, "admin.view_user", target_id)
        return detail

    async def audit_log(self, actor_id: int, n: int) -> list[AuditRow]:
        if not 1 <= n <= MAX_AUDIT:
            raise ValidationError("audit n", code="audit_count", params={"max": MAX_AUDIT})
        await self._require_admin(self._db, actor_id)
        return await audit.recent(self._db, n)

    # -- pause / resume ----------------------------------------------------------------
    async def pause(self, actor_id: int, target_id: int | None, reason: str = "") -> list[int]:
        """Pause one user (``target_id``) or everyone not yet paused (None). Returns the
        ids paused now (empty: the one user was already paused)."""
        reason = clean_text(reason)
        if len(reason) > MAX_REASON:
            raise ValidationError("long reason", code="reason_too_long", params={"max": MAX_REASON})
        reason = reason or DEFAULT_REASON
        notice = PausedByAdmin(reason)
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            if target_id is None:
                ids = await q.pausable_user_ids(tx)
            else:
                target = await self._existing(tx, target_id)
                # an engine pause the user could lift alone becomes an admin pause
                engine_paused = target.pause_reason in SELF_RESUMABLE_PAUSES
                paused = target.status is UserStatus.PAUSED and not engine_paused
                ids = [] if paused else [target_id]
            stored = f"admin: {reason}" if reason in SELF_RESUMABLE_PAUSES else reason
            for uid in ids:
                await users.set_status(tx, uid, UserStatus.PAUSED, stored)
                await tell(tx, uid, notice)
            await audit.record(
                tx,
                actor_id,
                "admin.pause",
                target_id,
                scope=_scope(target_id),
                reason=reason,
                count=len(ids),
            )
        return ids

    async def resume(self, actor_id: int, target_id: int | None) -> list[int]:
        """Resume one paused user or every paused user. Returns the ids resumed now."""
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            if target_id is None:
                ids = await q.paused_user_ids(tx)
            else:
                target = await self._existing(tx, target_id)
                ids = [target_id] if target.status is UserStatus.PAUSED else []
            for uid in ids:
                await users.set_status(tx, uid, UserStatus.ACTIVE)
                await tell(tx, uid, ResumedByAdmin())
            await audit.record(
                tx, actor_id, "admin.resume", target_id, scope=_scope(target_id), count=len(ids)
            )
        return ids

    # -- roles and grants --------------------------------------------------------------
    async def set_role(self, actor_id: int, target_id: int, role: Role) -> RoleChange:
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            target = await self._existing(tx, target_id)
            old = target.role
            change = RoleChange(
                user_id=target_id,
                chat_id=target.chat_id,
                old=old,
                new=role,
                changed=old is not role,
                configured_admin=old is not role
                and role is not Role.ADMIN
                and target_id in self._admin_ids,
            )
            if not change.changed:
                return change
            if old is Role.ADMIN and await q.admin_count(tx) <= 1:
                raise ValidationError("last admin", code="last_admin_demoted")
            await users.set_role(tx, target_id, role, actor_id=actor_id)  # drops old grants
            if role is Role.VIEWER and target.trading_on:
                await users.set_trading(tx, target_id, False)
            await audit.record(tx, actor_id, "admin.role", target_id, old=old.value, new=role.value)
            await tell(tx, target_id, RoleChanged(role.value))
        return change

    async def _grant_pair(self, tx: Transaction, viewer_id: int, trader_id: int) -> None:
        viewer = await self._existing(tx, viewer_id)
        trader = await self._existing(tx, trader_id)
        if viewer.role is not Role.VIEWER:
            raise ValidationError(
                "grant to a non-viewer",
                code="grant_needs_viewer",
                params={"user_id": viewer_id, "role": viewer.role.value},
            )
        if trader.role is Role.VIEWER:
            raise ValidationError(
                "grant of a viewer", code="grant_of_viewer", params={"user_id": trader_id}
            )

    async def grant(self, actor_id: int, viewer_id: int, trader_id: int) -> bool:
        """Let a viewer see a trader's dashboard. False: the grant existed already."""
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            await self._grant_pair(tx, viewer_id, trader_id)
            if await q.has_grant(tx, viewer_id, trader_id):
                return False
            await users.grant(tx, viewer_id, trader_id, actor_id)
            await audit.record(tx, actor_id, "admin.grant", viewer_id, trader_id=trader_id)
            await tell(tx, viewer_id, ViewGranted(trader_id, True))
        return True

    async def revoke(self, actor_id: int, viewer_id: int, trader_id: int) -> bool:
        """Take a grant back. False: there was no such grant."""
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            await self._existing(tx, viewer_id)
            await self._existing(tx, trader_id)
            if not await users.revoke(tx, viewer_id, trader_id):
                return False
            await audit.record(tx, actor_id, "admin.revoke", viewer_id, trader_id=trader_id)
            await tell(tx, viewer_id, ViewGranted(trader_id, False))
        return True

    # -- broadcast and the global halt -----------------------------------------------------
    @staticmethod
    def _broadcast_message(text: str) -> tuple[Broadcast, str]:
        """(the cleaned body, the message users get); ValidationError when empty or
        too long."""
        body = clean_text(text, keep_newlines=True)
        if not body:
            raise ValidationError("empty broadcast", code="broadcast_usage")
        if len(body) > MAX_BROADCAST:
            raise ValidationError(
                "long broadcast",
                code="broadcast_too_long",
                params={"length": len(body), "max": MAX_BROADCAST},
            )
        event = Broadcast(body)
        message = render(event)
        if outbox.tg_len(message) > outbox.MAX_MESSAGE_UNITS - 96:
            raise ValidationError("long formatted broadcast", code="broadcast_too_long_formatted")
        return event, message

    async def broadcast_preview(self, actor_id: int, text: str) -> tuple[str, int]:
        """(the message exactly as users will get it, how many users it would go to),
        checked as ``broadcast`` checks it; nothing is queued."""
        _, message = self._broadcast_message(text)
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            return message, len(await q.all_user_ids(tx))

    async def pausable_count(self, actor_id: int, reason: str = "") -> int:
        """How many users ``pause(actor_id, None, reason)`` would pause now; the reason
        is checked as ``pause`` checks it (ValidationError), so a confirmation is never
        asked for a pause that would then be refused."""
        if len(clean_text(reason)) > MAX_REASON:
            raise ValidationError("long reason", code="reason_too_long", params={"max": MAX_REASON})
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            return len(await q.pausable_user_ids(tx))

    async def broadcast(self, actor_id: int, text: str) -> int:
        """Queue ``text`` for every registered user. Returns how many were queued."""
        event, _ = self._broadcast_message(text)
        body = event.body
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            queued = 0
            for uid in await q.all_user_ids(tx):
                if await tell(tx, uid, event) is not None:
                    queued += 1
            await audit.record(
                tx,
                actor_id,
                "admin.broadcast",
                None,
                chars=len(body),
                queued=queued,
                preview=body[:80],
            )
        return queued

    async def halt(self, actor_id: int) -> int | None:
        """Switch the global kill switch on. Returns the users told (None: was on)."""
        return await self._set_halt(actor_id, True)

    async def unhalt(self, actor_id: int) -> int | None:
        """Lift the global kill switch. Returns the users told (None: was off)."""
        return await self._set_halt(actor_id, False)

    async def is_halted(self) -> bool:
        return await users.is_halted(self._db)

    async def _set_halt(self, actor_id: int, halted: bool) -> int | None:
        async with self._db.transaction() as tx:
            await self._require_admin(tx, actor_id)
            if await users.is_halted(tx) is halted:
                return None
            await users.set_halted(tx, halted)
            told = 0
            for uid in await q.trading_on_user_ids(tx):
                if await tell(tx, uid, Halted(halted)) is not None:
                    told += 1
            action = "admin.halt" if halted else "admin.unhalt"
            await audit.record(tx, actor_id, action, None, told=told)
        return told


def _scope(target_id: int | None) -> str:
    return "all" if target_id is None else "user"


__all__ = [
    "DEFAULT_REASON",
    "MAX_AUDIT",
    "MAX_BROADCAST",
    "MAX_REASON",
    "NO_SUCH_USER",
    "PAGE_SIZE",
    "REFUSAL",
    "AdminService",
    "RoleChange",
    "UserDetail",
    "UsersPage",
    "clean_text",
]
