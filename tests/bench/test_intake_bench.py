"""The intake benchmark runs end to end at a small size on both stores (its figures are not
asserted: it is a benchmark, not a timed test)."""

from __future__ import annotations

import json

from bench import intake as bench


def test_intake_bench__small_run_every_answer_as_expected(tmp_path, capsys):
    out = tmp_path / "bench-intake.json"
    assert bench.main(["--requests", "30", "--concurrency", "4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    phases = {(r["backend"], r["phase"]): r for r in report["results"]}
    assert set(phases) == {(b, p) for b in ("sqlite", "postgresql") for p in bench.PHASES}
    for result in phases.values():
        assert result["requests"] == 30 and result["wrong_status"] == 0
        assert result["per_second"] > 0 and result["p99_ms"] >= result["p50_ms"] > 0
    assert phases[("sqlite", "health")]["met"] is None  # the baseline has no target
    table = capsys.readouterr().out
    assert "accepted" in table and "rejected" in table and "p99 ms" in table
