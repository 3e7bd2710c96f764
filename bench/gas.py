"""Exact gas of copyvault beside its anchors, on one anvil node in one run (docs/protocol.md §4).

    python -m bench.gas [--sizes 1,10,100,250] [--json reports/bench-gas.json]

What runs:

- a fresh anvil (hardfork Osaka, ``--enable-tx-gas-limit`` so the EIP-7825 per-transaction cap of
  2^24 gas is enforced; anvil 1.7.1 does not enforce it by default). Block times are deterministic
  (fixed genesis timestamp, one second per block), so every figure is reproducible to the gas;
- the anchors from their authors' npm bytecode: Uniswap V2 (factory, pair, Router02 if its
  hard-coded pair init code hash matches the npm pair) and Safe 1.4.1 (singleton, proxy factory,
  fallback handler), and an ERC-20 transfer of the token the vaults trade;
- copyvault from this project's contracts, compiled afresh by Ape (a full build, never incremental).

Two numbers per transaction: ``gas used`` (the receipt: what the sender pays, after refunds) and,
for the batches, ``gas limit`` (``eth_estimateGas``, checked by an ``eth_call`` at that limit that
every follower was mirrored, not skipped): the limit a transaction needs, which is what decides
whether it fits under the cap. Refunds make gas used optimistic for that question.

States are named so that like is compared with like: ``warm`` means the accounts involved already
hold the tokens and the vault has traded before (its executed-intent bitmap word and trade-count
slot are non-zero); ``cold`` means a first receipt of the output token (and a vault's first trade);
``steady`` means a Safe's or vault's operation nonce is already non-zero.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple
from web3 import Web3
from web3.logs import DISCARD

from backend.chain import eip712, npm_artifacts

REPO_ROOT = Path(__file__).resolve().parents[1]

TX_GAS_CAP = 2**24  # EIP-7825: the most gas one transaction may ask for (Osaka)
HARDFORK = "osaka"
# Above the per-transaction cap, so eth_estimateGas can say what a batch that does not fit needs.
BLOCK_GAS_LIMIT = 100_000_000
# 2025-06-02 00:00:00 UTC. With one second per block a run never crosses a UTC day.
GENESIS_TIMESTAMP = 1_748_822_400
DEADLINE = GENESIS_TIMESTAMP + 7 * 86_400
MAX_FEE_PER_GAS = 10**10
DEFAULT_SIZES = (1, 10, 100, 250)
DEFAULT_JSON = "reports/bench-gas.json"
# The search for the most followers per transaction never creates more vaults than this.
MAX_POOL = 1_000

WETH_PRICE_USD = 3_000
FEED_DECIMALS = 8
# Deep enough that 1,000 followers selling 10 % of 1 WETH each move the price far less than the
# vaults' 1 % slippage bound: every measured follower trades, none is skipped.
POOL_WETH = 1_000_000 * 10**18
POOL_USDC = POOL_WETH // 10**12 * WETH_PRICE_USD
VAULT_WETH = 10**18
FRACTION_BPS = 1_000
# The leader's limit: at least 2,850 USDC per WETH (raw units, 1e18-scaled).
MIN_PRICE = 2_850 * 10**6
# maxFraction, maxSlippage, maxOracleAge, maxTradesPerDay, lossBudget. The tests' DEFAULT_POLICY
# with room for the benchmark's many trades per vault and day (the cap's value costs no gas).
POLICY = (5_000, 100, 3_600, 1_000, 0)
POLICY_LOSS_BUDGET = (5_000, 100, 3_600, 1_000, 200)

COPYVAULT_CONTRACTS = (
    "LeaderRegistry",
    "PriceOracle",
    "VaultFactory",
    "CopyRouter",
    "CopyVault",
    "TestToken",
    "MockAggregator",
    "UniswapV2Venue",
)
PRECOMPILES = {1: "ecrecover (precompile)", 2: "sha256 (precompile)", 4: "identity (precompile)"}

Log = Callable[[str], None]


class BenchError(RuntimeError):
    """The benchmark could not measure what it set out to (a failed transaction, a skip...)."""


# ----------------------------------------------------------------------------- results


@dataclass
class Figure:
    """One row of the table."""

    key: str
    label: str
    state: str
    gas: int | None = None  # receipt gasUsed
    gas_limit: int | None = None  # eth_estimateGas: the gas limit the transaction needs
    count: int | None = None  # for "most followers" rows: the number of followers
    anchor: str | None = None  # key of the figure this one is compared with
    per: int = 1  # the figure's gas is divided by this before the comparison (per follower)
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None  # None: no target, or the target could not be evaluated
    note: str = ""
    short: str = ""  # how other rows name this one when they compare with it

    @property
    def result(self) -> str:
        if self.target is None:
            return ""
        return "n/a" if self.met is None else ("met" if self.met else "NOT MET")


@dataclass
class Report:
    meta: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    max_fit: dict[str, Any] = field(default_factory=dict)
    breakdown: dict[str, Any] = field(default_factory=dict)

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)

    def targets(self) -> list[dict[str, Any]]:
        return [
            {"figure": f.key, "target": f.target, "result": f.result, "ratio": f.ratio}
            for f in self.figures
            if f.target is not None
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "figures": [asdict(f) | {"result": f.result} for f in self.figures],
            "targets": self.targets(),
            "max_fit": self.max_fit,
            "breakdown": self.breakdown,
        }

    def format_table(self) -> str:
        head = (
            "Figure",
            "State",
            "Gas used",
            "Gas limit",
            "Compared with",
            "Ratio",
            "Target",
            "Result",
        )
        rows = [head]
        for f in self.figures:
            if f.count is not None:
                value = f"{f.count:,} followers" + ("+" if f.note.startswith("at least") else "")
            else:
                value = f"{f.gas:,}" if f.gas is not None else "—"
            anchor = self.figure(f.anchor) if f.anchor else None
            compared = ""
            if anchor is not None and f.ratio is not None:
                per_follower = f.per != 1 or f.key.endswith("marginal")
                compared = ("per follower vs " if per_follower else "vs ") + (
                    anchor.short or anchor.label
                )
            rows.append(
                (
                    f.label,
                    f.state,
                    value,
                    f"{f.gas_limit:,}" if f.gas_limit is not None else "",
                    compared,
                    f"{f.ratio:.3f}×" if f.ratio is not None else "",
                    f.target or "",
                    f.result,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        right = {2, 3, 5}

        def line(r: Sequence[str]) -> str:
            return " | ".join(
                c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)
            ).rstrip()

        out = [line(rows[0]), "-+-".join("-" * w for w in widths)]
        out += [line(r) for r in rows[1:]]
        notes = [f"  [{f.key}] {f.note}" for f in self.figures if f.note]
        if notes:
            out += ["", "Notes:", *notes]
        return "\n".join(out)

    def format_breakdown(self) -> str:
        out = []
        for item in self.breakdown.values():
            out.append(f"{item['title']}")
            for line in item["lines"]:
                out.append("  " + line)
            out.append("")
        return "\n".join(out).rstrip()


# ----------------------------------------------------------------------------- the node


def find_anvil() -> str:
    """anvil from the project's npm packages, else from PATH."""
    local = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if found is None:
        raise BenchError("anvil not found: run the set-up (make setup) to install the npm packages")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def anvil_node(log: Log) -> Iterator[tuple[str, str]]:
    """A private anvil on a free port: (url, version). Stopped (this process only) on exit."""
    binary = find_anvil()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    version_line = version.stdout.splitlines()[0].strip()
    for attempt in range(3):
        port = _free_port()
        cmd = [
            binary,
            "--hardfork", HARDFORK,
            "--enable-tx-gas-limit",
            "--gas-limit", str(BLOCK_GAS_LIMIT),
            "--timestamp", str(GENESIS_TIMESTAMP),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--accounts", "10",
            "--silent",
        ]  # fmt: skip
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors)
            url = f"http://127.0.0.1:{port}"
            try:
                if _wait_for_rpc(url, proc):
                    log(
                        f"anvil ({version_line}) on port {port}, hardfork {HARDFORK}, tx gas cap on"
                    )
                    yield url, version_line
                    return
                errors.seek(0)
                log(f"anvil did not start (attempt {attempt + 1}): {errors.read()[-500:]!r}")
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
    raise BenchError("could not start anvil")


