"""Every word of /health, the admins' health alerts and the dashboards' stale-data
warning. Reads ``core.health.HealthReport`` (pure) and the alert changes the health
service finds."""

from __future__ import annotations

from nija_tg.core.health import HealthReport, age
from nija_tg.messages.report_data import HealthChange
from nija_tg.messages.text import esc, when

STALE_DATA_S = 120.0  # dashboards warn when the engine's data is older than this


def health(report: HealthReport) -> str:
    lines = ["<b>Health</b>", ""]
    if report.ok:
        lines.append("✅ All good.")
    else:
        lines += [f"⚠️ {esc(p.text)}" for p in report.problems]
    lines.append("")
    engine = report.engine
    if engine is None:
        lines.append("<b>Engine</b>: never reported")
    else:
        d = engine.data
        lines.append(
            f"<b>Engine</b> {esc(str(d.get('version', '?')))}, pid {esc(d.get('pid', '?'))}: "
            f"last beat {age(report.now - engine.beat_at)} ago, up since "
            f"{when(d.get('started_at'))}"
        )
        lines.append(
            f"Loops: {esc(d.get('loops', 0))} · notification backlog: {esc(d.get('backlog', 0))}"
        )
    if report.markets:
        lines += ["", "<b>Markets</b> (last candle close processed)"]
        for name, beat in sorted(report.markets.items()):
            last = beat.data.get("last_close", -1)
            seen = (
                "none yet" if last is None or last < 0 else f"{age(report.now - last / 1000)} ago"
            )
            count = esc(beat.data.get("markets", 0))
            lines.append(f"• {esc(name)}: {count} market(s), {seen}")
    if report.venues:
        lines += ["", "<b>Venues</b>"]
        for name, beat in sorted(report.venues.items()):
            d = beat.data
            state = "✅" if d.get("failing_since") is None else "⚠️ failing"
            lines.append(
                f"• {esc(name)} {state}: last answer {_ago(report.now, d.get('last_ok'))}, "
                f"last private call {_ago(report.now, d.get('last_private_ok'))}, "
                f"{esc(d.get('failures', 0))}/{esc(d.get('calls', 0))} calls failed"
            )
    return "\n".join(lines)


def _ago(now: float, ts: float | None) -> str:
    return "never" if ts is None else f"{age(now - ts)} ago"


def alert(change: HealthChange) -> str:
    """One admin alert: a problem appeared, or it is over."""
    if change.cleared:
        return f"✅ Recovered: {esc(change.text)}"
    return f"⚠️ Engine health: {esc(change.text)}. /health for details."


def stale_data_warning(report: HealthReport) -> str | None:
    """A line for dashboards when the figures may be old (the engine is not running or
    late), else None."""
    data_age = report.data_age_s
    if data_age is None:
        return None
    if data_age > STALE_DATA_S:
        return f"⚠️ The engine last reported {age(data_age)} ago: these figures may be old."
    late = [p for p in report.problems if p.key.startswith("market:")]
    if late:
        return f"⚠️ {esc(late[0].text)}: these figures may be old."
    return None
