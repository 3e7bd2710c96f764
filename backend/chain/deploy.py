"""Deploy the whole copyvault system to any node with web3 (no Ape), and write a deployment JSON.

What `deploy_system` deploys, in this order (the same system, in the same order and with the same
constants, as the Ape-based `tests/utils/deploy.py` that the contract tests use: keep them in step):

1. LeaderRegistry; PriceOracle(admin); VaultFactory(admin, registry, oracle), which creates the
   CopyRouter and the vault implementation itself;
2. with `test_assets` (the default; local nodes and testnets): two TestTokens (WETH 18 decimals,
   USDC 6 decimals) with MockAggregator USD feeds registered in the oracle, the real Uniswap V2
   factory from its npm bytecode with a WETH/USDC pair seeded with liquidity at the feed price,
   and a UniswapV2Venue allowed platform-wide.

The deployer performs the set-up; when `admin` is another address, every platform role is then
granted to `admin` and renounced by the deployer, so the deployer keeps no power.

The deployment JSON holds the addresses, the chain id and the start block (where indexing starts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from eth_utils import keccak, to_checksum_address

from backend.chain import npm_artifacts
from backend.chain.abi import ContractAbi
from backend.chain.artifacts import Artifacts, CompiledContract
from backend.chain.artifacts import load as load_artifacts
from backend.chain.client import ChainClient
from backend.chain.tx import Sender, created_address
from backend.exceptions import DeploymentError

DEPLOYMENT_FORMAT: Final = 1

# The same values as tests/utils/deploy.py.
WETH_PRICE_USD: Final = 3_000
FEED_DECIMALS: Final = 8
# maxFractionBps, maxSlippageBps, maxOracleAge, maxTradesPerDay, lossBudgetBps
DEFAULT_POLICY: Final = (5_000, 100, 3_600, 10, 0)
POOL_WETH: Final = 1_000 * 10**18
POOL_USDC: Final = 1_000 * WETH_PRICE_USD * 10**6

FACTORY_ROLES: Final = (
    "DEFAULT_ADMIN_ROLE",
    "VENUE_ADMIN_ROLE",
    "ORACLE_ADMIN_ROLE",
    "GUARDIAN_ADMIN_ROLE",
    "COMPLIANCE_ROLE",
)
ORACLE_ROLES: Final = ("DEFAULT_ADMIN_ROLE", "FEED_ADMIN_ROLE")
ZERO_ROLE: Final = b"\x00" * 32


@dataclass(frozen=True)
class Token:
    address: str
    symbol: str
    decimals: int
    feed: str | None = None


@dataclass(frozen=True)
class Deployment:
    """Where a copyvault system lives. Addresses are EIP-55 checksummed."""

    chain_id: int
    start_block: int
    deployer: str
    admin: str
    contracts: dict[str, str]
    tokens: dict[str, Token] = field(default_factory=dict)
    pairs: dict[str, str] = field(default_factory=dict)
    format: int = DEPLOYMENT_FORMAT

    @property
    def factory(self) -> str:
        return self.contracts["VaultFactory"]

    @property
    def registry(self) -> str:
        return self.contracts["LeaderRegistry"]

    @property
    def router(self) -> str:
        return self.contracts["CopyRouter"]

    @property
    def oracle(self) -> str:
        return self.contracts["PriceOracle"]

    @property
    def audit_anchor(self) -> str:
        """The AuditAnchor contract (deployment files written before it existed lack it)."""
        address = self.contracts.get("AuditAnchor")
        if address is None:
            raise DeploymentError(
                "this deployment has no AuditAnchor contract: redeploy with `copyvault deploy` "
                "(it deploys one), or add its address under contracts.AuditAnchor"
            )
        return address

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        try:
            if data.get("format") != DEPLOYMENT_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {DEPLOYMENT_FORMAT}")
            contracts = {k: to_checksum_address(v) for k, v in data["contracts"].items()}
            for name in ("VaultFactory", "LeaderRegistry", "CopyRouter", "PriceOracle"):
                if name not in contracts:
                    raise ValueError(f"no {name} address")
            return cls(
                chain_id=int(data["chain_id"]),
                start_block=int(data["start_block"]),
                deployer=to_checksum_address(data["deployer"]),
                admin=to_checksum_address(data["admin"]),
                contracts=contracts,
                tokens={k: Token(**v) for k, v in data.get("tokens", {}).items()},
                pairs=dict(data.get("pairs", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeploymentError(
                f"not a copyvault deployment file ({exc}); write one with `copyvault deploy`"
            ) from None

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        path = Path(path)
        if not path.is_file():
            raise DeploymentError(
                f"deployment file {path} not found: deploy with `copyvault deploy --rpc URL --out "
                f"{path}` or set COPYVAULT_DEPLOYMENT_FILE"
            )
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise DeploymentError(f"{path} is not JSON ({exc}); redeploy or fix the file") from None
        return cls.from_json(data)

    def check_chain(self, client: ChainClient) -> None:
        """Refuse a node of another chain, or one where the factory has no code."""
        chain_id = client.chain_id()
        if chain_id != self.chain_id:
            raise DeploymentError(
                f"the deployment is on chain {self.chain_id} but the node at "
                f"{client.display_url} is chain {chain_id}: point COPYVAULT_RPC_URL at "
                "the right node or redeploy"
            )
        if client.request("eth_getCode", [self.factory, "latest"]) in ("0x", "0x0", None):
            raise DeploymentError(
                f"no contract at the VaultFactory address {self.factory} on "
                f"{client.display_url}: the node was restarted or is another network; "
                "redeploy with `copyvault deploy`"
            )


def npm_abi(name: str) -> ContractAbi:
    """A reference system's npm artifact (Uniswap V2, Safe) as a ContractAbi."""
    artifact = npm_artifacts.load(name)
    return ContractAbi(CompiledContract(name, artifact.abi, artifact.bytecode))


