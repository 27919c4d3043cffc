"""Engine-key rotation killed with SIGKILL at random points, rerun, while sealing and trading go on.

Seeds ``--rows`` users with stored credentials (and a tenth as many pending ones), each
sealed to the engine's public key (``KeyRing.seal``; the public half published in
``seal_keys`` as ``nija-tg init`` does). Two processes then run for the whole test:

- a *sealer* (the bot): ``ConnectService.seal`` part by part with the current public key
  read from the database, then ``ConnectService.submit``, for extra users, several
  "conversations" at once with pauses between the parts; a submission refused with
  ``SealKeyRotatedError`` (the key changed meanwhile) is sealed again and retried;
- an *opener* (the engine): a ``KeyRing.from_env_or_file`` on the key file opens random
  stored and pending rows, while a ``KeyIntake.sync_keys`` every 0.1 s forgets keys the
  database marks retired (the ring re-reads the file when it meets an unknown key id).

``python -m nija_tg rotate-key`` is started ``--kills`` times, each killed at a random
moment within the time one full rotation takes here, then once more to completion.

Checked:
1. after each kill, every row of ``credentials`` and ``pending_credentials`` opens, to its
   own owner's credentials, with the keys of the key file alone (no marker key: the
   rotation writes the new key into the file before it publishes it, and a row can be
   sealed to it only after the publish), and no row is sealed to a key marked retired;
2. after the final run: every row opens with the key file's one key alone, no earlier key
   is left in the file, the marker file is gone, ``seal_keys`` holds exactly one current
   key, the key file's, and every other key it holds is retired;
3. no row is sealed to a retired key at the end; the sealer had no failure other than
   refused-and-retried submissions, and each of its users has a pending row;
4. the opener never failed to open a row.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from collections import Counter
from pathlib import Path
from typing import Any

from chaos.common import PYTHON, REPO, base_parser, child_env, emit, result
from nija_tg.core.errors import NijaError, SealKeyRotatedError
from nija_tg.core.models import Role
from nija_tg.engine.key_intake import KeyIntake
from nija_tg.services.connect_service import ConnectService
from nija_tg.services.key_rotation import publish_primary
from nija_tg.storage import credentials, users
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import (
    KeyRing,
    generate_private_key,
    parse_private_keys,
    public_of,
    read_key_file,
    write_key_file,
)
from nija_tg.vault.sealing import container_key_id

EXCHANGE = "kraken"
RUN_TIMEOUT = 600.0
SEALER_BASE = 1_000_000  # the sealer's users: SEALER_BASE + 0 .. pool - 1
SEALER_TASKS = 8  # conversations the sealer keeps going at once
SYNC_INTERVAL = 0.1  # the opener's KeyIntake.sync_keys period (the engine's: 1 s)


def _creds(uid: int, table: str) -> dict[str, str]:
    """Distinct random-looking values, like real keys (the redaction index is keyed by
    prefix, so thousands of values sharing one prefix would measure something else);
    different for a user's stored and pending rows."""
    digest = hashlib.sha256(f"{table}-{uid}".encode()).hexdigest()
    return {"apiKey": digest[:32], "secret": digest[32:]}


def _marker(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".rotating")


def _key_ids(path: Path) -> list[str]:
    return [public_of(k).key_id for k in read_key_file(path)]


async def seed(db_path: Path, key_file: Path, rows: int, pending_rows: int) -> None:
    ring = KeyRing(read_key_file(key_file))
    db = await Database.open(db_path)
    try:
        await publish_primary(db, ring)
        for start in range(1, rows + 1, 1000):
            async with db.transaction() as tx:
                for uid in range(start, min(start + 1000, rows + 1)):
                    await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
                    blob = ring.seal(uid, EXCHANGE, _creds(uid, "credentials"))
                    await credentials.store(tx, uid, EXCHANGE, blob, str(uid)[-4:], verified=True)
                    if uid <= pending_rows:
                        blob = ring.seal(uid, EXCHANGE, _creds(uid, "pending_credentials"))
                        stored = await credentials.submit_pending(
                            tx, uid, EXCHANGE, blob, str(uid)[-4:], ring.primary.key_id
                        )
                        assert stored, "seeding: the primary key is not published"
    finally:
        await db.close()


