"""The intake benchmark runs end to end at a small size on both stores (its figures are not
asserted: it is a benchmark, not a timed test)."""

from __future__ import annotations

import argparse
import json
from types import SimpleNamespace

import pytest

from bench import intake as bench


def test_intake_bench__small_run_every_answer_as_expected(tmp_path, capsys):
    out = tmp_path / "bench-intake.json"
    args = ["--requests", "30", "--concurrency", "4", "--rate", "200", "--json", str(out)]
    assert bench.main(args) == 0
    report = json.loads(out.read_text())
    phases = {(r["backend"], r["phase"]): r for r in report["results"]}
    assert set(phases) == {(b, p) for b in ("sqlite", "postgresql") for p in bench.PHASES}
    for result in phases.values():
        assert result["requests"] == 30 and result["wrong_status"] == 0
        assert result["per_second"] > 0 and result["p99_ms"] >= result["p50_ms"] > 0
    assert phases[("sqlite", "health")]["met"] is None  # the baseline has no target
    for backend in ("sqlite", "postgresql"):
        for phase in ("accepted", "accepted at rate"):
            assert phases[(backend, phase)]["intent_statuses"] == {"accepted": 30}
    # The local PostgreSQL's own CPU is measured; SQLite's is inside the server's processes.
    assert phases[("sqlite", "accepted")]["store_cpu_ms"] is None
    assert phases[("postgresql", "accepted")]["store_cpu_ms"] > 0
    open_loop = phases[("postgresql", "accepted at rate")]
    assert open_loop["offered_rate"] == 200 and open_loop["met"] is False  # 200/s < the target
    assert open_loop["target"] == "p99 < 50 ms at 200/s"
    table = capsys.readouterr().out
    assert "accepted" in table and "rejected" in table and "p99 ms" in table


def _phase(**changes) -> bench.Phase:
    fields = dict(backend="sqlite", phase="accepted at rate", requests=100, concurrency=64,
                  wrong_status=0, seconds=0.2, per_second=500.0, p50_ms=5.0, p99_ms=20.0,
                  max_ms=30.0, offered_rate=500.0)  # fmt: skip
    return bench.Phase(**(fields | changes))


def test_open_loop_target__met_only_when_the_schedule_is_kept_and_the_tail_is_short():
    assert _phase().met is True
    assert _phase(p99_ms=50.0).met is False  # the tail at the target
    assert _phase(per_second=480.0).met is False  # fell behind the schedule
    assert _phase(wrong_status=1).met is False
    assert _phase(offered_rate=400.0, per_second=400.0).met is False  # below the target's load
    # A closed loop is judged on throughput alone: its latency is connections / throughput.
    assert _phase(phase="accepted", offered_rate=None, p99_ms=70.0).met is True
    assert _phase(phase="accepted", offered_rate=None, per_second=499.0).met is False


def test_answers__a_held_intent_is_not_counted_as_accepted():
    answers = bench.Answers(202, "accepted")
    answers.check(202, b'{"status": "accepted"}')
    answers.check(202, b'{"status": "held"}')
    answers.check(403, b'{"error": {"code": "unauthorized_signer"}}')
    assert answers.wrong == 2
    assert answers.intent_statuses == {"accepted": 1, "held": 1}


def test_leaders__the_default_pending_limit_kept_unless_one_leader_takes_everything():
    assert bench.leader_count(2_000) == 167  # 4,000 accepted intents, at most 24 per leader
    assert bench.leader_count(1) == 1
    many, one = SimpleNamespace(leaders=167), SimpleNamespace(leaders=1)
    assert bench.pending_limit(4_000, many) is None  # 24 per leader: the default 32 has room
    assert bench.pending_limit(4_000, one) == 4_001  # the one leader's whole queue


def test_server_setting__only_copyvault_settings():
    assert bench._setting("COPYVAULT_API_PIN_WORKERS=off") == (
        "COPYVAULT_API_PIN_WORKERS",
        "off",
    )
    for wrong in ("API_PIN_WORKERS=off", "COPYVAULT_API_PIN_WORKERS"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench._setting(wrong)


def test_store_cpu_reader__only_for_a_postgresql_on_this_machine():
    local = "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    assert bench.store_cpu_reader("postgresql", local) is not None
    assert bench.store_cpu_reader("postgresql", "postgresql+psycopg://postgres@/x") is not None
    assert bench.store_cpu_reader("postgresql", "postgresql+psycopg://u@db.example:5432/x") is None
    assert bench.store_cpu_reader("sqlite", "sqlite:///bench.db") is None
