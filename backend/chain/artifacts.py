"""ABIs and bytecode of copyvault's contracts, read from the project's compiled artifacts.

`ape compile` writes every contract type into `.build/__local__.json`; the backend reads that file
(plain JSON, no Ape import) so the ABIs it decodes with are exactly those of the compiled code,
never a hand-copied list that can drift. `ensure_compiled` runs `ape compile` in a subprocess
for the CLI when the file is missing or older than a source.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from eth_utils import function_signature_to_4byte_selector, keccak

from backend.exceptions import ArtifactError

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DEFAULT_ARTIFACTS: Final = REPO_ROOT / ".build" / "__local__.json"
CONTRACTS_DIR: Final = REPO_ROOT / "contracts"

# The contracts whose events the indexer follows, and whose errors name MirrorSkipped reasons.
SYSTEM_CONTRACTS: Final = (
    "VaultFactory",
    "LeaderRegistry",
    "CopyRouter",
    "CopyVault",
    "PriceOracle",
    "UniswapV2Venue",
)

# Errors every EVM contract can raise without declaring them.
BUILTIN_ERRORS: Final = {
    bytes.fromhex("08c379a0"): "Error(string)",
    bytes.fromhex("4e487b71"): "Panic(uint256)",
}


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes

    def events(self) -> list[dict[str, Any]]:
        return [item for item in self.abi if item.get("type") == "event"]

    def errors(self) -> list[dict[str, Any]]:
        return [item for item in self.abi if item.get("type") == "error"]


def canonical_type(param: dict[str, Any]) -> str:
    """The ABI type as it appears in a signature: tuples spelled out, array suffixes kept."""
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def signature(item: dict[str, Any]) -> str:
    """`Name(type1,type2)` of an ABI event, error or function."""
    return f"{item['name']}({','.join(canonical_type(p) for p in item.get('inputs', []))})"


def event_topic(item: dict[str, Any]) -> bytes:
    return keccak(text=signature(item))


def error_selector(item: dict[str, Any]) -> bytes:
    return function_signature_to_4byte_selector(signature(item))


class Artifacts:
    """The compiled contract types of one `ape compile` output file."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else DEFAULT_ARTIFACTS
        if not self.path.is_file():
            raise ArtifactError(
                f"compiled contracts not found at {self.path}: run `ape compile` in the project "
                "root (or point COPYVAULT_ARTIFACTS_FILE at an ape .build/__local__.json)"
            )
        try:
            data = json.loads(self.path.read_text())
            self._types: dict[str, Any] = data["contractTypes"]
        except (ValueError, KeyError) as exc:
            raise ArtifactError(
                f"{self.path} is not an ape build file ({exc}); delete it and run `ape compile`"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._types)

    def get(self, name: str) -> CompiledContract:
        try:
            contract_type = self._types[name]
        except KeyError:
            raise ArtifactError(
                f"{self.path} has no contract {name!r}: run `ape compile` to rebuild it"
            ) from None
        code = (contract_type.get("deploymentBytecode") or {}).get("bytecode") or "0x"
        return CompiledContract(name, contract_type["abi"], bytes.fromhex(code.removeprefix("0x")))

    def runtime_code(self, name: str) -> bytes:
        """The runtime bytecode `name` compiles to (immutables left blank), for code checks."""
        self.get(name)  # the same error for an unknown name
        code = (self._types[name].get("runtimeBytecode") or {}).get("bytecode") or "0x"
        return bytes.fromhex(code.removeprefix("0x"))

    def error_names(self, contracts: Iterable[str] | None = None) -> dict[bytes, str]:
        """4-byte selector -> error signature, over `contracts` (default: every compiled type)."""
        table = dict(BUILTIN_ERRORS)
        for name in contracts if contracts is not None else self.names():
            for item in self.get(name).errors():
                table.setdefault(error_selector(item), signature(item))
        return table


@cache
def load(path: Path | None = None) -> Artifacts:
    """The artifacts at `path` (default `.build/__local__.json`), read once per process."""
    return Artifacts(path)


def stale_sources(path: Path | None = None) -> list[Path]:
    """Contract sources newer than the artifacts file (all of them when it is missing)."""
    target = Path(path) if path is not None else DEFAULT_ARTIFACTS
    sources = sorted(CONTRACTS_DIR.rglob("*.sol"))
    if not target.is_file():
        return sources
    built = target.stat().st_mtime
    return [s for s in sources if s.stat().st_mtime > built]


def ensure_compiled(path: Path | None = None) -> None:
    """Run `ape compile` (a subprocess: the backend never imports Ape) when sources are newer."""
    if not stale_sources(path):
        return
    ape = shutil.which("ape") or str(Path(sys.executable).with_name("ape"))
    if not Path(ape).exists() and shutil.which(ape) is None:
        raise ArtifactError(
            "contracts are not compiled and `ape` is not installed: run the set-up (make setup), "
            "then `ape compile`"
        )
    result = subprocess.run([ape, "compile"], cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise ArtifactError(f"`ape compile` failed:\n{result.stdout}\n{result.stderr}".rstrip())
    load.cache_clear()
