"""The one way copyvault is deployed: `ape run deploy`, `copyvault deploy`, `copyvault serve
--local`, the demo and the test fixtures all call `deploy` (or its local wrapper `deploy_system`).

Steps, each skipped when the chain already has it (so re-running does nothing, or only what is
missing; the deployment file is written after every step):

1. core: LeaderRegistry; PriceOracle(admin); VaultFactory(admin, registry, oracle), which creates
   the CopyRouter and the vault implementation. The platform admin holds every role from
   construction: the deployer never does, unless it is the admin (local chains);
2. test assets (local networks only): two TestTokens (WETH 18 decimals, USDC 6) with MockAggregator
   USD feeds, the real Uniswap V2 factory from its npm bytecode and a WETH/USDC pair seeded at the
   feed price;
3. venues: one adapter per venue of the network (deployments/networks.yaml), built by its kind in
   VENUE_KINDS (the one place a new venue kind is added; docs/venues.md);
4. admin actions: set each token's USD feed in the oracle and allow each venue in the factory. When
   the deployer (or a given admin sender) is the admin they are sent; otherwise (the admin is a
   Safe) they are returned as pending and written as a Safe Transaction Builder batch;
5. code check: the runtime code at every address built by this project equals the build
   (backend/chain/code_check.py).

On a network that is not local, an admin without code (an EOA) is refused unless forced: platform
roles belong to a Safe (docs/security-model.md).
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
from backend.chain.code_check import CodeMismatch, compare
from backend.chain.networks import TEST_ASSETS, NetworkSpec, VenueSpec, local_network
from backend.chain.safe_tx_builder import SafeCall, batch_file
from backend.chain.tx import Sender, created_address
from backend.exceptions import DeploymentError

DEPLOYMENT_FORMAT: Final = 1

WETH_PRICE_USD: Final = 3_000
FEED_DECIMALS: Final = 8
# maxFractionBps, maxSlippageBps, maxOracleAge, maxTradesPerDay, lossBudgetBps
DEFAULT_POLICY: Final = (5_000, 100, 3_600, 10, 0)
POOL_WETH: Final = 1_000 * 10**18
POOL_USDC: Final = 1_000 * WETH_PRICE_USD * 10**6

CORE: Final = ("LeaderRegistry", "PriceOracle", "VaultFactory", "CopyRouter")
# Deployment-file names whose code is built under another name.
BUILT_AS: Final = {"CopyVaultImplementation": "CopyVault"}


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
        receipt = self.sender.send(to, self.abi(contract).call_data(fn, *args))
        self._note_block(receipt)
        return receipt

    def call(self, contract: str, to: str, fn: str, *args: Any) -> Any:
        return self.call_abi(self.abi(contract), to, fn, *args)

    def call_abi(self, abi: ContractAbi, to: str, fn: str, *args: Any) -> Any:
        f = abi.fn(fn)
        return f.decode(self.client.call(to, f.encode(*args)))

    def code(self, address: str) -> bytes:
        code = self.client.request("eth_getCode", [address, "latest"]) or "0x"
        return bytes.fromhex(code.removeprefix("0x"))


# ----------------------------------------------------------------------------- venues


def _uniswap_v2_args(d: _Deployer, spec: VenueSpec, contracts: dict[str, str]) -> tuple:
    """(factory, pairInitCodeHash); the hash checked against one of the factory's own pairs,
    because a wrong hash derives pair addresses that do not exist (every trade would fail)."""
    if spec.params.get("factory") == TEST_ASSETS:
        if "UniswapV2Factory" not in contracts:
            raise DeploymentError(
                f"venue {spec.name}: `factory: {TEST_ASSETS}` needs the network's test assets "
                "(`test_assets: true`, local chains): give the factory's address instead"
            )
        factory = contracts["UniswapV2Factory"]
        pair_hash = npm_artifacts.load("UniswapV2Pair").init_code_hash
    else:
        try:
            factory = to_checksum_address(spec.params["factory"])
            pair_hash = bytes.fromhex(spec.params["pair_init_code_hash"].removeprefix("0x"))
        except (KeyError, ValueError) as exc:
            raise DeploymentError(
                f"venue {spec.name}: a uniswap_v2 venue needs `factory` (an address) and "
                f"`pair_init_code_hash` (32 bytes, 0x-hex) ({exc})"
            ) from None
    _check_pair_hash(d, spec.name, factory, pair_hash)
    return (factory, pair_hash)


def _check_pair_hash(d: _Deployer, venue: str, factory: str, pair_hash: bytes) -> None:
    if not d.code(factory):
        raise DeploymentError(
            f"venue {venue}: no contract at the Uniswap V2 factory {factory} on chain "
            f"{d.client.chain_id()}: check the factory address in the networks file"
        )
    uni = npm_abi("UniswapV2Factory")
    if d.call_abi(uni, factory, "allPairsLength") == 0:
        d.log(f"  {venue}: the factory has no pair yet, its init code hash cannot be checked")
        return
    pair = to_checksum_address(d.call_abi(uni, factory, "allPairs", 0))
    pair_abi = npm_abi("UniswapV2Pair")
    token0 = d.call_abi(pair_abi, pair, "token0")
    token1 = d.call_abi(pair_abi, pair, "token1")
    salt = keccak(bytes.fromhex(token0[2:]) + bytes.fromhex(token1[2:]))
    derived = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + pair_hash)[12:]
    if to_checksum_address(derived) != pair:
        raise DeploymentError(
            f"venue {venue}: pair_init_code_hash 0x{pair_hash.hex()} does not derive the "
            f"factory's pair {pair}: take the hash from the factory's own documentation"
        )


@dataclass(frozen=True)
class VenueKind:
    """A kind of venue adapter: its compiled contract and how to get its constructor arguments
    from the networks file's parameters (and the contracts deployed so far)."""

    contract: str
    constructor_args: Callable[[_Deployer, VenueSpec, dict[str, str]], tuple]


