"""The per-network data a deployment registers: deployments/networks.yaml, keyed by chain id.

Each network names the tokens copyvault quotes (address and Chainlink USD feed) and the venues it
trades through (a venue `kind` from backend/chain/deploy.py's VENUE_KINDS with that kind's
parameters). A local network (anvil) instead asks for test assets: test tokens, mock feeds and a
Uniswap V2 factory deployed from npm bytecode, which its venue then uses (`factory: test-assets`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from eth_utils import is_address, to_checksum_address

from backend.exceptions import DeploymentError

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DEFAULT_NETWORKS_FILE: Final = REPO_ROOT / "deployments" / "networks.yaml"
# Chain ids of development nodes (anvil, Hardhat, Ganache): an EOA admin is fine there.
LOCAL_CHAIN_IDS: Final = frozenset({31_337, 1_337})
# A venue parameter that means "the Uniswap V2 factory the test assets deployed".
TEST_ASSETS: Final = "test-assets"


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    address: str
    feed: str


@dataclass(frozen=True)
class VenueSpec:
    """One venue adapter to deploy and allow: `name` is its key in the deployment file."""

    name: str
    kind: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkSpec:
    chain_id: int
    name: str
    local: bool
    test_assets: bool
    tokens: tuple[TokenSpec, ...] = ()
    venues: tuple[VenueSpec, ...] = ()


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise DeploymentError(f"{where}: {value!r} is not an address (0x and 40 hex digits)")
    return to_checksum_address(value)


def _tokens(data: dict[str, Any], where: str) -> tuple[TokenSpec, ...]:
    return tuple(
        TokenSpec(
            symbol,
            _address(entry.get("address"), f"{where} token {symbol} address"),
            _address(entry.get("feed"), f"{where} token {symbol} feed"),
        )
        for symbol, entry in (data or {}).items()
    )


def _venues(items: list[dict[str, Any]], where: str) -> tuple[VenueSpec, ...]:
    venues = []
    for index, item in enumerate(items or []):
        if "name" not in item or "kind" not in item:
            raise DeploymentError(f"{where} venue #{index + 1}: give it a `name` and a `kind`")
        params = {k: str(v) for k, v in item.items() if k not in ("name", "kind")}
        venues.append(VenueSpec(str(item["name"]), str(item["kind"]), params))
    return tuple(venues)


def parse_network(chain_id: int, data: dict[str, Any]) -> NetworkSpec:
    where = f"network {chain_id}"
    if not isinstance(data, dict):
        raise DeploymentError(f"{where}: expected a mapping with name, tokens and venues")
    return NetworkSpec(
        chain_id=chain_id,
        name=str(data.get("name", f"chain {chain_id}")),
        local=bool(data.get("local", chain_id in LOCAL_CHAIN_IDS)),
        test_assets=bool(data.get("test_assets", False)),
        tokens=_tokens(data.get("tokens") or {}, where),
        venues=_venues(data.get("venues") or [], where),
    )


def load_networks(path: Path | None = None) -> dict[int, NetworkSpec]:
    """Every network of a networks file (default: deployments/networks.yaml)."""
    path = Path(path) if path is not None else DEFAULT_NETWORKS_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise DeploymentError(f"networks file {path} not found: pass --networks-file") from None
    except yaml.YAMLError as exc:
        raise DeploymentError(f"{path} is not valid YAML: {exc}") from None
    networks = (data or {}).get("networks") if isinstance(data, dict) else None
    if not isinstance(networks, dict):
        raise DeploymentError(f"{path} has no `networks:` mapping keyed by chain id")
    return {int(key): parse_network(int(key), entry) for key, entry in networks.items()}


def network_for(chain_id: int, path: Path | None = None) -> NetworkSpec:
    """The data for `chain_id`, or an error naming the file to extend."""
    networks = load_networks(path)
    try:
        return networks[chain_id]
    except KeyError:
        known = ", ".join(f"{n.chain_id} ({n.name})" for n in networks.values())
        raise DeploymentError(
            f"chain {chain_id} is not in {path or DEFAULT_NETWORKS_FILE} (it has {known}): add "
            "its tokens, feeds and venues there (docs/deploy.md) or pass --networks-file"
        ) from None


def local_network(chain_id: int, *, test_assets: bool = True) -> NetworkSpec:
    """A development chain: with `test_assets`, test tokens and a seeded Uniswap V2 venue."""
    venues = (VenueSpec("UniswapV2Venue", "uniswap_v2", {"factory": TEST_ASSETS}),)
    return NetworkSpec(
        chain_id=chain_id,
        name="local",
        local=True,
        test_assets=test_assets,
        venues=venues if test_assets else (),
    )
