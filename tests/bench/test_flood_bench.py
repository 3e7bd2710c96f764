"""The flood benchmark runs end to end at a small size on both stores: every request answered,
every legitimate intent mirrored into its leader's vaults, nothing accepted lost (its latency and
block figures are not asserted: it is a benchmark, not a timed test)."""

from __future__ import annotations

import json

from bench import flood as bench


def test_flood_bench__small_run_every_request_answered_nothing_accepted_lost(tmp_path, capsys):
    out = tmp_path / "bench-flood.json"
    argv = ["--seconds", "2", "--rate", "4", "--legit-clients", "1", "--vaults", "2"]
    assert bench.main([*argv, "--workers", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["backend"] for r in report["results"]] == ["sqlite", "postgresql"]
    for r in report["results"]:
        assert r["error"] is None
        assert r["legit_requests"] == 8 and r["abuser_requests"] == 40
        for counts in (r["legit_by_status"], r["abuser_by_status"]):
            assert "0" not in counts and not any(s.startswith("5") for s in counts), counts
        assert sum(r["abuser_by_status"].values()) == 40
        assert r["legit_intents"] == r["legit_intents_accepted"] == 2
        for intent in r["intents"]:
            assert intent["status"] == "done" and intent["mirrored"] == intent["vaults"] == 2
            assert intent["last_block"] > intent["accepted_head"] > 0
        assert r["accepted_lost"] == 0 and r["accepted_unfinished"] == 0
        assert set(r["checks"]) == {
            "legit p99 < 200 ms",
            "legit intents relayed <= 2 blocks",
            "abuser gets 429",
            "spam refused (no 202)",
            "nothing accepted lost",
        }
    table = capsys.readouterr().out
    assert "legitimate intents relayed" in table and "abuser answers" in table
