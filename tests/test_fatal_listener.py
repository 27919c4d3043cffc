"""The supervisord event listener's protocol and alert rules (the delivery through a real
supervisord and the fake Bot API is in test_supervisord.py)."""

from __future__ import annotations

import io

from nija_tg.config import load_settings
from nija_tg.fatal_listener import (
    CRASH_WINDOW_S,
    REALERT_S,
    CrashWatch,
    alert_for,
    parse_fields,
    serve,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def exited(program: str, expected: str = "0"):
    header = {"eventname": "PROCESS_STATE_EXITED"}
    return header, {"processname": program, "expected": expected, "from_state": "RUNNING"}


def test_fatal_is_told_at_once():
    header = {"eventname": "PROCESS_STATE_FATAL"}
    text = alert_for(header, {"processname": "engine", "from_state": "BACKOFF"}, CrashWatch(), "h1")
    assert text is not None and "engine program is FATAL" in text and "on h1" in text
    assert "scripts/ctl.sh start engine" in text


def test_a_crash_loop_is_told_once_per_realert_period():
    clock = Clock()
    watch = CrashWatch(clock)
    texts = []
    for _ in range(6):
        clock.now += 20
        texts.append(alert_for(*exited("engine"), watch, "h"))
    assert [t is not None for t in texts] == [False, False, True, False, False, False]
    clock.now += REALERT_S
    for _ in range(3):
        clock.now += 20
        texts.append(alert_for(*exited("engine"), watch, "h"))
    assert sum(t is not None for t in texts) == 2


def test_expected_exits_and_slow_crashes_are_not_a_loop():
    clock = Clock()
    watch = CrashWatch(clock)
    assert all(alert_for(*exited("bot", expected="1"), watch, "h") is None for _ in range(5))
    for _ in range(5):
        clock.now += CRASH_WINDOW_S / 2 + 1  # never three within the window
        assert alert_for(*exited("engine"), watch, "h") is None


def test_protocol_acknowledges_every_event_and_ignores_others(tmp_path):
    payload = "processname:bot groupname:bot from_state:STARTING"
    header = (
        f"ver:3.0 server:supervisor serial:1 eventname:PROCESS_STATE_RUNNING len:{len(payload)}\n"
    )
    stdin = io.StringIO(header + payload)
    stdout = io.StringIO()
    settings = load_settings({"NIJA_DATA_DIR": str(tmp_path)}, dotenv=None)
    assert serve(settings, stdin, stdout) == 0
    assert stdout.getvalue() == "READY\nRESULT 2\nOKREADY\n"
    assert parse_fields(header)["len"] == str(len(payload))
