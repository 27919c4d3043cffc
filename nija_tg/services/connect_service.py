"""Connecting an exchange account: which credentials to ask for, sealing each one the
moment it arrives, verifying the set with the exchange, storing it encrypted.

Plaintext never outlives one call here: the conversation keeps only the sealed blob
(a Fernet token bound to the user and exchange) between messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from nija_tg.core.errors import UnknownExchangeError, ValidationError
from nija_tg.core.models import BalanceLine
from nija_tg.exchange.protocol import CredentialVerifier
from nija_tg.redaction import mask_tail
from nija_tg.storage import audit, credentials
from nija_tg.storage.db import Database
from nija_tg.vault import Vault

FIRST_CLASS = ("kraken", "bingx", "coinbase")
EXCHANGE_ID_RE = re.compile(r"^[a-z0-9_]{2,32}$")
MAX_SECRET_LEN = 4096


@dataclass(frozen=True)
class ConnectResult:
    ok: bool
    exchange_id: str
    reason: str = ""
    key_tail: str = ""
    permissions: tuple[str, ...] = ()
    can_withdraw: bool | None = None
    balances: tuple[BalanceLine, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ConnectionInfo:
    exchange_id: str
    key_tail: str
    verified: bool
    reason: str
    permissions: tuple[str, ...]


class ConnectService:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        verifier: CredentialVerifier,
        credential_fields: Callable[[str], list[tuple[str, str]]],
    ) -> None:
        self._db = db
        self._vault = vault
        self._verifier = verifier
        self._credential_fields = credential_fields

    def fields_for(self, raw_exchange_id: str) -> tuple[str, list[tuple[str, str]]]:
        """(normalised id, [(credential name, label)]) or UnknownExchangeError."""
        exchange_id = raw_exchange_id.strip().lower()
        if not EXCHANGE_ID_RE.match(exchange_id):
            raise UnknownExchangeError("malformed exchange id")
        return exchange_id, self._credential_fields(exchange_id)

    def seal(
        self, user_id: int, exchange_id: str, sealed: bytes | None, name: str, value: str
    ) -> bytes:
        """Add one credential to the sealed set and return the new blob."""
        value = value.strip()
        if not value or len(value) > MAX_SECRET_LEN:
            raise ValidationError(
                user_message="That does not look like a credential (empty or too long). "
                "Send it again, or /cancel."
            )
        if any(not (ch.isprintable() or ch in "\r\n") for ch in value):
            raise ValidationError(
                user_message="That text holds characters a credential cannot have. "
                "Paste it again, or /cancel."
            )
        current = self._vault.decrypt(sealed, user_id, exchange_id) if sealed else {}
        current[name] = value
        return self._vault.encrypt(user_id, exchange_id, current)

    async def finish(self, user_id: int, exchange_id: str, sealed: bytes) -> ConnectResult:
        """Verify the sealed set with the exchange; store it only when it is good."""
        creds = self._vault.decrypt(sealed, user_id, exchange_id)
        tail = mask_tail(creds.get("apiKey", ""))
        verification = await self._verifier.verify(exchange_id, creds)
        async with self._db.transaction() as tx:
            if verification.ok:
                await credentials.store(
                    tx,
                    user_id,
                    exchange_id,
                    sealed,
                    tail[-4:],
                    verified=True,
                    permissions=verification.permissions,
                    can_withdraw=verification.can_withdraw,
                )
            await audit.record(
                tx,
                user_id,
                "credentials.connect" if verification.ok else "credentials.refused",
                user_id,
                exchange=exchange_id,
                key_tail=tail[-4:],
                reason=verification.reason,
            )
        return ConnectResult(
            ok=verification.ok,
            exchange_id=exchange_id,
            reason=verification.reason,
            key_tail=tail,
            permissions=verification.permissions,
            can_withdraw=verification.can_withdraw,
            balances=verification.balances,
        )

    async def disconnect(self, user_id: int) -> bool:
        async with self._db.transaction() as tx:
            removed = await credentials.delete(tx, user_id)
            await audit.record(tx, user_id, "credentials.disconnect", user_id, removed=removed)
        return removed

    async def info(self, user_id: int) -> ConnectionInfo | None:
        row = await credentials.get(self._db, user_id)
        if row is None:
            return None
        return ConnectionInfo(
            exchange_id=row.exchange_id,
            key_tail="••••" + row.key_tail,
            verified=row.verified,
            reason=row.verify_reason,
            permissions=tuple(row.permissions),
        )

    async def audit_group_leak(self, user_id: int, chat_id: int, deleted: bool) -> None:
        async with self._db.transaction() as tx:
            await audit.record(
                tx, user_id, "credentials.group_attempt", user_id, chat=chat_id, deleted=deleted
            )