class _Deployer:
    def __init__(self, client: ChainClient, sender: Sender, artifacts: Artifacts, log):
        self.client = client
        self.sender = sender
        self.artifacts = artifacts
        self.log = log
        self.first_block: int | None = None

    def abi(self, name: str) -> ContractAbi:
        return ContractAbi(self.artifacts.get(name))

    def _note_block(self, receipt: dict[str, Any]) -> None:
        if self.first_block is None:
            self.first_block = int(receipt["blockNumber"], 16)

    def deploy(self, name: str, *args: Any) -> str:
        receipt = self.sender.send(None, self.abi(name).deploy_data(*args))
        self._note_block(receipt)
        address = created_address(receipt)
        self.log(f"  {name}: {address}")
        return address

    def deploy_npm(self, name: str, *args: Any) -> str:
        receipt = self.sender.send(None, npm_abi(name).deploy_data(*args))
        self._note_block(receipt)
        address = created_address(receipt)
        self.log(f"  {name} (npm): {address}")
        return address

    def send(self, contract: str, to: str, fn: str, *args: Any) -> dict[str, Any]:
        return self.sender.send(to, self.abi(contract).call_data(fn, *args))

    def call(self, contract: str, to: str, fn: str, *args: Any) -> Any:
        f = self.abi(contract).fn(fn)
        return f.decode(self.client.call(to, f.encode(*args)))