# -- what the database holds (read with plain sqlite3 by the supervising process) -------


def _all_rows(db_path: Path) -> list[tuple[str, int, str, bytes]]:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        found = []
        for table in credentials.SEALED_TABLES:
            query = f"SELECT user_id, exchange_id, ciphertext FROM {table} ORDER BY user_id"
            found += [(table, uid, ex, bytes(blob)) for uid, ex, blob in conn.execute(query)]
        return found
    finally:
        conn.close()


def _seal_states(db_path: Path) -> dict[str, str]:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return dict(conn.execute("SELECT key_id, state FROM seal_keys").fetchall())
    finally:
        conn.close()


def check_rows(
    db_path: Path, ring: KeyRing, rows: int, pending_rows: int, failures: list[str], when: str
) -> dict[str, Any]:
    """Every row of both tables opens with ``ring`` (no reload) to its own credentials,
    none is lost, none is sealed to a retired key. Returns counts."""
    found = _all_rows(db_path)
    states = _seal_states(db_path)
    by_table: Counter[str] = Counter(t for t, *_ in found)
    seeded_pending = sum(1 for t, uid, *_ in found if t != "credentials" and uid < SEALER_BASE)
    if by_table["credentials"] != rows:
        failures.append(f"{when}: {by_table['credentials']} credential rows, expected {rows}")
    if seeded_pending != pending_rows:
        failures.append(f"{when}: {seeded_pending} seeded pending rows, expected {pending_rows}")
    by_key: Counter[str] = Counter()
    unopened = retired = 0
    for table, uid, exchange_id, blob in found:
        key_id = container_key_id(blob) or "legacy"
        by_key[key_id] += 1
        if states.get(key_id) == "retired":
            retired += 1
            failures.append(f"{when}: {table} user {uid} sealed to retired key {key_id}")
        try:
            if exchange_id != EXCHANGE or ring.open(blob, uid, exchange_id) != _creds(uid, table):
                raise ValueError("opens to other credentials")
        except (NijaError, ValueError) as exc:
            unopened += 1
            failures.append(f"{when}: {table} user {uid}: {type(exc).__name__}: {exc}")
    return {
        "rows": len(found),
        "pending": by_table["pending_credentials"],
        "by_key": dict(by_key),
        "unopened": unopened,
        "sealed_to_retired": retired,
    }


def _phase(key_file: Path, db_path: Path) -> tuple[str, str | None]:
    """Where a killed rotation stopped, and the key it was rotating to."""
    marker = _marker(key_file)
    if not marker.exists():
        return "no rotation pending", None
    new_id = _key_ids(marker)[0]
    file_ids = _key_ids(key_file)
    states = _seal_states(db_path)
    if new_id not in file_ids:
        return "marker written, key file not yet", new_id
    if states.get(new_id) != "current":
        return "key file written, not yet published", new_id
    if "retiring" in states.values():
        return "published, re-sealing", new_id
    if len(file_ids) > 1:
        return "old key retired, key file not yet rewritten", new_id
    return "key file rewritten, marker left", new_id


