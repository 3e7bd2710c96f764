"""The chaos benchmark runs end to end, briefly, on SQLite: every kind of fault is injected at
least once and every check runs and finds no divergence (a short run of what issue 10's acceptance
asks of ten minutes on each store)."""

from __future__ import annotations

import json

from bench import chaos as bench

CHECKS = {"store_equals_chain", "no_double_execution", "intents_settled", "proposals_kept"}


def test_chaos_bench__short_run_every_fault_kind_injected_and_every_check_passes(tmp_path, capsys):
    out = tmp_path / "bench-chaos.json"
    argv = ["--duration", "20", "--settle", "90", "--backends", "sqlite", "--seed", "10"]
    code = bench.main([*argv, "--json", str(out)])
    (run,) = json.loads(out.read_text())["runs"]
    assert run["error"] is None, run["error"]

    injected = {
        f["kind"]
        for f in run["faults"]
        if not (f["facts"].get("skipped") or f["facts"].get("error"))
    }
    assert injected == set(bench.FAULT_KINDS) - {"pg_kill"}, run["faults"]

    checks = {c["name"]: c for c in run["checks"]}
    assert set(checks) == CHECKS
    assert all(c["ran"] for c in checks.values())
    for name in ("store_equals_chain", "intents_settled", "proposals_kept"):
        assert checks[name]["examined"] > 0, name
    diverged = {name: c["samples"] for name, c in checks.items() if not c["passed"]}
    assert not diverged, diverged
    assert run["settled"]["intents_settled"] and run["settled"]["index_reached_head"]
    assert code == 0
    table = capsys.readouterr().out
    assert "Faults injected:" in table and "store_equals_chain" in table
