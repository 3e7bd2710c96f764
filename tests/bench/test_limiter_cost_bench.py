"""The limiter-cost benchmark runs at a small size and prints its four rows (timings are not
asserted: it is a benchmark)."""

from __future__ import annotations

from bench import limiter_cost as bench


def test_limiter_cost_bench__small_run__four_rows(capsys):
    assert bench.main(["--requests", "500", "--clients", "10"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert rows == ["bare", "headers", "limits", "limits+sync"]
