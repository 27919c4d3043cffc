"""Item 8: master-key rotation killed with SIGKILL at random points, then rerun.

Seeds ``--rows`` users with credentials (storage repositories + ``Vault.encrypt``), then
runs ``python -m nija_tg rotate-key`` ``--kills`` times, each killed at a random moment
within the time one full rotation takes here, and finally once to completion.

Checked: after each kill every row decrypts with the keys in the key file; after the final
run every row decrypts under the new key alone and the original key is gone from the
file. Meanwhile a separate reader process ("trading continues") decrypts random rows
with ``Vault.from_env_or_file`` on the key file and must see no failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from chaos.common import PYTHON, REPO, base_parser, child_env, emit, result
from nija_tg.core.errors import NijaError
from nija_tg.core.models import Role
from nija_tg.storage import credentials, users
from nija_tg.storage.db import Database
from nija_tg.vault import Vault, generate_key, read_key_file, write_key_file

EXCHANGE = "kraken"
RUN_TIMEOUT = 600.0


def _creds(uid: int) -> dict[str, str]:
    """Distinct random-looking values, like real keys (the redaction index is keyed by
    prefix, so thousands of values sharing one prefix would measure something else)."""
    digest = hashlib.sha256(f"user-{uid}".encode()).hexdigest()
    return {"apiKey": digest[:32], "secret": digest[32:]}


async def seed(db_path: Path, key: bytes, rows: int) -> None:
    vault = Vault([key])
    db = await Database.open(db_path)
    try:
        for start in range(1, rows + 1, 1000):
            async with db.transaction() as tx:
                for uid in range(start, min(start + 1000, rows + 1)):
                    await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
                    blob = vault.encrypt(uid, EXCHANGE, _creds(uid))
                    await credentials.store(tx, uid, EXCHANGE, blob, str(uid)[-4:], verified=True)
    finally:
        await db.close()


def _all_rows(db_path: Path) -> list[tuple[int, bytes]]:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        found = conn.execute("SELECT user_id, ciphertext FROM credentials ORDER BY user_id")
        return [(uid, bytes(blob)) for uid, blob in found]
    finally:
        conn.close()


def check_rows(db_path: Path, vault: Vault, rows: int, failures: list[str], when: str) -> None:
    """Every row decrypts with ``vault`` to its own credentials."""
    found = _all_rows(db_path)
    if len(found) != rows:
        failures.append(f"{when}: {len(found)} credential rows, expected {rows}")
    for uid, blob in found:
        try:
            if vault.decrypt(blob, uid, EXCHANGE) != _creds(uid):
                failures.append(f"{when}: user {uid} decrypts to other credentials")
        except NijaError as exc:
            failures.append(f"{when}: user {uid}: {type(exc).__name__}")


def count_under(db_path: Path, key: bytes) -> int:
    fernet = Fernet(key)
    n = 0
    for _uid, blob in _all_rows(db_path):
        try:
            fernet.decrypt(blob)
            n += 1
        except InvalidToken:
            pass
    return n


def _rotate(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "nija_tg", "rotate-key"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def calibrate(data_dir: Path, work: Path) -> float:
    """Seconds one uninterrupted rotation of a copy of the database takes here."""
    copy = work / "calibration"
    copy.mkdir()
    asyncio.run(_backup(data_dir / "nija.sqlite3", copy / "nija.sqlite3"))
    shutil.copy2(data_dir / "master.key", copy / "master.key")
    started = time.monotonic()
    proc = _rotate(child_env(copy))
    _out, err = proc.communicate(timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"calibration rotation failed: {err.decode()[-500:]}")
    seconds = time.monotonic() - started
    shutil.rmtree(copy)
    return seconds


async def _backup(source: Path, target: Path) -> None:
    db = await Database.open(source, migrate=False)
    try:
        await db.backup(target)
    finally:
        await db.close()


# -- the concurrent reader ("trading continues meanwhile") --------------------------------


async def reader_main(db_path: Path, key_file: Path, rows: int) -> dict[str, Any]:
    """Decrypt random rows with a vault on the key file until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    rng = random.Random()
    vault = Vault.from_env_or_file(None, key_file)
    db = await Database.open(db_path, migrate=False)
    reads = failures = 0
    key_counts: set[int] = {vault.key_count}
    errors: list[str] = []
    print("ready", flush=True)
    try:
        while not stop.is_set():
            uid = rng.randint(1, rows)
            row = await credentials.get(db, uid)
            reads += 1
            try:
                if row is None or vault.decrypt(row.ciphertext, uid, EXCHANGE) != _creds(uid):
                    raise ValueError("wrong or missing row")
            except (NijaError, ValueError) as exc:
                failures += 1
                errors.append(f"user {uid}: {type(exc).__name__}")
            key_counts.add(vault.key_count)
            await asyncio.sleep(0.001)
    finally:
        await db.close()
    return {
        "reads": reads,
        "failures": failures,
        "errors": errors[:20],
        "key_counts": sorted(key_counts),
    }


