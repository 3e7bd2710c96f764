"""backend/chain/deploy.py deploys the same system as the Ape-based tests/utils/deploy.py."""

from __future__ import annotations

import json

import pytest
from eth_utils import keccak

from backend.chain import deploy as web3_deploy
from backend.chain.actions import Key
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_system
from backend.chain.node import anvil
from backend.chain.tx import UnlockedSender
from backend.exceptions import DeploymentError


def test_deploy__same_constants_as_the_ape_deployment():
    from tests.utils import deploy as ape_deploy  # imports Ape: fine in the test suite

    assert web3_deploy.WETH_PRICE_USD == ape_deploy.WETH_PRICE_USD
    assert web3_deploy.FEED_DECIMALS == ape_deploy.FEED_DECIMALS
    assert web3_deploy.DEFAULT_POLICY == ape_deploy.DEFAULT_POLICY


def test_deploy__the_system_is_wired(anvil_chain):
    a, d = anvil_chain.actions, anvil_chain.deployment
    factory = a.factory_abi
    assert a.view(factory, d.factory, "registry").lower() == d.registry.lower()
    assert a.view(factory, d.factory, "router").lower() == d.router.lower()
    assert a.view(factory, d.factory, "defaultOracle").lower() == d.oracle.lower()
    assert a.view(factory, d.factory, "isVenueAllowed", d.contracts["UniswapV2Venue"])
    pair = d.pairs["WETH/USDC"]
    weth_in_pair = a.view(a.token_abi, d.tokens["WETH"].address, "balanceOf", pair)
    usdc_in_pair = a.view(a.token_abi, d.tokens["USDC"].address, "balanceOf", pair)
    assert (weth_in_pair, usdc_in_pair) == (web3_deploy.POOL_WETH, web3_deploy.POOL_USDC)
    assert d.start_block == 1


def test_deploy__json_round_trip(anvil_chain, tmp_path):
    path = tmp_path / "deployment.json"
    anvil_chain.deployment.save(path)
    assert Deployment.load(path) == anvil_chain.deployment
    data = json.loads(path.read_text())
    assert data["chain_id"] == 31_337 and data["contracts"]["VaultFactory"]


def test_deploy__roles_handed_to_the_admin():
    with anvil() as node:
        client = ChainClient(node.url)
        deployer, admin = Key.anvil(0), Key.anvil(1)
        d = deploy_system(
            client, UnlockedSender(client, deployer.address), admin=admin.address, test_assets=False
        )
        from backend.chain.actions import Actions

        a = Actions(client, d)
        for role in (b"\0" * 32, keccak(text="VENUE_ADMIN_ROLE")):
            assert a.view(a.factory_abi, d.factory, "hasRole", role, admin.address)
            assert not a.view(a.factory_abi, d.factory, "hasRole", role, deployer.address)
        assert d.admin == admin.address and d.tokens == {}


def test_deployment__wrong_chain_or_missing_code_refused(anvil_chain, tmp_path):
    d = anvil_chain.deployment
    with pytest.raises(DeploymentError, match="is chain 31337"):
        Deployment(**{**d.__dict__, "chain_id": 1}).check_chain(anvil_chain.client)
    moved = {**d.contracts, "VaultFactory": "0x" + "12" * 20}
    with pytest.raises(DeploymentError, match="no contract at the VaultFactory"):
        Deployment(**{**d.__dict__, "contracts": moved}).check_chain(anvil_chain.client)
    with pytest.raises(DeploymentError, match="copyvault deploy"):
        Deployment.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": 1}')
    with pytest.raises(DeploymentError, match="not a copyvault deployment"):
        Deployment.load(tmp_path / "bad.json")
