"""The auditor's views, on a real chain: every deployed contract's code against the build (exact,
or differing only in immutables; a contract whose code is replaced reads `differs`), the gas
snapshot, the Slither report (404 `report_not_generated` before `make slither` ran) and the design
documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import keccak

from backend.chain.node import start_anvil
from backend.services.auditor import code_match
from tests.backend.api.helpers import ApiEnv, open_env
from tests.backend.conftest import deploy_chain, module_stores

SLITHER_JSON = {
    "success": True,
    "results": {
        "detectors": [
            {
                "check": "reentrancy-events",
                "impact": "Low",
                "confidence": "Medium",
                "description": "Reentrancy in CopyVault.deposit(address,uint256)",
                "first_markdown_element": "contracts/CopyVault.sol#L100-L120",
            },
            {
                "check": "timestamp",
                "impact": "Low",
                "confidence": "Medium",
                "description": "LeaderRegistry.checkIntent uses timestamp for comparisons",
                "first_markdown_element": "contracts/LeaderRegistry.sol#L130",
            },
        ]
    },
}


@pytest.fixture(scope="module")
def auditor_env(request, tmp_path_factory) -> Iterator[tuple[ApiEnv, Path]]:
    """Its own chain (one test replaces a contract's code) and a reports folder to fill."""
    reports = tmp_path_factory.mktemp("reports")
    node = start_anvil()
    try:
        chain = deploy_chain(node)
        with (
            module_stores(request, tmp_path_factory, "sqlite") as stores,
            open_env(chain, stores, tmp_path_factory.mktemp("api"), reports_dir=reports) as env,
        ):
            yield env, reports
    finally:
        node.stop()


def test_contracts__code_hash_on_chain__matches_the_build(auditor_env):
    env, _ = auditor_env
    answer = env.ok("/v1/auditor/contracts")
    assert answer["chain_id"] == env.chain.deployment.chain_id
    found = {c["name"]: c for c in answer["contracts"]}
    assert set(found) == set(env.chain.deployment.contracts)
    for name, address in env.chain.deployment.contracts.items():
        code = bytes.fromhex(env.chain.rpc("eth_getCode", address, "latest")[2:])
        entry = found[name]
        assert entry["address"] == address
        assert (entry["code_size"], entry["code_hash"]) == (len(code), "0x" + keccak(code).hex())
        assert entry["match"] in ("exact", "immutables_only"), entry
    assert found["CopyVaultImplementation"]["artifact"] == "CopyVault"
    assert found["UniswapV2Factory"]["artifact"] == "npm:UniswapV2Factory"
    # The router keeps the factory, registry and oracle as immutables: not byte-equal to the build.
    assert found["CopyRouter"]["match"] == "immutables_only"


def test_contracts__replaced_code__differs(auditor_env):
    env, _ = auditor_env
    registry = env.chain.deployment.registry
    original = env.chain.rpc("eth_getCode", registry, "latest")
    tampered = original[:-4] + ("00" if original[-4:-2] != "00" else "01") + original[-2:]
    env.chain.rpc("anvil_setCode", registry, tampered)
    try:
        found = {c["name"]: c for c in env.ok("/v1/auditor/contracts")["contracts"]}
        assert found["LeaderRegistry"]["match"] == "differs"
        assert found["LeaderRegistry"]["code_hash"] != found["LeaderRegistry"]["artifact_code_hash"]
    finally:
        env.chain.rpc("anvil_setCode", registry, original)


def test_code_match__placeholders_only_where_the_build_has_push32_zero():
    build = bytes([0x60, 0x01, 0x7F]) + bytes(32) + bytes([0x56])
    filled = bytes([0x60, 0x01, 0x7F]) + b"\x11" * 32 + bytes([0x56])
    assert code_match(build, build) == "exact"
    assert code_match(filled, build) == "immutables_only"
    assert code_match(filled[:-1] + b"\x57", build) == "differs"
    assert code_match(build + b"\x00", build) == "differs"
    assert code_match(b"", build) == "no_code"
    assert code_match(build, None) == "no_artifact"


def test_gas_snapshot__the_committed_figures(auditor_env):
    env, _ = auditor_env
    committed = json.loads(Path("bench/gas-snapshot.json").read_text())
    answer = env.ok("/v1/auditor/gas")
    assert answer["figures"] == committed["figures"]
    assert answer["anvil"] == committed["anvil"]


def test_slither__404_before_generated__then_the_report(auditor_env):
    env, reports = auditor_env
    missing = env.get("/v1/auditor/slither")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "report_not_generated" and "make slither" in error["message"]

    (reports / "slither.json").write_text(json.dumps(SLITHER_JSON))
    (reports / "slither.md").write_text("# Slither report\n\n**Gate: PASS**\n")
    answer = env.ok("/v1/auditor/slither")
    assert answer["counts"] == {"Low": 2}
    assert [f["detector"] for f in answer["findings"]] == ["reentrancy-events", "timestamp"]
    assert answer["findings"][0]["location"] == "contracts/CopyVault.sol#L100-L120"
    assert "**Gate: PASS**" in answer["markdown"]


def test_documents__security_model_as_markdown__unknown_name_422(auditor_env):
    env, _ = auditor_env
    model = env.ok("/v1/auditor/documents/security-model")
    assert model["markdown"] == Path("docs/security-model.md").read_text()
    assert env.get("/v1/auditor/documents/..%2Fsecrets").status_code in (404, 422)
    assert env.get("/v1/auditor/documents/README").status_code == 422
