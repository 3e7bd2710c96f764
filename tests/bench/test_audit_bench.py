"""The audit-trail benchmark runs at a small size on both stores and prints its rows (rates are
not asserted: it is a benchmark; gas is deterministic and bounded)."""

from __future__ import annotations

from bench import audit as bench
from tests.backend.conftest import PG_ADMIN_URL


def test_audit_bench__small_run__gas_and_append_rows(capsys):
    assert (
        bench.main(
            ["--intents", "8", "--writers", "2", "--appends", "5", "--postgres", PG_ADMIN_URL]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["anchor", "verifyIntent", "append", "append"]
    later_gas = int(lines[0].split()[-2])
    assert 50_000 < later_gas < 150_000  # one struct of four slots, and an event
