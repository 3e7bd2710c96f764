"""The indexer benchmark runs end to end at a small size (its figures are not asserted: it is a
benchmark, not a timed test)."""

from __future__ import annotations

import json

from bench import indexer as bench


def test_indexer_bench__small_run_reports_both_backends(tmp_path, capsys):
    out = tmp_path / "bench-indexer.json"
    assert bench.main(["--events", "1500", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    results = {r["backend"]: r for r in report["results"]}
    assert set(results) == {"sqlite", "postgresql"}
    generated = report["meta"]["generated"]["events"]
    assert generated >= 1500
    for result in results.values():
        assert result["error"] is None
        # Every generated event, plus the deployment's own (roles, feeds, venue).
        assert result["events"] > generated
        assert result["events_per_second"] > 0
        assert set(result["breakdown"]) >= {"rpc_logs", "decode", "db_events", "db_derived"}
    assert results["sqlite"]["events"] == results["postgresql"]["events"]
    table = capsys.readouterr().out
    assert "Events/s" in table and "Where the time goes" in table
