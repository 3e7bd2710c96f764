"""ABI and creation bytecode of the reference systems, read from their npm packages.

Uniswap V2 and Safe 1.4.1 are deployed from the bytecode their authors published on npm (never from
look-alikes), so tests and benchmarks measure the real systems.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"

_ARTIFACTS = {
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
    "Safe": "@safe-global/safe-contracts/build/artifacts/contracts/Safe.sol/Safe.json",
    "SafeProxyFactory": (
        "@safe-global/safe-contracts/build/artifacts/contracts/proxies/SafeProxyFactory.sol/"
        "SafeProxyFactory.json"
    ),
    # Batches plain calls in one transaction (the indexer benchmark's event generator).
    "MultiSendCallOnly": (
        "@safe-global/safe-contracts/build/artifacts/contracts/libraries/MultiSendCallOnly.sol/"
        "MultiSendCallOnly.json"
    ),
    "CompatibilityFallbackHandler": (
        "@safe-global/safe-contracts/build/artifacts/contracts/handler/"
        "CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json"
    ),
}


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    runtime: bytes = b""  # the deployed code as published (auditors compare it with the chain's)

    @property
    def init_code_hash(self) -> bytes:
        """keccak256 of the creation code: what CREATE2 derivations (Uniswap pairs) hash."""
        return keccak(self.bytecode)


@cache
def load(name: str) -> Artifact:
    """The npm artifact called `name` (a key of the table above)."""
    try:
        relative = _ARTIFACTS[name]
    except KeyError:
        raise KeyError(f"unknown npm artifact {name!r}; known: {sorted(_ARTIFACTS)}") from None
    path = NODE_MODULES / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run the set-up (make setup) to install npm packages"
        )
    data = json.loads(path.read_text())
    code = data["bytecode"]
    # Hardhat builds (Safe) publish it as a string, truffle/waffle ones (Uniswap) under evm.
    runtime = data.get("deployedBytecode") or data.get("evm", {}).get("deployedBytecode", {})
    if isinstance(runtime, dict):
        runtime = runtime.get("object", "")
    return Artifact(
        name,
        data["abi"],
        bytes.fromhex(code.removeprefix("0x")),
        bytes.fromhex(runtime.removeprefix("0x")),
    )
