"""The risk benchmark at a small size (a few hundred intents, one run of each attack): every
attack is held or paused within one block of its first bad intent, and the normal set stays under
1 % false positives. Deterministic (seeded); no timing is asserted."""

from __future__ import annotations

import json
import random

import pytest

from bench import risk as bench


@pytest.mark.parametrize("seed", [1, 2])
def test_risk_bench__small_scenarios__targets_met(seed):
    world = bench.build_world(random.Random(seed), leaders=30, normal=600, repeats=1)
    summary = bench.summarise(bench.run(world))
    for attack, row in summary["attacks"].items():
        assert row["runs"] == 1 and row["within_1_block"] == 1, (attack, row)
    assert summary["attacks"]["stolen_key"]["paused"] == 1
    assert summary["normal"]["intents"] == 600
    assert summary["normal"]["false_positive_rate"] < 0.01, summary["normal"]
    assert summary["targets_met"]


def test_risk_bench__main_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "risk.json"
    args = ["--normal", "300", "--leaders", "20", "--repeats", "1", "--json", str(out)]
    assert bench.main(args) == 0
    printed = capsys.readouterr().out
    assert [line.split()[0] for line in printed.splitlines()[2:6]] == [
        "stolen_key", "slow_drain", "wash", "normal",
    ]  # fmt: skip
    report = json.loads(out.read_text())
    assert report["bench"] == "risk" and set(report["attacks"]) == set(bench.ATTACKS)