def deploy_system(
    client: ChainClient,
    sender: Sender,
    *,
    admin: str | None = None,
    test_assets: bool = True,
    anchorer: str | None = None,
    artifacts: Artifacts | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Deployment:
    """Deploy copyvault (and, with `test_assets`, tokens, feeds and a Uniswap V2 venue).
    `anchorer`: the key that publishes audit anchors (default: the admin, who can grant the role
    to another key later)."""
    d = _Deployer(client, sender, artifacts or load_artifacts(), log)
    me = sender.address
    final_admin = to_checksum_address(admin) if admin else me
    log(f"deploying copyvault to chain {client.chain_id()} from {me}")

    registry = d.deploy("LeaderRegistry")
    oracle = d.deploy("PriceOracle", me)
    factory = d.deploy("VaultFactory", me, registry, oracle)
    router = to_checksum_address(d.call("VaultFactory", factory, "router"))
    implementation = to_checksum_address(d.call("VaultFactory", factory, "vaultImplementation"))
    audit_anchor = d.deploy(
        "AuditAnchor", final_admin, to_checksum_address(anchorer) if anchorer else final_admin
    )
    contracts = {
        "LeaderRegistry": registry,
        "PriceOracle": oracle,
        "VaultFactory": factory,
        "CopyRouter": router,
        "CopyVaultImplementation": implementation,
        "AuditAnchor": audit_anchor,
    }
    tokens: dict[str, Token] = {}
    pairs: dict[str, str] = {}
    if test_assets:
        weth = d.deploy("TestToken", "Wrapped Ether", "WETH", 18)
        usdc = d.deploy("TestToken", "USD Coin", "USDC", 6)
        weth_feed = d.deploy("MockAggregator", FEED_DECIMALS, WETH_PRICE_USD * 10**FEED_DECIMALS)
        usdc_feed = d.deploy("MockAggregator", FEED_DECIMALS, 10**FEED_DECIMALS)
        d.send("PriceOracle", oracle, "setFeed", weth, weth_feed)
        d.send("PriceOracle", oracle, "setFeed", usdc, usdc_feed)
        tokens = {
            "WETH": Token(weth, "WETH", 18, weth_feed),
            "USDC": Token(usdc, "USDC", 6, usdc_feed),
        }
        uniswap = d.deploy_npm("UniswapV2Factory", me)
        pair = _add_liquidity(d, uniswap, weth, usdc, POOL_WETH, POOL_USDC)
        pairs["WETH/USDC"] = pair
        pair_hash = npm_artifacts.load("UniswapV2Pair").init_code_hash
        venue = d.deploy("UniswapV2Venue", uniswap, pair_hash)
        d.send("VaultFactory", factory, "setVenueAllowed", venue, True)
        contracts |= {"UniswapV2Factory": uniswap, "UniswapV2Venue": venue}

    if final_admin != me:
        _hand_over_roles(d, factory, oracle, me, final_admin)
        log(f"  platform roles handed to {final_admin}")

    assert d.first_block is not None
    return Deployment(
        chain_id=client.chain_id(),
        start_block=d.first_block,
        deployer=me,
        admin=final_admin,
        contracts=contracts,
        tokens=tokens,
        pairs=pairs,
    )


def _add_liquidity(
    d: _Deployer, uniswap: str, token_a: str, token_b: str, amount_a: int, amount_b: int
) -> str:
    """Create the pair on the real Uniswap V2 factory and seed it through the pair's own mint."""
    uni = npm_abi("UniswapV2Factory")
    pair_contract = npm_abi("UniswapV2Pair")
    d.sender.send(uniswap, uni.call_data("createPair", token_a, token_b))
    get_pair = uni.fn("getPair")
    pair = to_checksum_address(
        get_pair.decode(d.client.call(uniswap, get_pair.encode(token_a, token_b)))
    )
    d.send("TestToken", token_a, "mint", pair, amount_a)
    d.send("TestToken", token_b, "mint", pair, amount_b)
    d.sender.send(pair, pair_contract.call_data("mint", d.sender.address))
    d.log(f"  UniswapV2Pair: {pair}")
    return pair


def _role(name: str) -> bytes:
    """AccessControl role id: zero for the admin role, else keccak256 of its name."""
    return ZERO_ROLE if name == "DEFAULT_ADMIN_ROLE" else keccak(text=name)


def _hand_over_roles(d: _Deployer, factory: str, oracle: str, me: str, admin: str) -> None:
    for contract, address, roles in (
        ("VaultFactory", factory, FACTORY_ROLES),
        ("PriceOracle", oracle, ORACLE_ROLES),
    ):
        for name in roles:
            d.send(contract, address, "grantRole", _role(name), admin)
        # Renounce the admin role last (reversed: DEFAULT_ADMIN_ROLE is first in the tuples).
        for name in reversed(roles):
            d.send(contract, address, "renounceRole", _role(name), me)
    if d.call("VaultFactory", factory, "hasRole", ZERO_ROLE, me):
        raise DeploymentError("the deployer still holds the factory's admin role after hand-over")
