"""Each chaos script (chaos/, run in full by ``make chaos``) with tiny parameters, so the
suite keeps them working: together well under a minute."""

from __future__ import annotations

from chaos import manual_interventions, rotation_kill, sqlite_two_process, supervisord_stop


def _ok(res: dict) -> None:
    assert res["ok"], res["failures"]


def test_rotation_killed_and_rerun_keeps_every_row_readable(tmp_path):
    """Engine-key rotation killed and rerun while a bot-like process seals new
    credentials and an engine-like one opens rows (a few seconds)."""
    res = rotation_kill.run(tmp_path, rows=300, kills=2, seed_value=3)
    _ok(res)
    assert res["rows_lost"] == 0 and res["unopenable_after_kills"] == 0
    assert res["sealed_to_retired"] == 0 and res["rotations_completed"] >= 1
    assert res["reader_reads"] > 0 and res["reader_failures"] == 0
    assert res["sealer_submits"] > 0 and res["sealer_failures"] == 0
    assert res["final_rows"] == 300 + res["final_pending"]
    assert "retired and removed from the key file" in res["final_output"]


def test_two_processes_write_and_back_up_without_loss(tmp_path):
    res = sqlite_two_process.run(tmp_path, seconds=5)
    _ok(res)
    assert res["locked_errors"] == 0 and res["lost"] == res["lost_in_backup"] == 0
    assert res["integrity"] == res["backup_integrity"] == "ok"
    assert set(res["commits_by_role"]) == {"bot", "engine"}
    assert res["commits_before_backup"] > 0


def test_supervisord_stop_restart_and_crash_loop(tmp_path):
    res = supervisord_stop.run(tmp_path, users=2, cycles=1, crash=True)
    _ok(res)
    assert res["unresolved_after_settle"] == 0
    assert res["outbox_lost"] == res["outbox_duplicated"] == 0
    assert all(s["dropped"] == s["missing"] == 0 for s in res["stops"])
    assert res["crash_loop"]["engine_state"] == "FATAL"


def test_manual_interventions_never_sell_beyond_our_positions(tmp_path):
    """Issue 16: the real daemon trades LIVE on the Kraken spot and BingX swap emulators
    while the user sells or closes part or all of our positions by hand, cancels our
    stops, deposits, withdraws and opens positions of their own at random (some while
    the loops handle a close): no sell beyond our positions, no duplicate or unknown
    order, no repeated "Stop hit", books equal to the truth at the end."""
    res = manual_interventions.run(tmp_path, interventions=16, kraken_users=2, bingx=True)
    _ok(res)
    assert res["interventions"] == 16
    kinds = set(res["by_kind"])
    assert {"kraken:sell_part", "kraken:sell_all", "bingx:close_part", "bingx:add_own"} <= kinds
    for venue in ("kraken", "bingx"):
        assert res[f"{venue}_bot_sells_audited"] > 0
        assert res[f"{venue}_sells_beyond_position"] == 0
        assert res[f"{venue}_duplicate_orders"] == res[f"{venue}_unknown_orders"] == 0
        assert res[f"{venue}_mismatched_orders"] == 0
        assert res[f"{venue}_books_off"] == 0  # our books end equal to the audit's positions
    assert res["repeated_stop_hit"] == res["repeated_exchange_stop_messages"] == 0
