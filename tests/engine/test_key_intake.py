"""The engine's key intake: a pending credential is opened, verified against the
exchange emulator, then kept or erased, and the verdict is queued for the user."""

from __future__ import annotations

import asyncio

import pytest

from nija_tg.core.models import Role, TradingMode, Verification
from nija_tg.engine.key_intake import KeyIntake
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.services import key_rotation
from nija_tg.services.connect_service import ConnectService
from nija_tg.storage import audit, credentials, users
from nija_tg.vault.keyring import KeyRing
from tests.fakes.kraken import KrakenEmulator
from tests.outbox_text import TEXT_COLUMNS, text_of


@pytest.fixture
async def kraken():
    emu = KrakenEmulator()
    await emu.start()
    yield emu
    await emu.stop()


async def _submit(db, uid: int, exchange_id: str, creds: dict[str, str]) -> None:
    """What the bot does: seal each field with the public key, submit as pending."""
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
    service = ConnectService(db, allow_unproven=True)
    draft = None
    for name, value in creds.items():
        draft = await service.seal(uid, exchange_id, draft, name, value)
    await service.submit(uid, draft)


async def _queued(db, uid: int) -> list[str]:
    rows = await db.fetchall(
        f"SELECT {TEXT_COLUMNS} FROM outbox WHERE user_id = ? ORDER BY outbox_id", (uid,)
    )
    return [text_of(r) for r in rows]


async def _run_until_empty(intake: KeyIntake, db) -> None:
    for _ in range(400):
        await intake.step()
        await asyncio.sleep(0.02)
        if not await credentials.pending(db) and not intake._busy:
            return
    raise AssertionError("pending credentials were not handled")


async def test_good_key_is_kept_withdraw_key_erased_and_both_told(db, kraken):
    ring = KeyRing.generate()
    await key_rotation.publish_primary(db, ring)
    gateway = CcxtGateway(exchange_urls={"kraken": kraken.base_url})
    good = kraken.credentials(kraken.add_account())
    risky = kraken.credentials(kraken.add_account(can_withdraw=True))
    await _submit(db, 1, "kraken", good)
    await _submit(db, 2, "kraken", risky)
    intake = KeyIntake(db, ring, gateway)
    try:
        await _run_until_empty(intake, db)
    finally:
        await gateway.close_all()
    kept = await credentials.get(db, 1)
    assert kept is not None and kept.verified and kept.can_withdraw is False
    assert ring.open(kept.ciphertext, 1, "kraken") == good
    assert await credentials.get(db, 2) is None
    assert await credentials.pending(db) == []  # the refused blob is erased
    (told_good,) = await _queued(db, 1)
    assert "✅" in told_good and good["apiKey"][-4:] in told_good
    assert good["apiKey"][:-4] not in told_good
    (told_risky,) = await _queued(db, 2)
    assert "❌" in told_risky and "withdraw" in told_risky
    assert "paper mode" in told_good
    actions = [a.action for a in await audit.recent(db, 10)]
    assert "credentials.connect" in actions and "credentials.refused" in actions


async def test_live_user_is_not_told_paper_mode(db, kraken):
    ring = KeyRing.generate()
    await key_rotation.publish_primary(db, ring)
    gateway = CcxtGateway(exchange_urls={"kraken": kraken.base_url})
    await _submit(db, 3, "kraken", kraken.credentials(kraken.add_account()))
    async with db.transaction() as tx:
        await users.set_mode(tx, 3, TradingMode.LIVE)
    try:
        await _run_until_empty(KeyIntake(db, ring, gateway), db)
    finally:
        await gateway.close_all()
    (told,) = await _queued(db, 3)
    assert "paper mode" not in told and "live" in told


class SlowVerifier:
    """A verifier at the boundary that takes a while and counts verifications at once."""

    def __init__(self) -> None:
        self.now = self.peak = 0

    async def verify(self, exchange_id, credentials, *, allow_unproven=False):
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(0.05)
        self.now -= 1
        return Verification(ok=True, can_withdraw=False)


