"""`ape run deploy`, as a user runs it: a fresh anvil, the Ape script in a subprocess with an Ape
account, then a mirror through the system it deployed (read from the deployment file it wrote); a
second run finds the deployment and sends nothing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.chain.actions import Actions, Key
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.deploy_run import default_deployment_file
from backend.chain.node import AnvilNode, start_anvil

REPO_ROOT = Path(__file__).resolve().parents[2]
APE = str(REPO_ROOT / ".venv" / "bin" / "ape")
WETH = 10**18


def ape_run_deploy(deploy_node: AnvilNode, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """The command a user types (docs/deploy.md), against the anvil at `deploy_node`."""
    return subprocess.run(
        [
            APE,
            "run",
            "deploy",
            "--network",
            deploy_node.url,
            "--account",
            "TEST::0",
            "--out",
            str(out),
        ]
        + list(extra),
        cwd=REPO_ROOT,
        env=os.environ | {"PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def deploy_node() -> Iterator[AnvilNode]:
    deploy_node = start_anvil()
    try:
        yield deploy_node
    finally:
        deploy_node.stop()


@pytest.fixture(scope="module")
def deployed(deploy_node: AnvilNode, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("deployments") / "31337.json"
    return out, ape_run_deploy(deploy_node, out)


def test_ape_run_deploy__fresh_anvil__writes_the_deployment_file(deployed):
    out, result = deployed
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"deployment written to {out} (chain 31337, start block 1)" in result.stdout
    deployment = Deployment.load(out)
    assert deployment.deployer == Key.anvil(0).address == deployment.admin
    assert set(deployment.contracts) >= {"VaultFactory", "CopyRouter", "UniswapV2Venue"}
    assert default_deployment_file(31_337) == Path("deployments/31337.json")


def test_ape_run_deploy__then_a_mirror_through_the_deployed_system(deployed, deploy_node):
    out, _ = deployed
    client = ChainClient(deploy_node.url)
    a = Actions(client, Deployment.load(out))
    leader, owner, relayer = Key.anvil(2), Key.anvil(6), Key.anvil(3)
    a.register(leader, "ipfs://leader")
    vault = a.create_vault([owner], leader=leader.address, salt=1)
    a.deposit(vault, a.token("WETH"), 10 * WETH, owner)
    intent, signature = a.intent(leader, nonce=1, fraction_bps=1_000)
    a.mirror_batch(intent, signature, [vault], relayer=relayer)
    weth = a.view(a.token_abi, a.token("WETH"), "balanceOf", vault)
    usdc = a.view(a.token_abi, a.token("USDC"), "balanceOf", vault)
    assert weth == 9 * WETH, "a tenth of the vault's WETH was sold"
    # About 3,000 USDC at the pool's price, less the 0.3 % fee and the price impact.
    assert 2_900 * 10**6 < usdc < 3_000 * 10**6


def test_ape_run_deploy__second_run__finds_the_deployment_and_sends_nothing(deployed, deploy_node):
    out, _ = deployed
    before = out.read_text()
    head = ChainClient(deploy_node.url).block_number()
    result = ape_run_deploy(deploy_node, out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing to do" in result.stdout
    assert ChainClient(deploy_node.url).block_number() == head and out.read_text() == before
