"""The contract tests' deployment: backend/chain/deploy.py's `deploy_system` (the one deploy path,
shared with `ape run deploy`, `copyvault deploy` and the backend tests), signed by Ape's test
accounts, then wrapped as Ape contract instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ape.contracts import ContractContainer
from ethpm_types import ContractType

from backend.chain import npm_artifacts
from backend.chain.ape_accounts import ape_sender
from backend.chain.client import ChainClient
from backend.chain.deploy import DEFAULT_POLICY, FEED_DECIMALS, WETH_PRICE_USD, Deployment
from backend.chain.deploy import deploy_system as deploy_deployment

__all__ = ["DEFAULT_POLICY", "FEED_DECIMALS", "WETH_PRICE_USD", "System", "deploy_system"]


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
    """Deploy through the one deploy path from `deployer`, `admin` holding the platform roles and
    taking the admin actions (feeds, venue), and wrap the result for Ape."""
    client = ChainClient(deployer.provider.http_uri)
    deployment = deploy_deployment(
        client,
        ape_sender(client, deployer),
        admin=admin.address,
        admin_sender=ape_sender(client, admin),
    )
    return system_at(project, deployment)


def system_at(project, deployment: Deployment) -> System:
    """Ape instances of a deployment's contracts."""
    contracts, tokens = deployment.contracts, deployment.tokens
    uniswap = Uniswap(
        npm_container("UniswapV2Factory").at(contracts["UniswapV2Factory"]),
        npm_artifacts.load("UniswapV2Pair").init_code_hash,
    )
    return System(
        registry=project.LeaderRegistry.at(deployment.registry),
        oracle=project.PriceOracle.at(deployment.oracle),
        factory=project.VaultFactory.at(deployment.factory),
        router=project.CopyRouter.at(deployment.router),
        uniswap=uniswap,
        venue=project.UniswapV2Venue.at(contracts["UniswapV2Venue"]),
        weth=project.TestToken.at(tokens["WETH"].address),
        usdc=project.TestToken.at(tokens["USDC"].address),
        feeds={s: project.MockAggregator.at(t.feed) for s, t in tokens.items()},
    )