def _rotate(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "nija_tg", "rotate-key"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def calibrate(data_dir: Path, work: Path) -> float:
    """Seconds one uninterrupted rotation of a copy of the database takes here (with the
    sealer and the opener already running, so under the same load)."""
    copy = work / "calibration"
    copy.mkdir()
    asyncio.run(_backup(data_dir / "nija.sqlite3", copy / "nija.sqlite3"))
    shutil.copy2(data_dir / "engine.key", copy / "engine.key")
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


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _stop_on_sigterm() -> asyncio.Event:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    return stop


# -- the concurrent opener ("trading continues meanwhile") -------------------------------


async def opener_main(db_path: Path, key_file: Path, rows: int, pending_rows: int) -> dict:
    """Open random stored and pending rows with a ring on the key file until SIGTERM,
    syncing the ring with the database as the engine's key intake does."""
    stop = _stop_on_sigterm()
    rng = random.Random()
    ring = KeyRing.from_env_or_file(None, key_file)
    db = await Database.open(db_path, migrate=False)
    intake = KeyIntake(db, ring, verifier=None)  # type: ignore[arg-type]  # keys only
    held: set[str] = set(ring.key_ids)
    tally: Counter[str] = Counter()
    errors: list[str] = []
    sealer_top = SEALER_BASE

    async def sync() -> None:
        nonlocal sealer_top
        while not stop.is_set():
            try:
                await intake.sync_keys()
                tally["syncs"] += 1
                row = await db.fetchone("SELECT MAX(user_id) FROM pending_credentials")
                sealer_top = max(sealer_top, row[0] or 0)
            except Exception as exc:  # reported, never fatal: the reads must go on
                tally["sync_errors"] += 1
                errors.append(f"sync_keys: {type(exc).__name__}: {exc}")
            now = set(ring.key_ids)
            tally["keys_gained"] += len(now - held)
            tally["keys_forgotten"] += len(held - now)
            held.clear()
            held.update(now)
            await _wait(stop, SYNC_INTERVAL)

    syncer = asyncio.create_task(sync())
    print("ready", flush=True)
    try:
        while not stop.is_set():
            pick = rng.random()
            if pick < 0.6:
                table, sql, start = "credentials", "credentials", rng.randint(1, rows)
            elif pick < 0.8 and pending_rows:
                table, sql, start = "pending_credentials", "seeded", rng.randint(1, pending_rows)
            else:
                table, sql = "pending_credentials", "sealer"
                start = rng.randint(SEALER_BASE, max(SEALER_BASE, sealer_top))
            row = await db.fetchone(
                f"SELECT user_id, exchange_id, ciphertext FROM {table} "
                "WHERE user_id >= ? ORDER BY user_id LIMIT 1",
                (start,),
            )
            if row is None or (sql != "sealer" and row[0] != start):
                if sql != "sealer":
                    tally["failures"] += 1
                    errors.append(f"{table} user {start}: row missing")
                await asyncio.sleep(0.001)
                continue
            uid, exchange_id, blob = row[0], row[1], bytes(row[2])
            # no await between the read and the open: as in the engine, a row read is
            # opened at once (a key forgotten meanwhile could not be asked to open it)
            tally["opens"] += 1
            tally[f"opens_{sql}"] += 1
            try:
                if ring.open(blob, uid, exchange_id) != _creds(uid, table):
                    raise ValueError("opens to other credentials")
            except (NijaError, ValueError) as exc:
                tally["failures"] += 1
                errors.append(f"{table} user {uid}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.001)
    finally:
        stop.set()
        await syncer
        await db.close()
    return {**tally, "errors": errors[:20], "keys_held_at_end": len(ring.key_ids)}


# -- the concurrent sealer (the bot's /connect) -------------------------------------------


async def sealer_main(db_path: Path, pool: int) -> dict:
    """Seal and submit credentials for users SEALER_BASE.. until SIGTERM, with the
    current public key read from the database per seal, as the bot does."""
    stop = _stop_on_sigterm()
    db = await Database.open(db_path, migrate=False)
    service = ConnectService(db)
    tally: Counter[str] = Counter()
    by_key: Counter[str] = Counter()
    submitted: set[int] = set()
    errors: list[str] = []

    async def conversation(first: int) -> None:
        rng = random.Random(first)
        uid = SEALER_BASE + first
        while not stop.is_set():
            if uid not in submitted:
                async with db.transaction() as tx:
                    await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)
            try:
                while not stop.is_set():  # refused: seal again and resubmit
                    try:
                        draft = None
                        for name, value in _creds(uid, "pending_credentials").items():
                            draft = await service.seal(uid, EXCHANGE, draft, name, value)
                            await asyncio.sleep(rng.uniform(0, 0.03))  # the user types
                        assert draft is not None
                        await service.submit(uid, draft)
                    except SealKeyRotatedError:
                        tally["refused"] += 1
                        continue
                    tally["submits"] += 1
                    by_key[draft.sealed.key_id] += 1
                    submitted.add(uid)
                    break
            except Exception as exc:
                tally["failures"] += 1
                errors.append(f"user {uid}: {type(exc).__name__}: {exc}")
            await _wait(stop, rng.uniform(0, 0.05))
            uid += SEALER_TASKS
            if uid >= SEALER_BASE + pool:
                uid = SEALER_BASE + first

    print("ready", flush=True)
    try:
        await asyncio.gather(*(conversation(i) for i in range(min(SEALER_TASKS, pool))))
    finally:
        await db.close()
    return {
        **tally,
        "by_key": dict(by_key),
        "users": sorted(submitted),
        "errors": errors[:20],
    }


def _start(role: str, env: dict[str, str], *args: object) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [PYTHON, "-m", "chaos.rotation_kill", f"--{role}", *map(str, args)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the {role} process did not start")
    return proc


def _stop(proc: subprocess.Popen[str], role: str, failures: list[str]) -> dict[str, Any]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        text, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        text, _ = proc.communicate()
    lines = text.strip().splitlines()
    if proc.returncode != 0 or not lines:
        failures.append(f"the {role} process exited {proc.returncode} without a report")
        return {}
    return json.loads(lines[-1])


def run(work: Path, rows: int = 10_000, kills: int = 10, seed_value: int = 6) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(seed_value)
    failures: list[str] = []
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    key_file, db_path = data_dir / "engine.key", data_dir / "nija.sqlite3"
    marker = _marker(key_file)
    write_key_file(key_file, parse_private_keys(generate_private_key(), "new key"))
    original = _key_ids(key_file)[0]
    pending_rows = rows // 10
    asyncio.run(seed(db_path, key_file, rows, pending_rows))
    env = child_env(data_dir)
    pool = max(SEALER_TASKS, rows // 5)
    opener = _start("opener", env, db_path, key_file, rows, pending_rows)
    sealer = _start("sealer", env, db_path, pool)
    attempts: list[dict[str, Any]] = []
    keys_seen = {original}
    prev_target: str | None = None  # the key a killed run was rotating to
    prev_done = 0  # rows under it after that run
    out = b""
    try:
        full_seconds = calibrate(data_dir, work)
        remaining = 1.0  # share of rows the next run still has to re-seal
        for i in range(kills):
            # a random moment within the time this run needs (start-up is ~1/4 of a run)
            delay = rng.uniform(0.05, 1.0) * full_seconds * (0.25 + 0.75 * remaining)
            proc = _rotate(env)
            time.sleep(delay)
            killed = proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
            _o, err = proc.communicate(timeout=RUN_TIMEOUT)
            if not killed and proc.returncode != 0:
                failures.append(
                    f"run {i + 1}: rotate-key exited {proc.returncode}: {err.decode()[-300:]}"
                )
            phase, target = _phase(key_file, db_path) if killed else ("finished", None)
            file_ids = _key_ids(key_file)
            keys_seen.update(file_ids)
            when = f"after kill {i + 1}" if killed else f"after run {i + 1} (not killed)"
            counts = check_rows(
                db_path, KeyRing(read_key_file(key_file)), rows, pending_rows, failures, when
            )
            # a rerun resumes the killed run's rotation, with the marker's key
            if prev_target is not None and (target or file_ids[0]) != prev_target:
                failures.append(f"{when}: the run did not resume with the marker's key")
            done = counts["by_key"].get(target, 0) if target else 0
            # rows this run moved to the new key (and the sealer sealed to it meanwhile)
            gained = done - (prev_done if target == prev_target else 0)
            prev_target, prev_done = target, done
            remaining = 1.0 - done / counts["rows"] if target else 1.0
            attempts.append(
                {
                    "delay_s": round(delay, 2),
                    "killed": killed,
                    "phase": phase,
                    "keys_in_file": len(file_ids),
                    "rotation_pending": marker.exists(),
                    "rows": counts["rows"],
                    "new_key": target,
                    "rows_under_new_key": done,
                    "new_key_rows_gained": gained,
                    "unopened": counts["unopened"],
                    "sealed_to_retired": counts["sealed_to_retired"],
                }
            )
        proc = _rotate(env)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        if proc.returncode != 0:
            failures.append(f"final rotate-key exited {proc.returncode}: {err.decode()[-300:]}")
    finally:
        sealer_report = _stop(sealer, "sealer", failures)
        opener_report = _stop(opener, "opener", failures)
    # -- after the final run --
    file_ids = _key_ids(key_file)
    final_key = file_ids[0]
    if len(file_ids) != 1 or final_key == original:
        failures.append(f"key file after the final run holds {len(file_ids)} key(s)")
    if prev_target is not None and final_key != prev_target:
        failures.append("the final run did not resume with the marker's key")
    keys_seen.add(final_key)
    if marker.exists():
        failures.append("the marker file is left after the final run")
    final = check_rows(
        db_path, KeyRing(read_key_file(key_file)[:1]), rows, pending_rows, failures, "at the end"
    )
    if set(final["by_key"]) != {final_key}:
        failures.append(f"rows under other keys after the final run: {final['by_key']}")
    states = _seal_states(db_path)
    current = [kid for kid, s in states.items() if s == "current"]
    if current != [final_key]:
        failures.append(f"seal_keys current {current}, key file {final_key}")
    not_retired = {kid: s for kid, s in states.items() if kid != final_key and s != "retired"}
    if not_retired or states.get(original) != "retired":
        failures.append(f"old keys not retired: {not_retired or {original: states.get(original)}}")
    if set(states) - keys_seen:
        failures.append(f"seal_keys holds keys never in the key file: {set(states) - keys_seen}")
    # -- the two concurrent processes --
    if opener_report.get("failures"):
        failures.append(
            f"opener: {opener_report['failures']} failed opens: {opener_report['errors'][:3]}"
        )
    elif opener_report and not opener_report.get("opens"):
        failures.append("the opener opened no row")
    if opener_report.get("sync_errors"):
        failures.append(f"opener: {opener_report['sync_errors']} sync_keys errors")
    if sealer_report.get("failures"):
        failures.append(
            f"sealer: {sealer_report['failures']} failures: {sealer_report['errors'][:3]}"
        )
    elif sealer_report and not sealer_report.get("submits"):
        failures.append("the sealer submitted nothing")
    sealer_rows = {uid for t, uid, *_ in _all_rows(db_path) if uid >= SEALER_BASE}
    sealer_users = set(sealer_report.get("users", []))
    if sealer_users - sealer_rows:
        failures.append(f"{len(sealer_users - sealer_rows)} sealer users without a pending row")
    published = len(states)
    return result(
        "rotation_kill",
        failures,
        started,
        rows=rows,
        pending_rows=pending_rows,
        kills=kills,
        killed=sum(a["killed"] for a in attempts),
        kill_phases=dict(Counter(a["phase"] for a in attempts)),
        full_rotation_s=round(full_seconds, 2),
        rotations_completed=published - 1,
        attempts=attempts,
        final_output=out.decode().strip(),
        final_rows=final["rows"],
        final_pending=final["pending"],
        unopenable_after_kills=sum(a["unopened"] for a in attempts),
        # the name run_all.py's figures table reads
        undecryptable_after_kills=sum(a["unopened"] for a in attempts),
        sealed_to_retired=final["sealed_to_retired"]
        + sum(a["sealed_to_retired"] for a in attempts),
        rows_lost=sum("rows, expected" in f for f in failures),
        reader_reads=opener_report.get("opens", 0),
        reader_failures=opener_report.get("failures", 0 if opener_report else None),
        opener=opener_report,
        sealer_submits=sealer_report.get("submits", 0),
        sealer_refused=sealer_report.get("refused", 0),
        sealer_failures=sealer_report.get("failures", 0 if sealer_report else None),
        sealer_by_key=sealer_report.get("by_key"),
        sealer_users=len(sealer_users),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--opener":
        db_path, key_file, rows, pending_rows = argv[1:5]
        report = opener_main(Path(db_path), Path(key_file), int(rows), int(pending_rows))
        print(json.dumps(asyncio.run(report)))
        return 0
    if argv and argv[0] == "--sealer":
        db_path, pool = argv[1:3]
        print(json.dumps(asyncio.run(sealer_main(Path(db_path), int(pool)))))
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