async def test_verifications_in_flight_are_bounded_for_the_whole_engine(db):
    ring = KeyRing.generate()
    await key_rotation.publish_primary(db, ring)
    for uid in range(10, 22):
        await _submit(db, uid, "kraken", {"apiKey": f"k-{uid}-abcdef", "secret": "s" * 20})
    verifier = SlowVerifier()
    await _run_until_empty(KeyIntake(db, ring, verifier, max_in_flight=3), db)
    assert verifier.peak == 3
    assert len(await db.fetchall("SELECT 1 FROM credentials WHERE verified = 1")) == 12


async def test_unprovable_exchange_refused_before_opening_unless_allowed(db):
    ring = KeyRing.generate()
    await key_rotation.publish_primary(db, ring)
    await _submit(db, 30, "binance", {"apiKey": "k" * 20, "secret": "s" * 20})
    verifier = SlowVerifier()
    await _run_until_empty(KeyIntake(db, ring, verifier, allow_unproven=False), db)
    assert verifier.peak == 0  # no call from the server's IP for a refused exchange
    (told,) = await _queued(db, 30)
    assert "❌" in told and await credentials.get(db, 30) is None


async def test_a_blob_sealed_for_another_user_is_refused(db):
    ring = KeyRing.generate()
    await key_rotation.publish_primary(db, ring)
    await _submit(db, 40, "kraken", {"apiKey": "k" * 20, "secret": "s" * 20})
    await _submit(db, 41, "kraken", {"apiKey": "x" * 20, "secret": "y" * 20})
    async with db.transaction() as tx:  # someone with database access swaps the blobs
        await tx.execute(
            "UPDATE pending_credentials SET ciphertext = "
            "(SELECT ciphertext FROM pending_credentials WHERE user_id = 40) WHERE user_id = 41"
        )
    verifier = SlowVerifier()
    await _run_until_empty(KeyIntake(db, ring, verifier), db)
    assert await credentials.get(db, 41) is None
    assert "❌" in (await _queued(db, 41))[0]
    assert (await credentials.get(db, 40)).verified


async def test_disconnect_while_checking_keeps_nothing(db):
    ring = KeyRing.generate()
    await key_rotation.publish_primary(db, ring)
    await _submit(db, 50, "kraken", {"apiKey": "k" * 20, "secret": "s" * 20})
    intake = KeyIntake(db, ring, SlowVerifier())
    await intake.step()  # verification under way
    async with db.transaction() as tx:
        await credentials.delete(tx, 50)  # /disconnect meanwhile
    await asyncio.gather(*intake._busy.values())
    assert await credentials.get(db, 50) is None
    assert await _queued(db, 50) == []


async def test_a_rotation_while_a_key_waits_for_a_slot_does_not_refuse_it(db, settings):
    """Found by the rotation chaos run: the intake used to open the ciphertext it read
    before waiting for a verification slot; a rotation meanwhile re-sealed the row and
    retired that key, and a good key was refused and erased."""
    from nija_tg.vault.keyring import (
        generate_private_key,
        parse_private_keys,
        write_key_file,
    )

    key_file = settings.effective_engine_key_file
    write_key_file(key_file, parse_private_keys(generate_private_key(), "test"))
    ring = KeyRing.from_env_or_file(None, key_file)
    await key_rotation.publish_primary(db, ring)
    for uid in (60, 61):
        await _submit(db, uid, "kraken", {"apiKey": f"key-{uid}-abcdef", "secret": "s" * 20})
    verifier = SlowVerifier()
    intake = KeyIntake(db, ring, verifier, max_in_flight=1)
    await intake.step()  # both in hand; the second waits for the one slot
    await key_rotation.rotate_file_keys(db, key_file)
    await intake.sync_keys()  # the engine forgets the retired key
    await asyncio.gather(*intake._busy.values())
    assert (intake.verified, intake.refused) == (2, 0)
    for uid in (60, 61):
        row = await credentials.get(db, uid)
        assert ring.open(row.ciphertext, uid, "kraken")["apiKey"] == f"key-{uid}-abcdef"
