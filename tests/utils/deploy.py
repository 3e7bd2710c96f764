"""Deploys copyvault and its reference systems with Ape, for the contract tests.

backend/chain/deploy.py deploys the same system with plain web3 (for the backend, its tests and the
benchmarks); tests/backend/chain/test_deploy.py keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ape.contracts import ContractContainer
from ethpm_types import ContractType

from backend.chain import npm_artifacts

WETH_PRICE_USD = 3_000
FEED_DECIMALS = 8
DEFAULT_POLICY = (
    5_000,
    100,
    3_600,
    10,
    0,
)  # maxFraction, maxSlippage, maxOracleAge, maxTradesPerDay, lossBudget


def npm_container(name: str) -> ContractContainer:
    """An Ape container for a reference system's npm bytecode (Uniswap V2, Safe 1.4.1)."""
    artifact = npm_artifacts.load(name)
    contract_type = ContractType.model_validate(
        {
            "contractName": name,
            "abi": artifact.abi,
            "deploymentBytecode": {"bytecode": "0x" + artifact.bytecode.hex()},
        }
    )
    return ContractContainer(contract_type)


@dataclass
class Uniswap:
    factory: Any
    pair_init_code_hash: bytes
    pairs: dict[tuple[str, str], Any] = field(default_factory=dict)

    def add_liquidity(self, token_a, token_b, amount_a: int, amount_b: int, provider) -> Any:
        """Create (if needed) the pair and seed it through the real pair's mint."""
        pair_address = self.factory.getPair(token_a, token_b)
        if int(pair_address, 16) == 0:
            self.factory.createPair(token_a, token_b, sender=provider)
            pair_address = self.factory.getPair(token_a, token_b)
        pair = npm_container("UniswapV2Pair").at(pair_address)
        token_a.mint(pair, amount_a, sender=provider)
        token_b.mint(pair, amount_b, sender=provider)
        pair.mint(provider, sender=provider)
        return pair


def deploy_uniswap(deployer) -> Uniswap:
    factory = deployer.deploy(npm_container("UniswapV2Factory"), deployer)
    return Uniswap(factory, npm_artifacts.load("UniswapV2Pair").init_code_hash)


@dataclass
class System:
    """One copyvault deployment with its tokens, feeds and a Uniswap V2 venue."""

    registry: Any
    oracle: Any
    factory: Any
    router: Any
    uniswap: Uniswap
    venue: Any
    weth: Any
    usdc: Any
    feeds: dict[str, Any]


def deploy_system(project, deployer, admin) -> System:
    registry = deployer.deploy(project.LeaderRegistry)
    oracle = deployer.deploy(project.PriceOracle, admin)
    factory = deployer.deploy(project.VaultFactory, admin, registry, oracle)
    router = project.CopyRouter.at(factory.router())
    weth = deployer.deploy(project.TestToken, "Wrapped Ether", "WETH", 18)
    usdc = deployer.deploy(project.TestToken, "USD Coin", "USDC", 6)
    feeds = {
        "WETH": deployer.deploy(
            project.MockAggregator, FEED_DECIMALS, WETH_PRICE_USD * 10**FEED_DECIMALS
        ),
        "USDC": deployer.deploy(project.MockAggregator, FEED_DECIMALS, 10**FEED_DECIMALS),
    }
    oracle.setFeed(weth, feeds["WETH"], sender=admin)
    oracle.setFeed(usdc, feeds["USDC"], sender=admin)
    uniswap = deploy_uniswap(deployer)
    uniswap.add_liquidity(weth, usdc, 1_000 * 10**18, 1_000 * WETH_PRICE_USD * 10**6, deployer)
    venue = deployer.deploy(project.UniswapV2Venue, uniswap.factory, uniswap.pair_init_code_hash)
    factory.setVenueAllowed(venue, True, sender=admin)
    return System(registry, oracle, factory, router, uniswap, venue, weth, usdc, feeds)
