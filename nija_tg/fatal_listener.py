"""A supervisord event listener: every admin is told over the Bot API at once when a
program ends in FATAL (it failed to start and supervisord gave up) or keeps crashing
(``CRASHES`` unexpected exits within ``CRASH_WINDOW_S``: a program that dies after its
``startsecs`` is restarted forever and never becomes FATAL), and again if it still
crashes ``REALERT_S`` later.

supervisord's listener protocol: write ``READY``, read one header line and a payload of
the length it names, act, answer ``RESULT 2\\nOK``, repeat. Only stdout carries the
protocol; everything else goes to stderr (supervisord's log for the listener). A failed
send is logged and the event acknowledged: the listener never blocks supervisord.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

from nija_tg.config import Settings
from nija_tg.messages.operator_alerts import crash_text, fatal_text
from nija_tg.redaction import redact
from nija_tg.storage import users
from nija_tg.storage.db import Database

log = logging.getLogger("nija_tg.fatal_listener")

CRASHES = 3
CRASH_WINDOW_S = 600.0
REALERT_S = 1800.0


def parse_fields(text: str) -> dict[str, str]:
    """``key:value`` pairs separated by spaces (header and payload alike)."""
    return dict(part.split(":", 1) for part in text.split() if ":" in part)


class CrashWatch:
    """Unexpected exits per program; says when one makes a crash loop worth an alert
    (at most once per ``REALERT_S`` per program)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.exits: dict[str, deque[float]] = {}
        self.alerted: dict[str, float] = {}

    def exited(self, program: str) -> int | None:
        """Record an unexpected exit; the number of recent exits when to alert now."""
        now = self.clock()
        recent = self.exits.setdefault(program, deque())
        recent.append(now)
        while recent and recent[0] < now - CRASH_WINDOW_S:
            recent.popleft()
        last = self.alerted.get(program)
        if len(recent) < CRASHES or (last is not None and now - last < REALERT_S):
            return None
        self.alerted[program] = now
        return len(recent)


def alert_for(header: dict[str, str], event: dict[str, str], watch: CrashWatch, host: str):
    """The text to send for one event, or None."""
    program = event.get("processname", "?")
    if header.get("eventname") == "PROCESS_STATE_FATAL":
        return fatal_text(program, event.get("from_state", "?"), host)
    if header.get("eventname") == "PROCESS_STATE_EXITED" and event.get("expected") == "0":
        crashes = watch.exited(program)
        if crashes is not None:
            return crash_text(program, crashes, CRASH_WINDOW_S, host)
    return None


async def recipients(settings: Settings) -> list[int]:
    ids = set(settings.admin_ids)
    try:
        db = await Database.open(settings.db_path, migrate=False)
    except Exception as exc:  # the database may be what failed: the config's admins
        log.warning("admins from the database not read: %s", redact(str(exc)))
        return sorted(ids)
    try:
        ids.update(await users.admin_user_ids(db))
    except Exception as exc:
        log.warning("admins from the database not read: %s", redact(str(exc)))
    finally:
        await db.close()
    return sorted(ids)


async def tell_admins(settings: Settings, text: str) -> int:
    """Send ``text`` to every admin; the number reached."""
    from telegram import Bot
    from telegram.error import TelegramError

    token = settings.require_token()
    reached = 0
    async with Bot(token, base_url=f"{settings.telegram_api_base_url}/bot") as bot:
        for chat_id in await recipients(settings):
            try:
                await bot.send_message(chat_id, text)
                reached += 1
            except TelegramError as exc:
                log.warning("alert to admin %s not sent: %s", chat_id, redact(str(exc)))
    return reached


def serve(settings: Settings, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    host = socket.gethostname()
    watch = CrashWatch()
    while True:
        stdout.write("READY\n")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return 0  # supervisord went away
        header = parse_fields(line)
        event = parse_fields(stdin.read(int(header.get("len", "0"))))
        text = alert_for(header, event, watch, host)
        if text is not None:
            program = event.get("processname", "?")
            try:
                reached = asyncio.run(tell_admins(settings, text))
                log.warning("%s alert: %d admin(s) told", program, reached)
            except Exception as exc:
                log.error("%s alert: admins not told: %s", program, redact(str(exc)))
        stdout.write("RESULT 2\nOK")
        stdout.flush()
