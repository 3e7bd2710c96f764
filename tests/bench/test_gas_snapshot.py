"""The gas snapshot check: what fails it (a rise above the tolerance, fewer followers in one
transaction, a figure gone) and what does not (noise within the tolerance, improvements, new rows).
The committed snapshot itself is checked against a fresh `bench.gas` run by .ci/run."""

from __future__ import annotations

import json

import pytest

from bench import gas_snapshot

SNAPSHOT = {
    "cv.mirror": {"gas": 100_000},
    "cv.mirrorAggregated.max_fit": {"gas": 16_000_000, "gas_limit": 16_700_000, "count": 250},
}


def report_with(**figures: dict[str, int]) -> dict:
    return {
        "meta": {"anvil": "anvil 1.7.1", "hardfork": "osaka"},
        "figures": [
            {"key": key, "gas": None, "gas_limit": None, "count": None} | measured
            for key, measured in figures.items()
        ],
    }


def verdicts(current: dict) -> dict[tuple[str, str], str]:
    changes = gas_snapshot.compare(SNAPSHOT, gas_snapshot.figures_of(current), 0.002)
    return {(c.figure, c.measure): c.verdict for c in changes}


def test_compare__rise_above_tolerance__worse():
    current = report_with(
        **{
            "cv.mirror": {"gas": 100_300},
            "cv.mirrorAggregated.max_fit": SNAPSHOT["cv.mirrorAggregated.max_fit"],
        }
    )
    assert verdicts(current) == {("cv.mirror", "gas"): "WORSE"}


def test_compare__rise_within_tolerance_and_improvements__pass():
    current = report_with(
        **{
            "cv.mirror": {"gas": 100_150},
            "cv.mirrorAggregated.max_fit": {
                "gas": 15_000_000,
                "gas_limit": 16_700_000,
                "count": 260,
            },
            "cv.new_figure": {"gas": 5},
        }
    )
    assert verdicts(current) == {
        ("cv.mirror", "gas"): "within tolerance",
        ("cv.mirrorAggregated.max_fit", "gas"): "better",
        ("cv.mirrorAggregated.max_fit", "count"): "better",
        ("cv.new_figure", "gas"): "new",
    }


def test_compare__fewer_followers_fit__worse():
    current = report_with(
        **{
            "cv.mirror": {"gas": 100_000},
            "cv.mirrorAggregated.max_fit": {
                "gas": 16_000_000,
                "gas_limit": 16_700_000,
                "count": 249,
            },
        }
    )
    assert verdicts(current) == {("cv.mirrorAggregated.max_fit", "count"): "WORSE"}


def test_compare__figure_missing__fails():
    current = report_with(**{"cv.mirror": {"gas": 100_000}})
    assert set(verdicts(current).values()) == {"MISSING"}


@pytest.mark.parametrize(("mirror_gas", "exit_code"), [(100_000, 0), (101_000, 1)])
def test_check__prints_the_diff_and_exits_by_verdict(tmp_path, capsys, mirror_gas, exit_code):
    report, snapshot = tmp_path / "bench-gas.json", tmp_path / "gas-snapshot.json"
    report.write_text(json.dumps(report_with(**{"cv.mirror": {"gas": 100_000}})))
    assert gas_snapshot.main(["write", "--report", str(report), "--snapshot", str(snapshot)]) == 0
    report.write_text(json.dumps(report_with(**{"cv.mirror": {"gas": mirror_gas}})))
    code = gas_snapshot.main(["check", "--report", str(report), "--snapshot", str(snapshot)])
    out = capsys.readouterr().out
    assert code == exit_code
    if exit_code:
        assert "cv.mirror" in out and "WORSE" in out and "+1.000%" in out
    else:
        assert "every figure equals the snapshot" in out
