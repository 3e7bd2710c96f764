"""The heavy-read benchmark runs end to end at a small size on both stores (its latencies are not
asserted: it is a benchmark, not a timed test; its correctness checks are)."""

from __future__ import annotations

import json

from bench import heavy_reads as bench


def test_heavy_reads_bench__small_run__no_5xx_and_the_executed_proposal_found(tmp_path, capsys):
    out = tmp_path / "bench-heavy-reads.json"
    argv = ["--proposals", "60", "--requests", "24", "--concurrency", "6", "--json", str(out)]
    bench.main(argv)
    report = json.loads(out.read_text())
    results = {r["backend"]: r for r in report["results"]}
    assert set(results) == {"sqlite", "postgresql"}
    for result in results.values():
        assert result["server_errors"] == 0 and sum(result["statuses"].values()) == 24
        assert result["executed_found"] is True
        assert result["deposit_indexed_s"] is not None
    table = capsys.readouterr().out
    assert "Deposit indexed s" in table and "p99 ms" in table