def run(work: Path, rows: int = 10_000, kills: int = 10, seed_value: int = 6) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(seed_value)
    failures: list[str] = []
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    key_file, db_path = data_dir / "master.key", data_dir / "nija.sqlite3"
    write_key_file(key_file, [generate_key().encode()])
    original = read_key_file(key_file)[0]
    asyncio.run(seed(db_path, original, rows))
    full_seconds = calibrate(data_dir, work)
    env = child_env(data_dir)
    reader = subprocess.Popen(
        [PYTHON, "-m", "chaos.rotation_kill", "--reader", str(db_path), str(key_file), str(rows)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    reader.stdout.readline()  # "ready": the reader holds a vault built from the key file
    attempts: list[dict[str, Any]] = []
    try:
        remaining = 1.0  # share of rows the next run still has to re-encrypt
        for i in range(kills):
            # a random moment within the time this run needs (start-up is ~1/4 of a run)
            delay = rng.uniform(0.05, 1.0) * full_seconds * (0.25 + 0.75 * remaining)
            proc = _rotate(env)
            time.sleep(delay)
            killed = proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=RUN_TIMEOUT)
            keys = read_key_file(key_file)
            marker = key_file.with_name(key_file.name + ".rotating")
            target = read_key_file(marker)[0] if marker.exists() else keys[0]
            check_rows(db_path, Vault(keys), rows, failures, f"after kill {i + 1}")
            done = count_under(db_path, target)
            remaining = 1.0 - done / rows if marker.exists() else 1.0
            attempts.append(
                {
                    "delay_s": round(delay, 2),
                    "killed": killed,
                    "keys_in_file": len(keys),
                    "rotation_pending": marker.exists(),
                    "rows_under_new_key": done,
                }
            )
        proc = _rotate(env)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        if proc.returncode != 0:
            failures.append(f"final rotate-key exited {proc.returncode}: {err.decode()[-300:]}")
        keys = read_key_file(key_file)
        if len(keys) != 1 or original in keys:
            failures.append(f"key file after the final run holds {len(keys)} key(s)")
        check_rows(db_path, Vault(keys[:1]), rows, failures, "after the final run")
        old_readable = count_under(db_path, original)
        if old_readable:
            failures.append(f"{old_readable} rows still decrypt under the original key")
    finally:
        reader.send_signal(signal.SIGTERM)
        reader_text, _ = reader.communicate(timeout=60)
    report = json.loads(reader_text.strip().splitlines()[-1]) if reader_text.strip() else {}
    if not report:
        failures.append("the reader process wrote no report")
    elif report["failures"]:
        failures.append(f"reader: {report['failures']} failed decrypts: {report['errors'][:3]}")
    elif not report["reads"]:
        failures.append("reader made no reads")
    return result(
        "rotation_kill",
        failures,
        started,
        rows=rows,
        kills=kills,
        killed=sum(a["killed"] for a in attempts),
        full_rotation_s=round(full_seconds, 2),
        attempts=attempts,
        final_output=out.decode().strip(),
        reader_reads=report.get("reads", 0),
        reader_failures=report.get("failures"),
        reader_key_counts=report.get("key_counts"),
        rows_lost=sum("credential rows" in f for f in failures),
        undecryptable_after_kills=sum(f.startswith("after kill") for f in failures),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--reader":
        db_path, key_file, rows = argv[1:4]
        print(json.dumps(asyncio.run(reader_main(Path(db_path), Path(key_file), int(rows)))))
        return 0
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chaos-rotation-") as tmp:
        work = args.work_dir or Path(tmp)
        res = run(work, rows=args.rows, kills=args.kills, seed_value=args.seed)
    return emit(res, args.out)


if __name__ == "__main__":
    sys.exit(main())
