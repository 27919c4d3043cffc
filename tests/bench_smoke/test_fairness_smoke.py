"""bench/fairness.py runs at tiny sizes (the flood and the burst over a notification
backlog) and rewrites only its own docs section."""

from __future__ import annotations

import math

from bench import fairness


def test_fairness_runs_and_rewrites_only_its_section(tmp_path):
    result = fairness.run(quick=True)
    modes = {m["processor"]: m for m in result["modes"]}
    assert set(modes) == {"per_user_first", "slot_first"}
    for mode in modes.values():
        assert mode["runs"] == len(mode["every_run"]) == 1
        assert math.isfinite(mode["median_key_queued_to_delete_ms"])
        assert math.isfinite(mode["median_status_queued_to_reply_ms"])
    assert modes["per_user_first"]["every_run"][0]["flood_dropped"] > 0
    assert modes["slot_first"]["every_run"][0]["flood_dropped"] == 0
    burst = {m["mode"]: m for m in result["burst"]}
    assert set(burst) == {"free", "paid"}
    for mode in burst.values():
        [one] = mode["every_run"]
        assert one["reply_queued"]["n"] == one["burst_users"]  # every /status answered
        assert one["key_handed_to_delete"]["n"] == mode["keyers"]  # every key deleted
        assert one["rate_limited_429"] == 0 and one["violations"] == 0
        assert math.isfinite(mode["median_reply_queued_p99_ms"])
    assert burst["free"]["every_run"][0]["paid_replies"] == 0

    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nintro\n\n## Raw results\n\n{}\n", encoding="utf-8")
    fairness.write_docs(result, docs)
    once = docs.read_text(encoding="utf-8")
    assert once.index(fairness.HEADING) < once.index("## Raw results")
    assert "intro" in once and once.count(fairness.HEADING) == 1
    fairness.write_docs(result, docs)
    assert docs.read_text(encoding="utf-8") == once  # replaced in place, not appended
