"""The bot's half of /connect: seals with the public key only, keeps no plain text,
limits attempts, refuses before anything is published."""

from __future__ import annotations

import pytest

from nija_tg.core.errors import NoSealKeyError, ValidationError
from nija_tg.core.models import Role
from nija_tg.messages.errors import text as error_text
from nija_tg.services import key_rotation
from nija_tg.services.connect_service import ATTEMPTS_PER_WINDOW, ConnectService
from nija_tg.storage import users
from nija_tg.vault.keyring import KeyRing

KEY = "AK-sentinel-0123456789"


async def _user(db, uid):
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)


async def test_nothing_is_sealed_before_the_engine_published_its_key(db):
    with pytest.raises(NoSealKeyError) as err:
        await ConnectService(db).seal(1, "kraken", None, "apiKey", KEY)
    assert "not available yet" in error_text(err.value)


async def test_draft_holds_no_plain_text_and_only_the_engine_opens_it(db):
    ring = KeyRing.generate()
    await key_rotation.publish_primary(db, ring)
    service = ConnectService(db)
    draft = await service.seal(1, "kraken", None, "apiKey", f"  {KEY}\n")
    draft = await service.seal(1, "kraken", draft, "secret", "SEC-sentinel")
    blob = draft.sealed.to_bytes()
    assert b"sentinel" not in blob and "sentinel" not in repr(draft)
    assert draft.key_tail == KEY[-4:]
    assert ring.open(blob, 1, "kraken") == {"apiKey": KEY, "secret": "SEC-sentinel"}


@pytest.mark.parametrize("value", ["", "   ", "x" * 5000, "key\x00with-nul", "\u202ehidden"])
async def test_odd_input_is_refused_politely(db, value):
    await key_rotation.publish_primary(db, KeyRing.generate())
    with pytest.raises(ValidationError) as err:
        await ConnectService(db).seal(1, "kraken", None, "apiKey", value)
    assert "/cancel" in error_text(err.value)


async def test_attempts_are_limited_per_user(db):
    await key_rotation.publish_primary(db, KeyRing.generate())
    await _user(db, 1)
    await _user(db, 2)
    service = ConnectService(db)
    for _ in range(ATTEMPTS_PER_WINDOW):
        assert await service.attempt_allowed(1)
        draft = await service.seal(1, "kraken", None, "apiKey", KEY)
        await service.submit(1, draft)
    assert not await service.attempt_allowed(1)
    assert await service.attempt_allowed(2)  # another user is not affected