def _wait_for_rpc(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> bool:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2}))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            return w3.eth.chain_id > 0
        except Exception:
            time.sleep(0.1)
    return False


class Node:
    """Thin JSON-RPC helpers over web3 for one anvil with automine."""

    def __init__(self, url: str):
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 600}))
        self.accounts = [to_checksum_address(a) for a in self.w3.eth.accounts]
        self.chain_id = self.w3.eth.chain_id
        # Every block one second after the last, whatever the wall clock: each transaction gets its
        # own block with a later timestamp (so a Uniswap pair always updates its price accumulators,
        # as in the first swap of a mainnet block) and the run is reproducible to the gas.
        self.rpc("anvil_setBlockTimestampInterval", [1])
        self._state_changed = True

    def rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)
        if "error" in response:
            raise RpcError(method, response["error"])
        return response["result"]

    def contract(self, address: str, abi: list[dict[str, Any]]):
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    def send(self, sender: str, to: str | None, data: str | bytes, gas: int = TX_GAS_CAP) -> str:
        """eth_sendTransaction (automine mines it at once); returns the transaction hash."""
        tx: dict[str, Any] = {
            "from": sender,
            "data": data if isinstance(data, str) else "0x" + data.hex(),
            "gas": hex(gas),
            "maxFeePerGas": hex(MAX_FEE_PER_GAS),
            "maxPriorityFeePerGas": "0x0",
        }
        if to is not None:
            tx["to"] = to
        self._state_changed = True
        return self.rpc("eth_sendTransaction", [tx])

    def receipt(self, tx_hash: str, *, require_success: bool = True):
        # anvil's automine mines right after eth_sendTransaction returns, not before: wait for it.
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=600, poll_latency=0.005)
        if require_success and receipt.status != 1:
            raise BenchError(f"transaction {tx_hash} failed (gas used {receipt.gasUsed})")
        return receipt

    def transact(self, sender: str, contract, fn: str, *args: Any, gas: int = TX_GAS_CAP):
        """Send `contract.fn(*args)` and return its (successful) receipt."""
        return self.receipt(
            self.send(sender, contract.address, contract.encode_abi(fn, args=list(args)), gas)
        )

    def deploy(self, sender: str, abi: list[dict[str, Any]], bytecode: str | bytes, *args: Any):
        code = bytes.fromhex(bytecode.removeprefix("0x")) if isinstance(bytecode, str) else bytecode
        ctor = next((e for e in abi if e.get("type") == "constructor"), {"inputs": []})
        types = [collapse_if_tuple(i) for i in ctor["inputs"]]
        receipt = self.receipt(self.send(sender, None, code + abi_encode(types, list(args))))
        return self.contract(receipt.contractAddress, abi)

    def fresh_block(self) -> None:
        """Mine an empty block if the chain changed since the last one.

        anvil runs eth_call/eth_estimateGas at the latest block's timestamp; a Uniswap pair swapped
        in that very block would skip its price accumulators there, unlike in the next real block.
        """
        if self._state_changed:
            self.rpc("evm_mine", [])
            self._state_changed = False

    def estimate(self, sender: str, to: str, data: str) -> tuple[int | None, str | None]:
        self.fresh_block()
        try:
            return int(
                self.rpc("eth_estimateGas", [{"from": sender, "to": to, "data": data}]), 16
            ), None
        except RpcError as exc:
            return None, exc.message

    def call(self, sender: str, to: str, data: str, gas: int | None = None) -> bytes:
        self.fresh_block()
        params: dict[str, Any] = {"from": sender, "to": to, "data": data}
        if gas is not None:
            params["gas"] = hex(gas)
        return bytes.fromhex(self.rpc("eth_call", [params, "latest"]).removeprefix("0x"))

    def trace(self, tx_hash: str) -> dict[str, Any]:
        return self.rpc("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])


class RpcError(Exception):
    def __init__(self, method: str, error: dict[str, Any]):
        self.message = str(error.get("message", error))
        super().__init__(f"{method}: {self.message}")


# ----------------------------------------------------------------------------- artifacts


def load_copyvault_artifacts() -> dict[str, tuple[list[dict[str, Any]], str]]:
    """ABI and creation bytecode of copyvault's contracts, compiled afresh.

    Always a full compile: Ape's incremental build recompiles only edited files, but VaultFactory
    embeds the vault and router creation code, so an edit to CopyVault.sol alone would leave a
    factory deploying the old vault.
    """
    from ape import Project  # imported late: Ape is slow to import and only needed here

    with redirect_stdout(sys.stderr):  # Ape's compiler messages are not part of the report
        contracts = Project(REPO_ROOT).load_contracts(use_cache=False)
    out = {}
    for name in COPYVAULT_CONTRACTS:
        contract_type = contracts[name].contract_type
        dumped = contract_type.model_dump(mode="json", by_alias=True)
        out[name] = (dumped["abi"], contract_type.deployment_bytecode.bytecode)
    return out


def _key(seed: str):
    return Account.from_key(keccak(text=f"copyvault.bench.{seed}"))


def _fmt(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


# ----------------------------------------------------------------------------- the benchmark


class GasBench:
    def __init__(
        self,
        node: Node,
        artifacts: dict[str, tuple[list[dict[str, Any]], str]],
        sizes: Sequence[int],
        fit_limit: int | None,
        breakdown: bool,
        log: Log,
    ):
        self.node = node
        self.art = artifacts
        self.sizes = sorted(set(sizes))
        self.fit_limit = fit_limit
        self.want_breakdown = breakdown
        self.log = log
        self.figures: list[Figure] = []
        self.max_fit: dict[str, Any] = {}
        self.breakdown: dict[str, Any] = {}
        self.traces: dict[str, str] = {}  # name -> tx hash, for the breakdown
        acc = node.accounts
        self.deployer, self.admin, self.relayer, self.trader, self.trader2 = acc[:5]
        self.depositor, self.recipient = acc[5:7]
        self.leader = _key("leader")
        self.owner_keys = sorted(
            (_key(f"owner{i}") for i in range(5)), key=lambda k: int(k.address, 16)
        )
        self.intent_nonce = 0
        self.salt = 0
        self.pool: list[str] = []
        self.labels: dict[str, str] = {}
        self.selectors: dict[bytes, str] = {}

    # ------------------------------------------------------------------ helpers

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        gas = (
            f"gas used {_fmt(figure.gas)}" if figure.count is None else f"{figure.count} followers"
        )
        limit = f", gas limit {_fmt(figure.gas_limit)}" if figure.gas_limit is not None else ""
        self.log(f"  {figure.label} [{figure.state}]: {gas}{limit}")
        return figure

    def name(self, contract, label: str):
        self.labels[contract.address.lower()] = label
        for entry in contract.abi:
            if entry.get("type") == "function":
                self.selectors.setdefault(function_abi_to_4byte_selector(entry), entry["name"])
        return contract

    def deploy_cv(self, name: str, *args: Any, label: str | None = None):
        abi, code = self.art[name]
        return self.name(self.node.deploy(self.deployer, abi, code, *args), label or name)

    def deploy_npm(self, name: str, *args: Any, label: str | None = None):
        artifact = npm_artifacts.load(name)
        return self.name(
            self.node.deploy(self.deployer, artifact.abi, artifact.bytecode, *args), label or name
        )

    def tx(self, sender: str, contract, fn: str, *args: Any, gas: int = TX_GAS_CAP):
        return self.node.transact(sender, contract, fn, *args, gas=gas)

    # ------------------------------------------------------------------ set-up

    def deploy(self) -> None:
        node = self.node
        self.log("deploying copyvault and the anchors")
        self.registry = self.deploy_cv("LeaderRegistry")
        self.oracle = self.deploy_cv("PriceOracle", self.admin)
        self.factory = self.deploy_cv(
            "VaultFactory", self.admin, self.registry.address, self.oracle.address
        )
        self.router = self.name(
            node.contract(self.factory.functions.router().call(), self.art["CopyRouter"][0]),
            "CopyRouter",
        )
        self.vault_abi = self.art["CopyVault"][0]
        implementation = self.factory.functions.vaultImplementation().call()
        self.name(node.contract(implementation, self.vault_abi), "CopyVault(impl)")
        self.weth = self.deploy_cv("TestToken", "Wrapped Ether", "WETH", 18, label="WETH")
        self.usdc = self.deploy_cv("TestToken", "USD Coin", "USDC", 6, label="USDC")
        self.feeds = [
            self.deploy_cv(
                "MockAggregator",
                FEED_DECIMALS,
                WETH_PRICE_USD * 10**FEED_DECIMALS,
                label="feed(WETH)",
            ),
            self.deploy_cv("MockAggregator", FEED_DECIMALS, 10**FEED_DECIMALS, label="feed(USDC)"),
        ]
        self.tx(self.admin, self.oracle, "setFeed", self.weth.address, self.feeds[0].address)
        self.tx(self.admin, self.oracle, "setFeed", self.usdc.address, self.feeds[1].address)

        self.uni_factory = self.deploy_npm("UniswapV2Factory", self.deployer)
        self.tx(self.deployer, self.uni_factory, "createPair", self.weth.address, self.usdc.address)
        pair_address = self.uni_factory.functions.getPair(
            self.weth.address, self.usdc.address
        ).call()
        self.pair = self.name(
            node.contract(pair_address, npm_artifacts.load("UniswapV2Pair").abi), "UniswapV2Pair"
        )
        self.tx(self.deployer, self.weth, "mint", pair_address, POOL_WETH)
        self.tx(self.deployer, self.usdc, "mint", pair_address, POOL_USDC)
        self.tx(self.deployer, self.pair, "mint", self.deployer)
        self.init_code_hash = npm_artifacts.load("UniswapV2Pair").init_code_hash
        self.venue = self.deploy_cv(
            "UniswapV2Venue", self.uni_factory.address, self.init_code_hash, label="UniswapV2Venue"
        )
        self.tx(self.admin, self.factory, "setVenueAllowed", self.venue.address, True)

        # Router02 hard-codes the pair init code hash it derives pair addresses with.
        router_code = npm_artifacts.load("UniswapV2Router02").bytecode
        self.router02_ok = self.init_code_hash in router_code
        self.router02 = None
        if self.router02_ok:
            weth9 = self.deploy_npm("WETH9")
            self.router02 = self.deploy_npm(
                "UniswapV2Router02", self.uni_factory.address, weth9.address
            )

        self.safe_singleton = self.deploy_npm("Safe", label="Safe(singleton)")
        self.safe_factory = self.deploy_npm("SafeProxyFactory")
        self.safe_handler = self.deploy_npm("CompatibilityFallbackHandler")

    def refresh_feeds(self) -> None:
        """Fresh oracle answers (maxOracleAge is an hour of one-second blocks)."""
        self.tx(self.deployer, self.feeds[0], "setAnswer", WETH_PRICE_USD * 10**FEED_DECIMALS)
        self.tx(self.deployer, self.feeds[1], "setAnswer", 10**FEED_DECIMALS)

    # ------------------------------------------------------------------ anchors

    def measure_anchors(self) -> None:
        self.log("anchors")
        weth, usdc = self.weth, self.usdc
        # ERC-20 transfer: sender and recipient already hold the token.
        self.tx(self.deployer, weth, "mint", self.trader, 1_000 * 10**18)
        self.tx(self.trader, weth, "transfer", self.recipient, 10**18)
        r = self.tx(self.trader, weth, "transfer", self.recipient, 10**18)
        self.add(
            Figure(
                "anchor.erc20_transfer",
                "ERC-20 transfer (OpenZeppelin 5 ERC20)",
                "warm",
                r.gasUsed,
                note="the token the vaults trade; sender and recipient already hold it",
            )
        )

        # Direct through the pair: an EOA cannot do transfer + swap in one transaction.
        self.tx(self.deployer, weth, "mint", self.trader2, 1_000 * 10**18)
        for state in ("cold", "warm"):
            amount = 10**18
            t1 = self.tx(self.trader2, weth, "transfer", self.pair.address, amount)
            out = self._pair_out(amount)
            weth_is_0 = int(weth.address, 16) < int(usdc.address, 16)
            outs = (0, out) if weth_is_0 else (out, 0)
            t2 = self.tx(self.trader2, self.pair, "swap", outs[0], outs[1], self.trader2, b"")
            if state == "warm":
                self.add(
                    Figure(
                        "anchor.pair_swap",
                        "Uniswap V2 swap via the pair (transfer + pair.swap)",
                        "warm",
                        t1.gasUsed + t2.gasUsed,
                        short="pair swap (2 txs)",
                        note=f"two transactions from an EOA (transfer {t1.gasUsed:,} + pair.swap "
                        f"{t2.gasUsed:,}), so two 21,000 bases: not the like-for-like anchor",
                    )
                )

        if self.router02 is not None:
            self.tx(self.trader, weth, "approve", self.router02.address, 2**256 - 1)
            for state in ("cold", "warm"):
                r = self.tx(
                    self.trader,
                    self.router02,
                    "swapExactTokensForTokens",
                    10**18,
                    self._pair_out(10**18) * 995 // 1000,
                    [weth.address, usdc.address],
                    self.trader,
                    DEADLINE,
                )
                self.traces[f"router02_{state}"] = Web3.to_hex(r.transactionHash)
                self.add(
                    Figure(
                        f"anchor.router02_swap_{state}",
                        "Uniswap V2 Router02 swapExactTokensForTokens",
                        state,
                        r.gasUsed,
                        short=f"Router02 swap ({state})",
                        note=(
                            "first receipt of the output token by the trader"
                            if state == "cold"
                            else "the bare-swap anchor: the trader holds both tokens, "
                            "allowance unlimited"
                        ),
                    )
                )
        else:
            self.add(
                Figure(
                    "anchor.router02_swap_warm",
                    "Uniswap V2 Router02 swapExactTokensForTokens",
                    "n/a",
                    note="n/a: init code hash mismatch (Router02's hard-coded hash differs from "
                    "the npm pair's); the pair-direct swap is the anchor instead",
                )
            )

        for owners, threshold in ((3, 2), (5, 3)):
            self._measure_safe(owners, threshold)

    def _pair_out(self, amount_in: int) -> int:
        r0, r1, _ = self.pair.functions.getReserves().call()
        weth_is_0 = int(self.weth.address, 16) < int(self.usdc.address, 16)
        r_in, r_out = (r0, r1) if weth_is_0 else (r1, r0)
        return amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)

    def _measure_safe(self, n: int, m: int) -> None:
        node = self.node
        keys = self.owner_keys[:n]
        safe_abi = npm_artifacts.load("Safe").abi
        zero = "0x" + "00" * 20
        setup = self.safe_singleton.encode_abi(
            "setup",
            args=[
                [k.address for k in keys],
                m,
                zero,
                b"",
                self.safe_handler.address,
                zero,
                0,
                zero,
            ],
        )
        r = self.tx(
            self.deployer,
            self.safe_factory,
            "createProxyWithNonce",
            self.safe_singleton.address,
            setup,
            n,
        )
        created = self.safe_factory.events.ProxyCreation().process_receipt(r, errors=DISCARD)
        safe = self.name(node.contract(created[0].args.proxy, safe_abi), f"Safe {m}-of-{n}")
        self.tx(self.deployer, self.weth, "mint", safe.address, 100 * 10**18)
        transfer = self.weth.encode_abi("transfer", args=[self.recipient, 10**18])
        gas = 0
        for _ in range(2):  # the first execution moves the nonce off zero: measure the second
            nonce = safe.functions.nonce().call()
            tx_args = [self.weth.address, 0, transfer, 0, 0, 0, 0, zero, zero]
            safe_hash = safe.functions.getTransactionHash(*tx_args, nonce).call()
            signatures = b"".join(
                _rsv(Account.unsafe_sign_hash(safe_hash, k.key)) for k in keys[:m]
            )  # keys are sorted by address, as Safe requires
            r = self.tx(self.relayer, safe, "execTransaction", *tx_args, signatures)
            gas = r.gasUsed
        self.traces[f"safe_{m}of{n}"] = Web3.to_hex(r.transactionHash)
        self.add(
            Figure(
                f"anchor.safe_{m}of{n}",
                f"Safe 1.4.1 {m}-of-{n} execTransaction (ERC-20 transfer)",
                "steady",
                gas,
                short=f"Safe {m}-of-{n}",
                note="second execution (nonce already non-zero); the recipient holds the token",
            )
        )

    # ------------------------------------------------------------------ copyvault: single vaults

    def create_vault_args(self, owners: Sequence[Any], threshold: int, policy=POLICY) -> list[Any]:
        self.salt += 1
        return [
            [k.address for k in owners],
            threshold,
            self.leader.address,
            policy,
            self.oracle.address,
            [self.weth.address, self.usdc.address],
            [self.venue.address],
            True,
            self.salt.to_bytes(32, "big"),
        ]

    def create_vault(self, owners: Sequence[Any], threshold: int, policy=POLICY):
        # The owners are offline keys; a funded account sends the creation.
        r = self.tx(
            self.deployer,
            self.factory,
            "createVault",
            *self.create_vault_args(owners, threshold, policy),
        )
        return self._vault_from(r), r

    def _vault_from(self, receipt):
        events = self.factory.events.VaultCreated().process_receipt(receipt, errors=DISCARD)
        vault = self.node.contract(events[0].args.vault, self.vault_abi)
        self.labels[vault.address.lower()] = "vault"
        return vault

    def signed_intent(self) -> tuple[tuple, bytes]:
        nonce = self.intent_nonce
        self.intent_nonce += 1
        if nonce >= 256:
            raise BenchError("more than 256 intents: the vaults' executed-bitmap word would change")
        intent = eip712.TradeIntent(
            leader=self.leader.address,
            venue=self.venue.address,
            token_in=self.weth.address,
            token_out=self.usdc.address,
            fraction_bps=FRACTION_BPS,
            min_price=MIN_PRICE,
            nonce=nonce,
            deadline=DEADLINE,
        )
        domain = eip712.Domain(
            chain_id=self.node.chain_id, verifying_contract=self.registry.address
        )
        signature = eip712.sign(self.leader.key, domain, intent)
        values = (
            intent.leader,
            intent.venue,
            intent.token_in,
            intent.token_out,
            intent.fraction_bps,
            intent.min_price,
            intent.nonce,
            intent.deadline,
        )
        return values, signature

    def sign_withdrawal(self, vault, signers, token, amount, to) -> tuple[list[str], list[bytes]]:
        message = eip712.Withdrawal(
            token=token,
            amount=amount,
            to=to,
            nonce=vault.functions.nonce().call(),
            deadline=DEADLINE,
        )
        domain = eip712.Domain(chain_id=self.node.chain_id, verifying_contract=vault.address)
        ordered = sorted(signers, key=lambda k: int(k.address, 16))
        return [k.address for k in ordered], [eip712.sign(k.key, domain, message) for k in ordered]

    def measure_vault_operations(self) -> None:
        self.log("copyvault: creation, deposit, withdrawals, single mirror")
        self.create_vault(self.owner_keys[:3], 2)  # the factory's vault list is no longer empty
        vault, r = self.create_vault(self.owner_keys[:3], 2)
        self.add(
            Figure(
                "cv.create_vault",
                "createVault (2-of-3, 2 assets, 1 venue, clone)",
                "new vault",
                r.gasUsed,
                note="an EIP-1167 clone at a CREATE2 address, initialised in the same transaction",
            )
        )

        # Deposits: the depositor approved the vault once (unlimited).
        self.tx(self.deployer, self.weth, "mint", self.depositor, 1_000 * 10**18)
        self.tx(self.depositor, self.weth, "approve", vault.address, 2**256 - 1)
        for state in ("cold", "warm"):
            r = self.tx(self.depositor, vault, "deposit", self.weth.address, 10 * 10**18)
            self.add(
                Figure(
                    f"cv.deposit_{state}",
                    "deposit (ERC-20, balance-delta accounting)",
                    state,
                    r.gasUsed,
                    note=(
                        "the vault's first balance of the token"
                        if state == "cold"
                        else "the vault already holds the token; no sanctions list set"
                    ),
                )
            )

        vault5, _ = self.create_vault(self.owner_keys[:5], 3)
        self.tx(self.depositor, self.weth, "approve", vault5.address, 2**256 - 1)
        self.tx(self.depositor, vault5, "deposit", self.weth.address, 10 * 10**18)
        for v, signers, label, anchor in (
            (vault, self.owner_keys[:2], "2of3", "anchor.safe_2of3"),
            (vault5, self.owner_keys[:3], "3of5", "anchor.safe_3of5"),
        ):
            gas = 0
            for _ in range(
                2
            ):  # steady nonce and a recipient that already holds the token, as for the Safe
                addrs, sigs = self.sign_withdrawal(
                    v, signers, self.weth.address, 10**18, self.recipient
                )
                r = self.tx(
                    self.relayer,
                    v,
                    "withdraw",
                    self.weth.address,
                    10**18,
                    self.recipient,
                    DEADLINE,
                    addrs,
                    sigs,
                )
                gas = r.gasUsed
            self.traces[f"withdraw_{label}"] = Web3.to_hex(r.transactionHash)
            m, n = label.split("of")
            is_target = label == "2of3"
            self.add(
                Figure(
                    f"cv.withdraw_{label}",
                    f"vault {m}-of-{n} withdrawal (ERC-20)",
                    "steady",
                    gas,
                    anchor=anchor,
                    target="< Safe 2-of-3 transfer" if is_target else None,
                )
            )

        # Single-vault mirror, sent straight to the vault by a relayer.
        self.refresh_feeds()
        for key, policy, states in (
            ("cv.mirror", POLICY, ("cold", "warm")),
            ("cv.mirror_loss_budget", POLICY_LOSS_BUDGET, ("cold", "warm")),
        ):
            v, _ = self.create_vault(self.owner_keys[:3], 2, policy)
            self.tx(self.deployer, self.weth, "mint", v.address, VAULT_WETH)
            for state in states:
                intent, sig = self.signed_intent()
                r = self.tx(self.relayer, v, "mirror", intent, sig)
                if self.router02 is not None:
                    anchor = f"anchor.router02_swap_{state}"
                else:
                    anchor = "anchor.pair_swap" if state == "warm" else None
                suffix = "" if state == "warm" else "_cold"
                if key == "cv.mirror":
                    self.traces[f"mirror_{state}"] = Web3.to_hex(r.transactionHash)
                    note = (
                        "the vault's first trade: executed-bitmap word, trade-count slot and USDC "
                        "balance go from zero"
                        if state == "cold"
                        else "the vault traded before (same day, same bitmap word) and holds "
                        "both tokens"
                    )
                    label = "single-vault mirror (vault.mirror, every §1.3 check)"
                else:
                    note = "policy with a 2 % loss budget (the decaying-loss bookkeeping runs too)"
                    label = "single-vault mirror, loss budget on"
                self.add(
                    Figure(
                        key + suffix,
                        label,
                        state,
                        r.gasUsed,
                        anchor=anchor,
                        target="≤ 1.6 × bare swap" if key + suffix == "cv.mirror" else None,
                        note=note,
                    )
                )

    # ------------------------------------------------------------------ copyvault: batches

    def grow_pool(self, size: int) -> None:
        """At least `size` follower vaults, each funded with 1 WETH and warm (it traded once)."""
        size = min(size, MAX_POOL)
        if len(self.pool) >= size:
            return
        start = time.monotonic()
        new = size - len(self.pool)
        owners = self.owner_keys[:3]
        hashes = [
            self.node.send(
                self.deployer,
                self.factory.address,
                self.factory.encode_abi("createVault", args=self.create_vault_args(owners, 2)),
                gas=2_000_000,
            )
            for _ in range(new)
        ]
        vaults = [self._vault_from(self.node.receipt(h)).address for h in hashes]
        funding = [
            self.node.send(
                self.deployer,
                self.weth.address,
                self.weth.encode_abi("mint", args=[v, VAULT_WETH]),
                gas=200_000,
            )
            for v in vaults
        ]
        for h in funding:
            self.node.receipt(h)
        self.refresh_feeds()
        for i in range(0, len(vaults), 50):  # one trade each: the vaults are warm from then on
            chunk = vaults[i : i + 50]
            intent, sig = self.signed_intent()
            r = self.tx(self.relayer, self.router, "mirrorAggregated", intent, sig, chunk)
            self._check_mirrored(r, len(chunk))
        self.pool += vaults
        self.log(
            f"  follower vaults: {len(self.pool)} ({new} new, {time.monotonic() - start:.1f} s)"
        )

    def _check_mirrored(self, receipt, n: int) -> None:
        batch = self.router.events.BatchMirrored().process_receipt(receipt, errors=DISCARD)
        if not batch or batch[0].args.mirrored != n or batch[0].args.skipped != 0:
            raise BenchError(f"batch of {n} did not mirror every vault: {batch}")

    def batch_data(self, mode: str, intent, sig, n: int) -> str:
        if n > len(self.pool):
            raise BenchError(f"{n} followers asked for, {len(self.pool)} vaults in the pool")
        return self.router.encode_abi(mode, args=[intent, sig, self.pool[:n]])

    def gas_needed(self, mode: str, intent, sig, n: int) -> tuple[int | None, str]:
        """The gas limit a batch of `n` needs for every follower to be mirrored (not skipped).

        eth_estimateGas finds the least limit at which the transaction succeeds; the router catches
        a follower's failure (out of gas too) and skips it, so the estimate is confirmed with an
        eth_call at that limit and raised until all `n` are mirrored.
        """
        data = self.batch_data(mode, intent, sig, n)
        estimate, error = self.node.estimate(self.relayer, self.router.address, data)
        if estimate is None:
            return None, f"eth_estimateGas failed: {error}"
        if estimate > TX_GAS_CAP:
            return estimate, "needs more than the cap"

        def all_mirrored(gas: int) -> bool:
            try:
                out = self.node.call(self.relayer, self.router.address, data, gas)
            except RpcError:
                return False
            return abi_decode(["uint256"], out[:32])[0] == n

        if all_mirrored(estimate):
            return estimate, "eth_estimateGas"
        if not all_mirrored(TX_GAS_CAP):
            return None, "fewer than all followers mirrored even at the cap"
        lo, hi = estimate, TX_GAS_CAP
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if all_mirrored(mid) else (mid, hi)
        return (
            hi,
            f"raised from eth_estimateGas {estimate:,}: the estimate let followers be skipped",
        )

    def measure_batches(self) -> None:
        self.log("copyvault: batches")
        self.grow_pool(max(self.sizes))
        swap = "anchor.router02_swap_warm" if self.router02 is not None else "anchor.pair_swap"
        self.swap_anchor = swap
        results: dict[str, dict[int, Figure]] = {"mirrorBatch": {}, "mirrorAggregated": {}}
        for n in self.sizes:
            self.refresh_feeds()
            for mode in ("mirrorAggregated", "mirrorBatch"):
                intent, sig = self.signed_intent()
                limit, how = self.gas_needed(mode, intent, sig, n)
                fig = Figure(
                    f"cv.{mode}.{n}",
                    f"{mode} N={n}",
                    "warm",
                    gas_limit=limit,
                    anchor=swap,
                    per=n,
                )
                if limit is not None and limit <= TX_GAS_CAP:
                    r = self.tx(self.relayer, self.router, mode, intent, sig, self.pool[:n])
                    self._check_mirrored(r, n)
                    fig.gas = r.gasUsed
                    self.traces[f"{mode}.{n}"] = Web3.to_hex(r.transactionHash)
                else:
                    fig.note = (
                        f"not sent: needs a gas limit of {_fmt(limit)} > 2^24 = {TX_GAS_CAP:,} "
                        "(eth_estimateGas; gas used would be about the same less refunds)"
                        if limit is not None
                        else f"not sent: {how}"
                    )
                if "raised" in how:
                    fig.note = (fig.note + "; " if fig.note else "") + how
                results[mode][n] = self.add(fig)
        self.batch_results = results

        for mode, label in (("mirrorBatch", "sequential"), ("mirrorAggregated", "aggregated")):
            figs = results[mode]
            pair = (10, 100) if {10, 100} <= figs.keys() else tuple(sorted(figs)[-2:])
            if len(pair) < 2:
                continue
            a, b = figs[pair[0]], figs[pair[1]]
            if a.gas is not None and b.gas is not None:
                marginal, basis = (b.gas - a.gas) / (pair[1] - pair[0]), "gas used"
            elif a.gas_limit is not None and b.gas_limit is not None:
                marginal, basis = (
                    (b.gas_limit - a.gas_limit) / (pair[1] - pair[0]),
                    "gas limit (estimate)",
                )
            else:
                continue
            is_target = mode == "mirrorAggregated"
            at_100 = pair == (10, 100)
            self.add(
                Figure(
                    f"cv.{mode}.marginal",
                    f"{mode} marginal per follower (N={pair[0]}→{pair[1]})",
                    "warm",
                    round(marginal),
                    anchor=swap,
                    target=("≤ 0.6 × bare swap (at N=100)" if is_target else None),
                    note=f"({label}) difference of {basis} between N={pair[1]} and N={pair[0]}, "
                    f"divided by {pair[1] - pair[0]}"
                    + (
                        ""
                        if at_100 or not is_target
                        else "; the target is for N=10→100: not measured"
                    ),
                )
            )
            if is_target:
                self.marginal_at_100 = at_100

    def measure_max_fit(self) -> None:
        self.log("most followers in one transaction under the cap")
        for mode in ("mirrorAggregated", "mirrorBatch"):
            figs = self.batch_results[mode]
            known = {n: f.gas_limit for n, f in figs.items()}
            fits = {n: g for n, g in known.items() if g is not None and g <= TX_GAS_CAP}
            too_big = [n for n, g in known.items() if g is None or g > TX_GAS_CAP]
            if self.fit_limit is not None:
                limit = self.fit_limit
            else:
                # Predict from the two largest fitting sizes, then leave room above the prediction.
                pts = sorted(fits.items())[-2:]
                if len(pts) == 2 and pts[1][1] > pts[0][1]:
                    per = (pts[1][1] - pts[0][1]) / (pts[1][0] - pts[0][0])
                    predicted = pts[1][0] + (TX_GAS_CAP - pts[1][1]) / per
                    limit = math.ceil(predicted * 1.1) + 10
                else:
                    limit = max(self.sizes) + 10
                if too_big:
                    limit = min(limit, min(too_big) - 1)
                limit = min(limit, MAX_POOL)
            self.grow_pool(limit)
            limit = min(limit, len(self.pool))
            self.refresh_feeds()
            intent, sig = self.signed_intent()
            lo = max((n for n in fits if n <= limit), default=0)
            hi = min([n for n in too_big if n <= limit + 1] + [limit + 1])
            probes: dict[int, int | None] = {}
            while hi - lo > 1:
                mid = (lo + hi) // 2
                gas, _ = self.gas_needed(mode, intent, sig, mid)
                probes[mid] = gas
                lo, hi = (mid, hi) if gas is not None and gas <= TX_GAS_CAP else (lo, mid)
            best = lo
            # Every size up to the search limit fits and nothing above it was tried: the true
            # maximum may be larger (only when the search limit or the vault pool is too small).
            bounded = hi == limit + 1 and hi not in too_big and hi not in probes
            at_best, _ = self.gas_needed(mode, intent, sig, best) if best else (None, "")
            above = None
            if not bounded:
                above, _ = self.gas_needed(mode, intent, sig, best + 1)
            # Send it with exactly that gas limit: the estimate really suffices.
            confirmed = None
            if best and at_best is not None:
                r = self.node.receipt(
                    self.node.send(
                        self.relayer,
                        self.router.address,
                        self.batch_data(mode, intent, sig, best),
                        at_best,
                    )
                )
                self._check_mirrored(r, best)
                confirmed = r.gasUsed
            self.max_fit[mode] = {
                "max_followers": best,
                "at_least": bounded,
                "search_limit": limit,
                "gas_limit_at_max": at_best,
                "gas_limit_at_max_plus_1": above,
                "gas_used_when_sent_with_that_limit": confirmed,
                "probes": {str(k): v for k, v in sorted(probes.items())},
            }
            is_target = mode == "mirrorAggregated"
            extra = f"; N={best + 1} needs {_fmt(above)}" if above is not None else ""
            self.add(
                Figure(
                    f"cv.{mode}.max_fit",
                    f"{mode}: most followers in one tx ≤ 2^24",
                    "warm",
                    gas=confirmed,
                    gas_limit=at_best,
                    count=best,
                    target="≥ 250 followers" if is_target else None,
                    note=(
                        f"at least {best}: every size up to the search limit fits"
                        if bounded
                        else f"largest N with eth_estimateGas ≤ {TX_GAS_CAP:,}{extra}; sent with "
                        f"gas limit {_fmt(at_best)}, all {best} mirrored"
                    ),
                )
            )

    # ------------------------------------------------------------------ targets and ratios

    def evaluate(self) -> None:
        by_key = {f.key: f for f in self.figures}
        for f in self.figures:
            anchor = by_key.get(f.anchor) if f.anchor else None
            if anchor is not None and anchor.gas and f.gas is not None:
                f.ratio = f.gas / f.per / anchor.gas
            if f.target is None:
                continue
            if f.key == "cv.withdraw_2of3":
                f.met = f.gas < anchor.gas if anchor and anchor.gas else None
            elif f.key == "cv.mirror":
                f.met = f.ratio <= 1.6 if f.ratio is not None else None
            elif f.key == "cv.mirrorAggregated.marginal":
                evaluable = getattr(self, "marginal_at_100", False)
                f.met = (f.ratio <= 0.6) if evaluable and f.ratio is not None else None
            elif f.key == "cv.mirrorAggregated.max_fit":
                f.met = True if f.count >= 250 else (None if self.fit_limit is not None else False)

    # ------------------------------------------------------------------ where the gas goes

    def explain(self) -> None:
        if not self.want_breakdown:
            return
        try:
            self._explain()
        except RpcError as exc:  # tracing is an extra: never fail the benchmark over it
            self.log(f"  breakdown skipped: {exc}")

    def _label(self, frame: dict[str, Any]) -> str:
        to = (frame.get("to") or "").lower()
        if to and int(to, 16) < 0x100:
            return PRECOMPILES.get(int(to, 16), f"precompile {to}")
        who = self.labels.get(to, to[:10])
        data = bytes.fromhex((frame.get("input") or "0x").removeprefix("0x"))
        fn = self.selectors.get(data[:4], data[:4].hex()) if len(data) >= 4 else "()"
        kind = frame.get("type", "CALL")
        suffix = "" if kind in ("CALL",) else f" [{kind}]"
        return f"{who}.{fn}{suffix}"

    def _aggregate(self, tx_hash: str) -> tuple[dict[tuple[str, ...], list[int]], int, int]:
        """path of labels -> [calls, gas, self gas]; and the receipt's gas used and calldata gas."""
        frame = self.node.trace(tx_hash)
        acc: dict[tuple[str, ...], list[int]] = {}

        def walk(f: dict[str, Any], path: tuple[str, ...]) -> None:
            p = (*path, self._label(f))
            children = f.get("calls") or []
            used = int(f.get("gasUsed", "0x0"), 16)
            child = sum(int(c.get("gasUsed", "0x0"), 16) for c in children)
            slot = acc.setdefault(p, [0, 0, 0])
            slot[0] += 1
            slot[1] += used
            slot[2] += used - child
            for c in children:
                walk(c, p)

        walk(frame, ())
        tx = self.node.w3.eth.get_transaction(tx_hash)
        receipt = self.node.receipt(tx_hash)
        data = bytes(tx["input"])
        calldata = sum(4 if b == 0 else 16 for b in data)
        return acc, receipt.gasUsed, calldata

    def _explain(self) -> None:
        self.log("where the gas goes (debug_traceTransaction, callTracer)")
        trees = (
            ("mirror_warm", "single-vault mirror (warm)"),
            ("router02_warm", "Router02 swapExactTokensForTokens (warm), the bare-swap anchor"),
            ("withdraw_2of3", "vault 2-of-3 withdrawal (steady)"),
            ("safe_2of3", "Safe 1.4.1 2-of-3 execTransaction (steady)"),
        )
        for key, title in trees:
            if key not in self.traces:
                continue
            acc, used, calldata = self._aggregate(self.traces[key])
            lines = [
                f"gas used {used:,} = 21,000 base + {calldata:,} calldata + execution - refunds. "
                "A frame's gas includes its sub-calls and 'self' is its own code; the top frame is "
                "the receipt's gas used (so its self includes base, calldata and refunds), and a "
                "CALL's cold-account surcharge (2,600) counts in the caller's self gas.",
            ]
            for path, (_calls, gas, own) in acc.items():
                indent = "  " * (len(path) - 1)
                lines.append(f"{indent}{path[-1]}: {gas:,} (self {own:,})")
            self.breakdown[key] = {
                "title": f"{title}: call tree",
                "gas_used": used,
                "calldata_gas": calldata,
                "frames": {
                    " > ".join(p): {"calls": c, "gas": g, "self": s} for p, (c, g, s) in acc.items()
                },
                "lines": lines,
            }
        for mode in ("mirrorAggregated", "mirrorBatch"):
            sizes = sorted(int(k.split(".")[1]) for k in self.traces if k.startswith(mode + "."))
            if len(sizes) < 2:
                continue
            lo_n, hi_n = (10, 100) if {10, 100} <= set(sizes) else (sizes[-2], sizes[-1])
            lo, lo_used, lo_cd = self._aggregate(self.traces[f"{mode}.{lo_n}"])
            hi, hi_used, hi_cd = self._aggregate(self.traces[f"{mode}.{hi_n}"])
            span = hi_n - lo_n
            lines = [
                f"marginal per follower {(hi_used - lo_used) / span:,.0f} gas (N={lo_n}→{hi_n}), "
                f"calldata {(hi_cd - lo_cd) / span:,.0f} of it. Per call path: calls per follower, "
                "gas per follower (self gas per follower)",
            ]
            frames = {}
            for path in hi:
                c1, g1, s1 = hi[path]
                c0, g0, s0 = lo.get(path, [0, 0, 0])
                dc, dg, ds = (c1 - c0) / span, (g1 - g0) / span, (s1 - s0) / span
                frames[" > ".join(path)] = {"calls": dc, "gas": dg, "self": ds}
                if abs(dg) < 1 and dc == 0:
                    continue
                indent = "  " * (len(path) - 1)
                lines.append(f"{indent}{path[-1]}: ×{dc:g}  {dg:,.0f} (self {ds:,.0f})")
            self.breakdown[f"{mode}_marginal"] = {
                "title": f"{mode}: marginal gas per follower by call path (N={lo_n}→{hi_n})",
                "frames": frames,
                "lines": lines,
            }

    # ------------------------------------------------------------------ driver

    def check_cap_enforced(self) -> None:
        """A transaction asking for more than 2^24 gas must be refused, else nothing here holds."""
        try:
            self.node.send(self.deployer, self.deployer, b"", gas=TX_GAS_CAP + 1)
        except RpcError as exc:
            self.cap_message = exc.message
            return
        raise BenchError(
            "anvil accepted a transaction above 2^24 gas: the EIP-7825 cap is not enforced"
        )

    def run(self) -> None:
        self.check_cap_enforced()
        self.deploy()
        self.measure_anchors()
        self.measure_vault_operations()
        self.measure_batches()
        self.measure_max_fit()
        self.evaluate()
        self.explain()


def _rsv(signed) -> bytes:
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    fit_limit: int | None = None,
    breakdown: bool = True,
    log: Log | None = None,
) -> Report:
    """Run the whole benchmark on a private anvil and return the report."""
    if not sizes or min(sizes) < 1:
        raise ValueError("sizes must be positive")
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    started = time.monotonic()
    artifacts = load_copyvault_artifacts()
    with anvil_node(log) as (url, version):
        node = Node(url)
        bench = GasBench(node, artifacts, sizes, fit_limit, breakdown, log)
        bench.run()
    meta = {
        "anvil": version,
        "hardfork": HARDFORK,
        "tx_gas_cap": TX_GAS_CAP,
        "tx_gas_cap_enforced": True,
        "tx_gas_cap_rejection": bench.cap_message,
        "block_gas_limit": BLOCK_GAS_LIMIT,
        "sizes": list(bench.sizes),
        "fit_limit": fit_limit,
        "bare_swap_anchor": bench.swap_anchor,
        "router02_init_code_hash_matches": bench.router02_ok,
        "pair_init_code_hash": "0x" + bench.init_code_hash.hex(),
        "policy": dict(
            zip(
                (
                    "maxFractionBps",
                    "maxSlippageBps",
                    "maxOracleAge",
                    "maxTradesPerDay",
                    "lossBudgetBps",
                ),
                POLICY,
                strict=True,
            )
        ),
        "intent": {"fractionBps": FRACTION_BPS, "minPrice": MIN_PRICE},
        "gas_used": "receipt gasUsed (after refunds)",
        "gas_limit": "eth_estimateGas, confirmed by eth_call that every follower was mirrored",
        "seconds": round(time.monotonic() - started, 1),
    }
    return Report(meta, bench.figures, bench.max_fit, bench.breakdown)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gas", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="batch sizes N (1,10,100,250)"
    )
    parser.add_argument(
        "--json",
        default=DEFAULT_JSON,
        help=f"where to write the JSON report ({DEFAULT_JSON}); '' for none",
    )
    parser.add_argument(
        "--fit-limit",
        type=int,
        default=None,
        help="largest N the max-followers search tries (default: predicted from the batch figures)",
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip the call-trace breakdown")
    args = parser.parse_args(argv)
    report = run(args.sizes, args.fit_limit, not args.no_breakdown)
    print(report.format_table())
    if report.breakdown:
        print()
        print(report.format_breakdown())
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        print(f"\nJSON report: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
