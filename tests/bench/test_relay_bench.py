"""The relay benchmark runs end to end at a small size: every vault mirrored, blocks counted from
the chain (its figures are not asserted beyond what must hold for any run)."""

from __future__ import annotations

import json

from bench import relay as bench


def test_relay_bench__small_run_every_vault_mirrored(tmp_path, capsys):
    out = tmp_path / "bench-relay.json"
    assert bench.main(["--vaults", "12", "--gas-limits", "30000000", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert result["error"] is None and result["mirrored"] == 12
    assert result["blocks"] >= 1 and result["seconds"] > 0
    assert result["node_block_gas_limit"] == 30_000_000
    assert sum(b["vaults"] for b in result["batches"]) == 12
    assert all(b["status"] == "mined" for b in result["batches"])
    assert "Batches (vaults)" in capsys.readouterr().out
