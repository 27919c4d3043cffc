"""Item 10: supervisord stopped with SIGTERM while the engine works; then a crash loop.

The real supervisord.conf (copied byte for byte into a temporary deploy directory, as
tests/test_supervisord.py does) runs the bot and the engine against a fake Bot API
(``python -m tests.fakes.telegram_api``) and a Kraken emulator (tests/fakes/kraken.py,
served by this module's ``--kraken`` mode) for paper market data. Before each start the
database gets what a crash leaves behind: ``--users`` paper users with trading on, one
``intent`` and one ``submitted`` order each, and pending outbox rows.

Each cycle: start supervisord, wait until both programs run, SIGTERM supervisord at a
random moment while the engine starts its loops, reconciles and delivers. Checked: both
programs stop with exit status 0 before their ``stopwaitsecs`` (supervisord.log), no
process survives (pgrep), and at the next start every intent/submitted order is
resolved and no outbox row is lost (pending or sent, never dropped or gone). A final
start settles and checks the same, and counts how often each outbox row reached the fake
Bot API (lost: 0 deliveries, duplicated: more than one).

Crash loop: a copy of the conf whose engine command is ``python -c 'import sys;
sys.exit(3)'`` (the only change); ``supervisorctl status`` must show the engine FATAL
after ``startretries`` while the bot keeps running.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.common import PYTHON, REPO, VENV_BIN, base_parser, child_env, emit, result, wait_for

TOKEN = "123456789:CHAOStokenCHAOStokenCHAOStokenCHA12"
STOPWAIT = {"bot": 30, "engine": 45}  # as in supervisord.conf
FIVE_MIN = 300_000
CRASH_COMMAND = "command=%(ENV_NIJA_PYTHON)s -c 'import sys; sys.exit(3)'"


# -- the Kraken emulator as a process ------------------------------------------------------


async def kraken_main(port_file: Path) -> None:
    from tests.fakes.kraken import KrakenEmulator

    emulator = KrakenEmulator()
    # Live-like market data: the recorded candles moved so that half of them lie in the
    # past and the rest close one by one, every 5 minutes, as wall-clock time advances.
    now_slot = int(time.time() * 1000) // FIVE_MIN * FIVE_MIN
    for symbol, rows in emulator.candles.items():
        shift = now_slot - int(rows[len(rows) // 2][0]) // FIVE_MIN * FIVE_MIN
        emulator.candles[symbol] = [[r[0] + shift, *r[1:]] for r in rows]
    url = await emulator.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tmp = port_file.with_name(port_file.name + ".tmp")
    tmp.write_text(url)  # noqa: ASYNC240 - once, before serving
    tmp.replace(port_file)  # noqa: ASYNC240
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def _server(args: list[str], port_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [PYTHON, "-m", *args], cwd=REPO, env=child_env(port_file.parent), start_new_session=True
    )
    text = wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 30, args[0])
    return proc, text if text.startswith("http") else f"http://127.0.0.1:{text}"


def _http(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


# -- the database, before and after ----------------------------------------------------------


def _sql(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def seed_users(db_path: Path, n: int) -> None:
    now = time.time()
    conn = _sql(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for uid in range(1, n + 1):
            conn.execute(
                "INSERT INTO users(user_id, chat_id, first_name, role, trading_on, mode, "
                "created_at, last_seen_at) VALUES (?, ?, 'Chaos', 'trader', 1, 'paper', ?, ?)",
                (uid, 7000 + uid, now, now),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def seed_leftovers(db_path: Path, n: int, cycle: int) -> list[str]:
    """What a crash leaves: an intent and a submitted order per user, pending outbox rows.
    Returns the outbox texts."""
    now = time.time()
    texts = []
    conn = _sql(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for uid in range(1, n + 1):
            for status in ("intent", "submitted"):
                conn.execute(
                    "INSERT INTO orders(user_id, client_order_id, exchange_id, mode, symbol, "
                    "side, type, amount, purpose, status, created_at, updated_at) VALUES "
                    "(?, ?, 'kraken', 'paper', 'BTC/USD', 'buy', 'market', '0.001', 'entry', "
                    "?, ?, ?)",
                    (uid, f"chaos-{cycle}-{uid}-{status}", status, now - 120, now - 120),
                )
            for k in range(2):
                text = f"chaos note {cycle}-{uid}-{k}"
                texts.append(text)
                conn.execute(
                    "INSERT INTO outbox(user_id, chat_id, kind, text, created_at) "
                    "VALUES (?, ?, 'info', ?, ?)",
                    (uid, 7000 + uid, text, now),
                )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return texts


def unresolved_orders(db_path: Path) -> int:
    conn = _sql(db_path)
    try:
        row = conn.execute("SELECT COUNT(*) FROM orders WHERE status IN ('intent', 'submitted')")
        return row.fetchone()[0]
    finally:
        conn.close()


def outbox_state(db_path: Path, texts: list[str]) -> dict[str, int]:
    """How our outbox rows stand: pending, sent, dropped, missing."""
    conn = _sql(db_path)
    try:
        found = dict(conn.execute("SELECT text, status FROM outbox WHERE text LIKE 'chaos note %'"))
    finally:
        conn.close()
    out = {"pending": 0, "sent": 0, "dropped": 0, "missing": 0}
    for text in texts:
        out[found.get(text, "missing")] = out.get(found.get(text, "missing"), 0) + 1
    return out


def running_sessions(db_path: Path, since: float) -> int:
    conn = _sql(db_path)
    try:
        row = conn.execute(
            "SELECT COUNT(DISTINCT user_id) FROM trading_sessions WHERE started_at >= ?", (since,)
        )
        return row.fetchone()[0]
    finally:
        conn.close()


# -- supervisord -----------------------------------------------------------------------------


def status(conf: Path, env: dict[str, str]) -> dict[str, str]:
    """State of the bot and engine programs (the ``fatal_alert`` event listener that
    supervisord.conf also runs is left out: the checks are about the two programs)."""
    out = subprocess.run(
        [str(VENV_BIN / "supervisorctl"), "-c", str(conf), "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=conf.parent,
        timeout=30,
    ).stdout
    rows = (line.split() for line in out.splitlines())
    return {p[0]: p[1] for p in rows if len(p) >= 2 and p[0] in ("bot", "engine")}


def start(conf: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(VENV_BIN / "supervisord"), "-n", "-c", str(conf)],
        env=env,
        cwd=conf.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ (.*)$")


def log_events(log: Path, since: float) -> list[tuple[float, str]]:
    """(epoch seconds, message) of supervisord.log lines written at or after ``since``."""
    events = []
    for line in log.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if m:
            ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if ts >= since - 1:
                events.append((ts, m.group(2)))
    return events


def stop_and_measure(
    proc: subprocess.Popen[bytes], log: Path, data_dir: Path, failures: list[str], what: str
) -> dict[str, float]:
    """SIGTERM supervisord; how long each program took to stop, from supervisord.log."""
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=max(STOPWAIT.values()) + 30)
    except subprocess.TimeoutExpired:
        failures.append(f"{what}: supervisord still running 75 s after SIGTERM")
        proc.kill()
        code = proc.wait()
    if code != 0:
        failures.append(f"{what}: supervisord exited {code}")
    took: dict[str, float] = {}
    for ts, msg in log_events(log, sent):
        for name in STOPWAIT:
            if msg.startswith((f"stopped: {name} ", f"exited: {name} ")):
                took[name] = round(ts - sent, 2)
                if "exit status 0" not in msg:
                    failures.append(f"{what}: {msg}")
            if msg.startswith(f"killed: {name}") or f"{name} (terminated by SIGKILL" in msg:
                failures.append(f"{what}: {msg}")
    for name, limit in STOPWAIT.items():
        if name not in took:
            failures.append(f"{what}: no stop line for {name} in supervisord.log")
        elif took[name] >= limit:
            failures.append(f"{what}: {name} took {took[name]} s (stopwaitsecs {limit})")
    leftovers = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True)
    if leftovers.stdout.strip():
        failures.append(f"{what}: processes left: {leftovers.stdout.split()}")
    return took


def crash_loop(root: Path, env: dict[str, str], failures: list[str]) -> dict[str, Any]:
    """The engine exits 3 at once: FATAL after startretries; the bot keeps running."""
    conf = root / "supervisord-crash.conf"
    text = (root / "supervisord.conf").read_text()
    section = text.index("[program:engine]")
    line = re.compile(r"^command=.*$", re.M)
    conf.write_text(text[:section] + line.sub(CRASH_COMMAND, text[section:], count=1))
    started, since = time.monotonic(), time.time()
    proc = start(conf, env)
    seen: dict[str, str] = {}
    try:
        seen = wait_for(
            lambda: (s := status(conf, env)).get("engine") == "FATAL" and s, 120, "engine FATAL"
        )
    except AssertionError as exc:
        failures.append(f"crash loop: {exc}")
    seconds = round(time.monotonic() - started, 1)
    log = root / "data" / "logs" / "supervisord.log"
    stop_and_measure(proc, log, root / "data", [], "crash loop")
    spawns = sum("spawned: 'engine'" in msg for _, msg in log_events(log, since))
    if seen and seen.get("bot") != "RUNNING":
        failures.append(f"crash loop: bot was {seen.get('bot')} while the engine was FATAL")
    return {"engine_state": seen.get("engine"), "seconds_to_fatal": seconds, "spawns": spawns}


# -- the run -----------------------------------------------------------------------------------


def settle(
    db_path: Path, since: float, users: int, texts: list[str], failures: list[str], what: str
) -> None:
    """Every loop started (so reconciled its orders) and every outbox row sent."""
    try:
        wait_for(lambda: running_sessions(db_path, since) >= users, 120, "all loops started")
        wait_for(lambda: unresolved_orders(db_path) == 0, 120, "orders reconciled")
        wait_for(lambda: outbox_state(db_path, texts)["sent"] == len(texts), 120, "outbox sent")
    except AssertionError as exc:
        failures.append(f"{what}: {exc}")


def wait_next_candle(rng: random.Random) -> float:
    """Sleep until 3-8 s after the next 5-minute boundary (the hub fetches the closed
    candle, the loops evaluate it and send orders); returns the boundary (epoch s)."""
    at = (time.time() * 1000 // FIVE_MIN + 1) * FIVE_MIN / 1000
    time.sleep(max(0.0, at - time.time()) + rng.uniform(3.0, 8.0))
    return at


def engine_work(db_path: Path, since: float) -> dict[str, int]:
    """What the engine did from ``since`` to the stop: orders made, fills, snapshots."""
    conn = _sql(db_path)
    try:
        ours = "FROM orders WHERE created_at >= ? AND client_order_id NOT LIKE 'chaos-%'"
        q = [
            f"SELECT COUNT(*) {ours}",
            f"SELECT COUNT(*) {ours} AND status IN ('intent', 'submitted')",
            "SELECT COUNT(*) FROM fills WHERE ts >= ?",
            "SELECT COUNT(*) FROM snapshots WHERE updated_at >= ?",
        ]
        values = [conn.execute(sql, (since,)).fetchone()[0] for sql in q]
    finally:
        conn.close()
    return dict(zip(("orders", "left_unresolved", "fills", "snapshots"), values, strict=True))


def _deliveries(api: str, texts: list[str]) -> dict[str, int]:
    sent = _http(f"{api}/_control/requests?method=sendMessage")["result"]
    bodies = [str(r.get("params", {}).get("text", "")) for r in sent]
    counts = {}
    for text in texts:
        pattern = re.compile(re.escape(text) + r"(?!\d)")
        counts[text] = sum(len(pattern.findall(b)) for b in bodies)
    return counts


def run(
    work: Path,
    users: int = 6,
    cycles: int = 3,
    crash: bool = True,
    seed: int = 6,
    boundary: bool = False,
) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(seed)
    failures: list[str] = []
    root, servers = work / "deploy", work / "servers"
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    servers.mkdir()
    conf = root / "supervisord.conf"
    shutil.copy(REPO / "supervisord.conf", conf)  # the real file, byte for byte
    procs = []
    try:
        api_proc, api = _server(
            ["tests.fakes.telegram_api", "--port", "0", "--token", TOKEN]
            + ["--port-file", str(servers / "api.port")],
            servers / "api.port",
        )
        procs.append(api_proc)
        kraken_proc, kraken = _server(
            ["chaos.supervisord_stop", "--kraken", str(servers / "kraken.url")],
            servers / "kraken.url",
        )
        procs.append(kraken_proc)
        env = child_env(
            data_dir,
            NIJA_PYTHON=PYTHON,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=api,
            NIJA_EXCHANGE_URLS=json.dumps({"kraken": kraken}),
        )
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
        subprocess.run(
            [PYTHON, "-m", "nija_tg", "init"], env=env, cwd=root, check=True, capture_output=True
        )
        db_path = data_dir / "nija.sqlite3"
        seed_users(db_path, users)
        texts: list[str] = []
        log = data_dir / "logs" / "supervisord.log"
        stops = []
        boundary_at: float | None = None
        boundary_work: dict[str, int] | None = None
        for cycle in range(cycles + 1):
            texts += seed_leftovers(db_path, users, cycle)
            t0 = time.time()
            proc = start(conf, env)
            what = f"cycle {cycle + 1}"
            wait_for(
                lambda: status(conf, env) == {"bot": "RUNNING", "engine": "RUNNING"},
                90,
                f"{what}: both programs RUNNING",
            )
            if cycle == cycles:  # the last start settles
                settle(db_path, t0, users, texts, failures, what)
            elif boundary and cycle == cycles - 1:  # stop while the loops act on a candle
                boundary_at = wait_next_candle(rng)
            else:  # stop in the middle of start-up, reconciliation and delivery
                time.sleep(rng.uniform(0.0, 6.0))
            unresolved = unresolved_orders(db_path)
            took = stop_and_measure(proc, log, data_dir, failures, what)
            state = outbox_state(db_path, texts)
            if state["dropped"] or state["missing"]:
                failures.append(f"{what}: outbox rows lost: {state}")
            stops.append({"cycle": cycle + 1, "stop_s": took, "unresolved": unresolved, **state})
            if boundary_at is not None and boundary_work is None:
                boundary_work = engine_work(db_path, boundary_at)
        if stops[-1]["unresolved"]:
            failures.append(f"{stops[-1]['unresolved']} orders still intent/submitted after settle")
        delivered = _deliveries(api, texts)
        lost = sum(1 for n in delivered.values() if n == 0)
        duplicated = sum(1 for n in delivered.values() if n > 1)
        if lost or duplicated:
            failures.append(f"deliveries: {lost} never delivered, {duplicated} more than once")
        crash_res = crash_loop(root, env, failures) if crash else None
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)
    engine_stops = [s["stop_s"].get("engine", 0.0) for s in stops]
    return result(
        "supervisord_stop",
        failures,
        started,
        users=users,
        cycles=len(stops),
        stops=stops,
        max_engine_stop_s=max(engine_stops),
        max_bot_stop_s=max(s["stop_s"].get("bot", 0.0) for s in stops),
        outbox_rows=len(texts),
        outbox_lost=lost,
        outbox_duplicated=duplicated,
        unresolved_after_settle=stops[-1]["unresolved"],
        crash_loop=crash_res,
        candle_stop=boundary_work,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--kraken":
        asyncio.run(kraken_main(Path(argv[1])))
        return 0
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--cycles", type=int, default=3, help="SIGTERMs before the final start")
    parser.add_argument("--no-crash-loop", action="store_true")
    parser.add_argument(
        "--candle-stop",
        action="store_true",
        help="one SIGTERM 3-8 s after a 5-minute candle close (waits up to 5 minutes)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chaos-supervisord-") as tmp:
        work = args.work_dir or Path(tmp)
        res = run(
            work, args.users, args.cycles, not args.no_crash_loop, args.seed, args.candle_stop
        )
    return emit(res, args.out)


if __name__ == "__main__":
    sys.exit(main())
