"""The web app's start-up facts: where copyvault lives on this chain (the deployment file the
server runs on), so the pages know the factory to create vaults with, the registry leaders sign
for, the venues and the tokens with their symbols and decimals. Read-only; no store, no node."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import StateDep
from backend.api.schemas import Address, Model

router = APIRouter(tags=["deployment"])


class TokenOut(Model):
    address: Address
    symbol: str
    decimals: int
    feed: Address | None


class DeploymentOut(Model):
    chain_id: int
    factory: Address
    registry: Address
    router: Address
    oracle: Address
    venues: list[Address]
    tokens: list[TokenOut]
    contracts: dict[str, Address]


@router.get("/deployment", response_model=DeploymentOut)
def get_deployment(state: StateDep) -> DeploymentOut:
    """The deployment this server indexes and relays for: contracts by name, venues (contracts
    named `*Venue`) and tokens, in the deployment file's order."""
    d = state.deployment
    return DeploymentOut(
        chain_id=d.chain_id,
        factory=d.factory,
        registry=d.registry,
        router=d.router,
        oracle=d.oracle,
        venues=[address for name, address in d.contracts.items() if name.endswith("Venue")],
        tokens=[
            TokenOut(address=t.address, symbol=t.symbol, decimals=t.decimals, feed=t.feed)
            for t in d.tokens.values()
        ],
        contracts=dict(d.contracts),
    )
