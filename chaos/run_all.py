"""Run every chaos script (``make chaos``), collect their JSON results and write the
figures table into docs/reliability.md between the markers.

Each script runs in its own process with the full parameters (about 10 minutes in all on
2 CPUs); ``--quick`` uses the tiny parameters of the smoke tests instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.common import PYTHON, REPO, machine

DOC = REPO / "docs" / "reliability.md"
BEGIN, END = "<!-- chaos-figures:begin -->", "<!-- chaos-figures:end -->"

FULL: dict[str, list[str]] = {
    "rotation_kill": ["--rows", "10000", "--kills", "10"],
    "sqlite_two_process": ["--seconds", "180"],
    "supervisord_stop": ["--users", "6", "--cycles", "3", "--candle-stop"],
    "engine_kill": ["--kills", "50"],
    "supervisord_inflight": ["--users", "6", "--positions", "3"],  # not in QUICK: ~4-8 min
    "manual_interventions": ["--interventions", "100", "--kraken-users", "3"],
}
QUICK: dict[str, list[str]] = {
    "rotation_kill": ["--rows", "300", "--kills", "2"],
    "sqlite_two_process": ["--seconds", "5"],
    "supervisord_stop": ["--users", "2", "--cycles", "1", "--no-crash-loop"],
    "engine_kill": ["--kills", "2"],
    "manual_interventions": ["--interventions", "16", "--kraken-users", "2"],
}
TIMEOUT = 900


def run_script(name: str, args: list[str], out_dir: Path) -> dict[str, Any]:
    out = out_dir / f"{name}.json"
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [PYTHON, "-m", f"chaos.{name}", *args, "--out", str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        stderr = proc.stderr
    except subprocess.TimeoutExpired:
        stderr = f"timed out after {TIMEOUT} s"
    if out.exists():
        return json.loads(out.read_text())
    return {
        "name": name,
        "ok": False,
        "failures": [f"no result: {stderr[-800:]}"],
        "failure_count": 1,
        "seconds": round(time.monotonic() - started, 1),
    }


def _row(res: dict[str, Any]) -> str:
    """One line of the figures table."""
    name, ok = res["name"], "pass" if res["ok"] else f"FAIL ({res['failure_count']})"
    if name == "rotation_kill" and "rows" in res:
        figures = (
            f"{res['rows']:,} rows, {res['killed']} of {res['kills']} runs killed by SIGKILL "
            f"(one full rotation {res['full_rotation_s']} s); rows undecryptable after a kill: "
            f"{res['undecryptable_after_kills']}; reader: {res['reader_reads']:,} decrypts, "
            f"{res['reader_failures']} failures"
        )
        lost = f"{res['rows_lost']} rows lost, {res['undecryptable_after_kills']} unreadable"
    elif name == "sqlite_two_process" and "commits" in res:
        figures = (
            f"{res['seconds_writing']:.0f} s, {res['commits']:,} logged commits "
            f"(bot {res['commits_by_role'].get('bot', 0):,}, engine "
            f"{res['commits_by_role'].get('engine', 0):,}); locked errors {res['locked_errors']};"
            f" integrity {res['integrity']}; max -wal {res['wal_max_mb']} MiB (db "
            f"{res['db_mb']} MiB); backup of {res['backup_mb']} MiB in {res['backup_seconds']} s"
            f" holds {res['commits_before_backup']:,} pre-backup commits, integrity "
            f"{res['backup_integrity']}"
        )
        lost = (
            f"{res['lost']} lost, {res['duplicates']} duplicated, "
            f"{res['lost_in_backup']} missing from the backup"
        )
    elif name == "supervisord_stop" and "stops" in res:
        crash = res.get("crash_loop") or {}
        candle = res.get("candle_stop")
        figures = (
            f"{res['users']} paper users, {res['cycles']} starts; slowest stop after SIGTERM: "
            f"engine {res['max_engine_stop_s']} s (limit 45), bot {res['max_bot_stop_s']} s "
            f"(limit 30); unresolved orders after settle {res['unresolved_after_settle']}"
        )
        if candle is not None:
            figures += (
                f"; stop 3-8 s after a candle close: {candle['orders']} orders placed, "
                f"{candle['left_unresolved']} left intent/submitted, {candle['snapshots']} "
                "snapshots written in that window"
            )
        if crash:
            figures += (
                f"; crash loop: engine {crash.get('engine_state')} after {crash.get('spawns')} "
                f"spawns in {crash.get('seconds_to_fatal')} s"
            )
        lost = (
            f"outbox: {res['outbox_lost']} of {res['outbox_rows']} lost, "
            f"{res['outbox_duplicated']} duplicated"
        )
    elif name == "engine_kill" and "kills" in res:
        figures = (
            f"{res['users']} LIVE users, {res['kills']} SIGKILLs ({res['startup_kills']} in "
            f"start-up, {res['kills_mid_order']} with an order in flight), {res['checks']} "
            f"checks, {res['candles']} candles, {res['orders']} orders / {res['fills']} fills"
        )
        lost = (
            f"{res['duplicate_orders']} duplicate, {res['unknown_to_db']} unknown to the DB, "
            f"{res['mismatched']} mismatched, {res['unnotified_fills']} unnotified, "
            f"{res['extra_notifications']} extra notifications, "
            f"{res.get('sells_beyond_position', 'n/a')} sells beyond our positions "
            f"(of {res.get('bot_sells_audited', 'n/a')} sells)"
        )
    elif name == "supervisord_inflight" and "inflight_at_sigterm" in res:
        stop, log = res["stop_s"], res["engine_log_after_sigterm"]
        figures = (
            f"{res['users']} LIVE users, AddOrder slowed to {res['addorder_latency_s']} s; "
            f"SIGTERM {res['sigterm_after_boundary_s']} s after a candle close with "
            f"{res['inflight_at_sigterm']} AddOrder in flight ({res['inflight_fate']}); "
            f"stop: engine {stop.get('engine')} s (limit 45), bot {stop.get('bot')} s (limit "
            f"30); orders begun after the SIGTERM {res['orders_begun_after_sigterm']} (reached "
            f"the exchange {res['begun_after_sigterm_reached_exchange']}), sessions not closed "
            f"{log['session_not_closed']}; left intent/submitted by the stop "
            f"{len(res['left_by_stop'])}, after the restart {res['unresolved_after_restart']} "
            f"(reconciled in {res['restart_reconciled_s']} s)"
        )
        lost = (
            f"{res['final_duplicates']} duplicate, {res['final_unknown']} unknown to the DB, "
            f"{res['final_mismatched']} mismatched, {res['final_unnotified']} unnotified, "
            f"{res['final_extra_notifications']} extra notifications "
            f"({res['final_orders']} orders, {res['final_fills']} fills)"
        )
    elif name == "manual_interventions" and "interventions" in res:
        venues = [v for v in ("kraken", "bingx") if f"{v}_orders" in res]
        kinds = ", ".join(f"{k} {n}" for k, n in res["by_kind"].items())
        figures = (
            f"{res['users']} LIVE users, {res['candles']} candles, {res['interventions']} "
            f"manual interventions ({kinds}; {res['concurrent_with_a_close']} while the loops "
            f"handled a close); "
            + "; ".join(
                f"{v}: {res[f'{v}_orders']} orders ({res[f'{v}_stop_orders']} stops), "
                f"{res[f'{v}_bot_sells_audited']} sells audited, books off the audit at the end "
                f"{res[f'{v}_books_off']}"
                for v in venues
            )
            + f"; 'closed outside the bot' told {res['closed_outside_messages']}, 'Stop hit' "
            f"{res['stop_hit_messages']} for {res['engine_stop_closes']} engine stop closes"
        )
        lost = "; ".join(
            f"{v}: {res[f'{v}_sells_beyond_position']} sells beyond our positions, "
            f"{res[f'{v}_duplicate_orders']} duplicate, {res[f'{v}_unknown_orders']} unknown, "
            f"{res[f'{v}_mismatched_orders']} mismatched orders"
            for v in venues
        ) + (
            f"; {res['repeated_stop_hit']} repeated 'Stop hit', "
            f"{res['repeated_exchange_stop_messages']} repeated exchange-stop fill messages"
        )
    else:  # a script this table has no special layout for: its scalar figures
        skip = {"name", "ok", "failures", "failure_count", "seconds"}
        figures = ", ".join(
            f"{k} {v}"
            for k, v in res.items()
            if k not in skip and isinstance(v, int | float | str) and len(str(v)) < 40
        )
        lost = "see figures"
    figures = figures.replace("|", "/")
    return f"| `chaos/{name}.py` | {ok} | {figures} | {lost} | {res['seconds']} s |"


def figures_block(results: list[dict[str, Any]], mode: str) -> str:
    m = machine()
    lines = [
        BEGIN,
        f"Last `make chaos` ({mode}): {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
        f"{m['nproc']} CPUs, {m['memory_mb']:,} MiB RAM, Python {m['python']}, "
        f"SQLite {m['sqlite']}, {m['platform']}.",
        "",
        "| script | result | figures | lost / duplicated | wall time |",
        "|---|---|---|---|---|",
        *(_row(r) for r in results),
    ]
    failed = [f for r in results for f in r.get("failures", [])]
    if failed:
        lines += ["", "Failures:", "", *(f"- `{f[:300]}`" for f in failed[:20])]
    lines.append(END)
    return "\n".join(lines)


def write_doc(block: str, doc: Path = DOC) -> None:
    text = doc.read_text() if doc.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    doc.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny parameters (smoke)")
    parser.add_argument("--only", action="append", help="run only this script (repeatable)")
    parser.add_argument("--no-doc", action="store_true", help="do not touch reliability.md")
    args = parser.parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    names = args.only or list(plan)
    results = []
    with tempfile.TemporaryDirectory(prefix="chaos-results-") as tmp:
        for name in names:
            print(f"chaos: {name} {' '.join(plan[name])} ...", flush=True)
            res = run_script(name, plan[name], Path(tmp))
            print(f"chaos: {name}: {'ok' if res['ok'] else 'FAILED'} in {res['seconds']} s")
            for failure in res.get("failures", [])[:5]:
                print(f"  - {failure[:300]}")
            results.append(res)
    if not args.no_doc:
        write_doc(figures_block(results, "quick" if args.quick else "full"))
        print(f"chaos: figures written to {DOC.relative_to(REPO)}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
