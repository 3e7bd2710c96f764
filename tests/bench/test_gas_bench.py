"""The gas benchmark (bench/gas.py) runs end to end at small N, so it cannot rot.

It starts its own anvil (Osaka, EIP-7825 cap enforced); the full run is on demand:
``python -m bench.gas``. Gas figures are not asserted here, only the report's shape.
"""

from __future__ import annotations

import json

import pytest

from bench import gas

SIZES = (1, 3)
FIT_LIMIT = 4

ANCHORS = (
    "anchor.erc20_transfer",
    "anchor.pair_swap",
    "anchor.router02_swap_warm",
    "anchor.safe_2of3",
    "anchor.safe_3of5",
)
COPYVAULT = (
    "cv.create_vault",
    "cv.deposit_warm",
    "cv.withdraw_2of3",
    "cv.withdraw_3of5",
    "cv.mirror_cold",
    "cv.mirror",
    *(f"cv.{mode}.{n}" for mode in ("mirrorBatch", "mirrorAggregated") for n in SIZES),
    "cv.mirrorBatch.marginal",
    "cv.mirrorAggregated.marginal",
    "cv.mirrorBatch.max_fit",
    "cv.mirrorAggregated.max_fit",
)
TARGETS = (
    "cv.withdraw_2of3",
    "cv.mirror",
    "cv.mirrorAggregated.marginal",
    "cv.mirrorAggregated.max_fit",
)


@pytest.fixture(scope="module")
def report() -> gas.Report:
    return gas.run(sizes=SIZES, fit_limit=FIT_LIMIT, breakdown=True, log=lambda _msg: None)


def _is_gas(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def test_bench__small_run__every_figure_is_measured(report):
    figures = {f.key: f for f in report.figures}
    assert set(ANCHORS + COPYVAULT) <= figures.keys()
    assert report.meta["tx_gas_cap_enforced"] and report.meta["tx_gas_cap"] == 2**24
    assert report.meta["hardfork"] == "osaka"
    for key in ANCHORS + COPYVAULT:
        f = figures[key]
        if key.endswith("max_fit"):
            assert 1 <= f.count <= FIT_LIMIT
            assert _is_gas(f.gas_limit) and f.gas_limit <= 2**24
        else:
            assert _is_gas(f.gas), key
    for mode in ("mirrorBatch", "mirrorAggregated"):
        for n in SIZES:
            f = figures[f"cv.{mode}.{n}"]
            # The limit a batch needs is at least what it used (refunds only lower gas used).
            assert _is_gas(f.gas_limit) and f.gas_limit >= f.gas
        assert report.max_fit[mode]["gas_used_when_sent_with_that_limit"] > 0


def test_bench__small_run__targets_sit_beside_their_figures(report):
    figures = {f.key: f for f in report.figures}
    for key in TARGETS:
        f = figures[key]
        assert f.target and f.result in {"met", "NOT MET", "n/a"}
    # Compared with their anchors, measured in the same run.
    assert figures["cv.withdraw_2of3"].anchor == "anchor.safe_2of3"
    assert figures["cv.withdraw_2of3"].result in {"met", "NOT MET"}
    assert figures["cv.mirror"].ratio > 0 and figures["cv.mirror"].result in {"met", "NOT MET"}
    # At N=1,3 the N=100 marginal and the 250-follower search are not evaluated.
    assert figures["cv.mirrorAggregated.marginal"].result == "n/a"


def test_bench__small_run__table_and_json(report):
    table = report.format_table()
    header = table.splitlines()[0]
    for column in ("Figure", "State", "Gas used", "Gas limit", "Compared with", "Ratio", "Target"):
        assert column in header
    for f in report.figures:
        assert f.label in table
    document = json.loads(json.dumps(report.to_json()))
    assert {"meta", "figures", "targets", "max_fit", "breakdown"} <= document.keys()
    assert [t["figure"] for t in document["targets"]] == list(TARGETS)
    assert "single-vault mirror" in report.format_breakdown()
