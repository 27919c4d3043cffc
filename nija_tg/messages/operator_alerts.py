"""What the supervisord listener (``nija_tg.fatal_listener``) tells every admin when a
program ends in FATAL or keeps crashing: plain text (sent without a parse mode)."""

from __future__ import annotations

WHAT_STOPS = {
    "engine": (
        "Trading has stopped for every user: no entries, no exits, no engine-side stop "
        "checks (stops resting on the exchanges still work)."
    ),
    "bot": "The bot no longer answers users; the engine keeps trading and protecting.",
}


def fatal_text(program: str, from_state: str, host: str) -> str:
    return (
        f"⚠️ nija_tg on {host}: the {program} program is FATAL (it failed to start, last "
        f"state {from_state}; supervisord gave up restarting it). "
        f"{WHAT_STOPS.get(program, '')} Look at logs/{program}.log, then: "
        f"scripts/ctl.sh start {program}"
    )


def crash_text(program: str, crashes: int, window_s: float, host: str) -> str:
    return (
        f"⚠️ nija_tg on {host}: the {program} program keeps crashing ({crashes} unexpected "
        f"exits in {window_s / 60:.0f} minutes; supervisord keeps restarting it). "
        f"{WHAT_STOPS.get(program, '')} Look at logs/{program}.log."
    )
