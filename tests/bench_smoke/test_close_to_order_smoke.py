"""bench/close_to_order.py runs at tiny sizes (both modes, every close taken from the
side it claims) and rewrites only its own docs section. Nothing is timed here."""

from __future__ import annotations

from bench import close_to_order


def test_close_to_order_runs_and_rewrites_only_its_section(tmp_path):
    result = close_to_order.run(1, 2, 12, ["ws", "rest"], 0)
    ws, rest = result["ws"]["runs"][0], result["rest"]["runs"][0]
    assert ws["closes"] == rest["closes"] == 2
    assert ws["closes_by"] == {"ws": 2} and rest["closes_by"] == {"rest": 2}
    assert ws["hub"]["rest_fetches"] == 12  # the first window only
    assert ws["hub"]["pushed_closes"] >= 2 * 12

    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nintro\n\n## Raw results\n\n{}\n", encoding="utf-8")
    close_to_order.write_docs(result, docs)
    once = docs.read_text(encoding="utf-8")
    assert once.index(close_to_order.HEADING) < once.index("## Raw results")
    assert "intro" in once and once.count(close_to_order.HEADING) == 1
    close_to_order.write_docs(result, docs)
    assert docs.read_text(encoding="utf-8") == once