# The `kind` of a venue in deployments/networks.yaml -> its adapter. A new venue adapter is added
# here, once: ape run deploy, copyvault deploy and the test fixtures all deploy through this table
# (docs/venues.md).
VENUE_KINDS: Final[dict[str, VenueKind]] = {
    "uniswap_v2": VenueKind("UniswapV2Venue", _uniswap_v2_args),
}


def venue_kind(spec: VenueSpec) -> VenueKind:
    try:
        return VENUE_KINDS[spec.kind]
    except KeyError:
        raise DeploymentError(
            f"venue {spec.name}: unknown kind {spec.kind!r}; known: {sorted(VENUE_KINDS)}"
        ) from None


# ----------------------------------------------------------------------------- admin actions


@dataclass(frozen=True)
class AdminAction:
    """A call only the platform admin may make (its roles), with what it is for."""

    contract: str
    to: str
    fn: str
    args: tuple[Any, ...]
    description: str

    def safe_call(self, abi: ContractAbi) -> SafeCall:
        item = abi.fn(self.fn).item
        values = {
            param["name"]: _tx_builder_value(value)
            for param, value in zip(item["inputs"], self.args, strict=True)
        }
        return SafeCall(self.to, item, values, self.description)


def _tx_builder_value(value: Any) -> str:
    """Arguments as the Transaction Builder's form fields hold them: strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


# ----------------------------------------------------------------------------- the deployment


@dataclass
class DeployReport:
    """What a run did: the deployment, the steps it took (empty when nothing was missing) and the
    admin actions left for the admin Safe."""

    deployment: Deployment
    steps: list[str] = field(default_factory=list)
    pending: list[AdminAction] = field(default_factory=list)

    def safe_batch(self, artifacts: Artifacts | None = None, *, created_at_ms: int | None = None):
        """The pending actions as a Safe Transaction Builder batch (None when there are none)."""
        if not self.pending:
            return None
        arts = artifacts or load_artifacts()
        calls = [a.safe_call(ContractAbi(arts.get(a.contract))) for a in self.pending]
        return batch_file(
            self.deployment.chain_id,
            self.deployment.admin,
            calls,
            name=f"copyvault: platform set-up on chain {self.deployment.chain_id}",
            created_at_ms=created_at_ms,
        )


class _Run:
    """One deployment run: state so far, and each step."""

    def __init__(
        self,
        d: _Deployer,
        network: NetworkSpec,
        admin: str,
        existing: Deployment | None,
        progress: Callable[[Deployment], None],
    ):
        self.d = d
        self.network = network
        self.admin = admin
        self.progress = progress
        self.contracts: dict[str, str] = dict(existing.contracts) if existing else {}
        self.tokens: dict[str, Token] = dict(existing.tokens) if existing else {}
        self.pairs: dict[str, str] = dict(existing.pairs) if existing else {}
        self.start_block = existing.start_block if existing else None
        self.deployer = existing.deployer if existing else d.sender.address
        self.steps: list[str] = []

    def deployment(self) -> Deployment:
        start = self.start_block if self.start_block is not None else self.d.first_block
        assert start is not None, "a deployment starts with a transaction"
        return Deployment(
            chain_id=self.network.chain_id,
            start_block=start,
            deployer=self.deployer,
            admin=self.admin,
            contracts=dict(self.contracts),
            tokens=dict(self.tokens),
            pairs=dict(self.pairs),
        )

    def done(self, step: str) -> None:
        self.steps.append(step)
        self.progress(self.deployment())

    def core(self) -> None:
        if all(name in self.contracts for name in CORE):
            return
        d, admin = self.d, self.admin
        registry = d.deploy("LeaderRegistry")
        oracle = d.deploy("PriceOracle", admin)
        factory = d.deploy("VaultFactory", admin, registry, oracle)
        self.contracts |= {
            "LeaderRegistry": registry,
            "PriceOracle": oracle,
            "VaultFactory": factory,
            "CopyRouter": to_checksum_address(d.call("VaultFactory", factory, "router")),
            "CopyVaultImplementation": to_checksum_address(
                d.call("VaultFactory", factory, "vaultImplementation")
            ),
        }
        self.done("core contracts")

    def audit_anchor(self, anchorer: str) -> None:
        """The AuditAnchor contract, its roles given at construction (admin; anchorer)."""
        if "AuditAnchor" in self.contracts:
            return
        self.contracts["AuditAnchor"] = self.d.deploy("AuditAnchor", self.admin, anchorer)
        self.done("audit anchor")

    def test_assets(self) -> None:
        if not self.network.test_assets or "UniswapV2Factory" in self.contracts:
            return
        d, me = self.d, self.d.sender.address
        weth = d.deploy("TestToken", "Wrapped Ether", "WETH", 18)
        usdc = d.deploy("TestToken", "USD Coin", "USDC", 6)
        weth_feed = d.deploy("MockAggregator", FEED_DECIMALS, WETH_PRICE_USD * 10**FEED_DECIMALS)
        usdc_feed = d.deploy("MockAggregator", FEED_DECIMALS, 10**FEED_DECIMALS)
        self.tokens |= {
            "WETH": Token(weth, "WETH", 18, weth_feed),
            "USDC": Token(usdc, "USDC", 6, usdc_feed),
        }
        uniswap = d.deploy_npm("UniswapV2Factory", me)
        self.pairs["WETH/USDC"] = _add_liquidity(d, uniswap, weth, usdc, POOL_WETH, POOL_USDC)
        self.contracts["UniswapV2Factory"] = uniswap
        self.done("test assets")

    def real_tokens(self) -> None:
        for spec in self.network.tokens:
            if spec.symbol in self.tokens and self.tokens[spec.symbol].feed == spec.feed:
                continue
            for what, address in (("token", spec.address), ("feed", spec.feed)):
                if not self.d.code(address):
                    raise DeploymentError(
                        f"{spec.symbol}: no contract at the {what} address {address} on chain "
                        f"{self.network.chain_id}: check the networks file"
                    )
            decimals = self.d.call("TestToken", spec.address, "decimals")
            self.tokens[spec.symbol] = Token(spec.address, spec.symbol, decimals, spec.feed)
            self.done(f"token {spec.symbol}")

    def venues(self) -> None:
        for spec in self.network.venues:
            if spec.name in self.contracts:
                continue
            kind = venue_kind(spec)
            args = kind.constructor_args(self.d, spec, self.contracts)
            self.contracts[spec.name] = self.d.deploy(kind.contract, *args)
            self.done(f"venue {spec.name}")

    def admin_actions(self) -> list[AdminAction]:
        """What the admin still has to do, read from the chain (so actions already taken, by
        this run or by the Safe, are not asked twice)."""
        d, oracle, factory = self.d, self.contracts["PriceOracle"], self.contracts["VaultFactory"]
        actions = []
        for token in self.tokens.values():
            current = d.call("PriceOracle", oracle, "feedOf", token.address)[0]
            if token.feed and to_checksum_address(current) != token.feed:
                actions.append(
                    AdminAction(
                        "PriceOracle", oracle, "setFeed", (token.address, token.feed),
                        f"set the {token.symbol} USD feed to {token.feed}",
                    )
                )  # fmt: skip
        for spec in self.network.venues:
            venue = self.contracts[spec.name]
            if not d.call("VaultFactory", factory, "isVenueAllowed", venue):
                actions.append(
                    AdminAction(
                        "VaultFactory", factory, "setVenueAllowed", (venue, True),
                        f"allow the venue {spec.name} at {venue}",
                    )
                )  # fmt: skip
        return actions


def check_code(
    client: ChainClient,
    deployment: Deployment,
    artifacts: Artifacts | None = None,
    venue_contracts: dict[str, str] | None = None,
) -> list[CodeMismatch]:
    """Every contract of the deployment that this project builds, compared with the build.
    `venue_contracts` maps venue names to their compiled contract (default: the name itself)."""
    arts = artifacts or load_artifacts()
    names = set(arts.names())
    mismatches = []
    for name, address in deployment.contracts.items():
        built = (venue_contracts or {}).get(name) or BUILT_AS.get(name, name)
        if built not in names:
            continue  # a reference system from npm (Uniswap V2): not built here
        code = client.request("eth_getCode", [address, "latest"]) or "0x"
        mismatch = compare(
            name, address, bytes.fromhex(code.removeprefix("0x")), arts.runtime_code(built)
        )
        if mismatch is not None:
            mismatches.append(mismatch)
    return mismatches


def _require_code(client, deployment, artifacts, network: NetworkSpec, when: str) -> None:
    venue_contracts = {v.name: venue_kind(v).contract for v in network.venues}
    mismatches = check_code(client, deployment, artifacts, venue_contracts)
    if mismatches:
        listed = "; ".join(str(m) for m in mismatches)
        raise DeploymentError(
            f"{when}, the code on chain {deployment.chain_id} is not this build: {listed}. "
            "A node that was reset or a file from another chain: deploy afresh (--fresh); "
            "changed contracts: they are immutable, deploy afresh and migrate"
        )


def _refuse_eoa_admin(
    client: ChainClient, network: NetworkSpec, admin: str, *, force: bool, new: bool, log
) -> None:
    """A new deployment off local chains needs an admin with code (a Safe) unless forced; an
    existing one has its admin fixed on chain already, so a re-run only says so."""
    if network.local or client.request("eth_getCode", [admin, "latest"]) not in ("0x", "0x0", None):
        return
    where = f"{network.name} (chain {network.chain_id})"
    if force or not new:
        log(f"warning: the platform admin {admin} is a single key (an EOA) on {where}")
        return
    raise DeploymentError(
        f"the platform admin {admin} has no code on {where}: it is a single key (an EOA). "
        "Platform roles belong to a Safe (docs/deploy.md): pass --admin SAFE_ADDRESS, or --force "
        "to accept a single key"
    )


def deploy(
    client: ChainClient,
    sender: Sender,
    *,
    network: NetworkSpec,
    admin: str | None = None,
    admin_sender: Sender | None = None,
    anchorer: str | None = None,
    existing: Deployment | None = None,
    force: bool = False,
    artifacts: Artifacts | None = None,
    log: Callable[[str], None] = lambda _: None,
    progress: Callable[[Deployment], None] = lambda _: None,
) -> DeployReport:
    """Deploy (or complete) copyvault on `network` from `sender`; see the module docstring.

    `admin`: the platform admin (default: the existing deployment's, else the deployer).
    `admin_sender`: sends as the admin when it is not the deployer (tests; anvil accounts).
    `anchorer`: the key that publishes audit anchors (default: the admin, who can grant the role
    to another key later).
    `existing`: the deployment file of an earlier run on this chain (what to skip).
    `progress`: called with the deployment after every step (to save it as it grows).
    """
    chain_id = client.chain_id()
    if chain_id != network.chain_id:
        raise DeploymentError(
            f"the node at {client.display_url} is chain {chain_id}, the network data is for "
            f"chain {network.chain_id} ({network.name})"
        )
    arts = artifacts or load_artifacts()
    d = _Deployer(client, sender, arts, log)
    final_admin = _admin_of(existing, admin, sender.address)
    _refuse_eoa_admin(client, network, final_admin, force=force, new=existing is None, log=log)
    if existing is not None:
        if existing.chain_id != chain_id:
            raise DeploymentError(
                f"the deployment file is for chain {existing.chain_id}, the node is chain "
                f"{chain_id}: pass the file of this chain, or --fresh"
            )
        _require_code(client, existing, arts, network, "before this run")
    log(f"deploying copyvault to {network.name} (chain {chain_id}) from {sender.address}")
    run = _Run(d, network, final_admin, existing, progress)
    run.core()
    run.audit_anchor(to_checksum_address(anchorer) if anchorer else final_admin)
    run.test_assets()
    run.real_tokens()
    run.venues()
    pending = _take_admin_actions(run, sender, admin_sender, log)
    deployment = run.deployment()
    _require_code(client, deployment, arts, network, "after this run")
    return DeployReport(deployment, run.steps, pending)


def _admin_of(existing: Deployment | None, admin: str | None, deployer: str) -> str:
    wanted = to_checksum_address(admin) if admin else None
    if existing is None:
        return wanted or to_checksum_address(deployer)
    if wanted is not None and wanted != existing.admin:
        raise DeploymentError(
            f"this deployment's platform admin is {existing.admin}, not {wanted}: roles move "
            "only by the admin's own grantRole and renounceRole, never by redeploying"
        )
    return existing.admin


def _take_admin_actions(
    run: _Run, sender: Sender, admin_sender: Sender | None, log: Callable[[str], None]
) -> list[AdminAction]:
    """Send the admin actions when we can act as the admin; else return them as pending."""
    actions = run.admin_actions()
    executor = next(
        (s for s in (sender, admin_sender) if s is not None and s.address == run.admin), None
    )
    if executor is None:
        for action in actions:
            log(f"  for the admin Safe: {action.description}")
        return actions
    for action in actions:
        executor.send(action.to, run.d.abi(action.contract).call_data(action.fn, *action.args))
        log(f"  {action.description}")
    if actions:
        run.done("admin actions")
    return []


def deploy_system(
    client: ChainClient,
    sender: Sender,
    *,
    admin: str | None = None,
    admin_sender: Sender | None = None,
    test_assets: bool = True,
    anchorer: str | None = None,
    artifacts: Artifacts | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Deployment:
    """A fresh deployment on a local chain (tests, benchmarks, the demo, `serve --local`): `deploy`
    with the local network's data; every admin action must be taken (by the deployer or
    `admin_sender`). `anchorer`: the key that publishes audit anchors (default: the admin)."""
    network = local_network(client.chain_id(), test_assets=test_assets)
    report = deploy(
        client,
        sender,
        network=network,
        admin=admin,
        admin_sender=admin_sender,
        anchorer=anchorer,
        artifacts=artifacts,
        log=log,
    )
    if report.pending:
        raise DeploymentError(
            f"{len(report.pending)} admin action(s) left for {report.deployment.admin}: pass "
            "admin_sender to take them"
        )
    return report.deployment


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
