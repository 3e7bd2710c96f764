"""Simulating a mirrorAggregated call before sending it: `eth_simulateV1` on the latest block.

One simulation answers what the relayer needs to decide a batch: whether the call would revert (and
with which error), the gas it uses, and its logs (which vaults the router would skip, and why).
eth_call alone gives no gas figure and no logs. The node must implement eth_simulateV1 (geth
1.14.9+, reth, Nethermind, Erigon, anvil 1.x); the relayer says so when it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.chain.abi import ContractAbi
from backend.chain.client import ChainClient
from backend.exceptions import ChainError, RpcError


@dataclass(frozen=True)
class Simulation:
    ok: bool
    gas_used: int
    mirrored: int = 0
    total_in: int = 0
    total_out: int = 0
    # A revert: its data (selector + arguments), and the error's signature when it is known.
    revert_data: bytes = b""
    reason: str = ""

    @property
    def selector(self) -> str:
        return "0x" + self.revert_data[:4].hex() if len(self.revert_data) >= 4 else "0x00000000"


class NodeCannotSimulateError(ChainError):
    """The node does not implement eth_simulateV1."""


class MirrorSimulator:
    """Simulates `router.mirrorAggregated(intent, signature, vaults)` from the relayer's account."""

    def __init__(
        self,
        client: ChainClient,
        *,
        router: str,
        router_abi: ContractAbi,
        sender: str,
        error_names: dict[bytes, str],
    ):
        self.client = client
        self.router = router
        self.sender = sender
        self._mirror = router_abi.fn("mirrorAggregated")
        self._error_names = error_names

    def call_data(self, intent: tuple, signature: bytes, vaults: Sequence[str]) -> bytes:
        return self._mirror.encode(intent, signature, list(vaults))

    def reason_of(self, revert_data: bytes) -> str:
        """The error's signature ("BatchOutOfGas()"), or a description of unknown data."""
        if len(revert_data) < 4:
            return "reverted without an error (out of gas, or a failed call without data)"
        name = self._error_names.get(revert_data[:4])
        return name or f"unknown error 0x{revert_data[:4].hex()}"

    def simulate(
        self, intent: tuple, signature: bytes, vaults: Sequence[str], *, gas: int
    ) -> Simulation:
        call = {
            "from": self.sender,
            "to": self.router,
            "data": "0x" + self.call_data(intent, signature, vaults).hex(),
            "gas": hex(gas),
        }
        payload = {"blockStateCalls": [{"calls": [call]}], "validation": False}
        try:
            blocks = self.client.request("eth_simulateV1", [payload, "latest"])
        except RpcError as exc:
            if exc.code == -32601 or "not supported" in str(exc).lower():
                raise NodeCannotSimulateError(
                    "the node does not implement eth_simulateV1, which the relayer needs to "
                    "simulate batches: use geth 1.14.9+, reth, Nethermind, Erigon or anvil 1.x"
                ) from None
            raise
        return self._result(blocks[0]["calls"][0])

    def _result(self, result: dict[str, Any]) -> Simulation:
        gas_used = int(result.get("gasUsed", "0x0"), 16)
        if int(result.get("status", "0x0"), 16) == 1:
            mirrored, total_in, total_out = self._mirror.decode(
                bytes.fromhex(result["returnData"][2:])
            )
            return Simulation(True, gas_used, mirrored, total_in, total_out)
        revert = _revert_data(result)
        return Simulation(False, gas_used, revert_data=revert, reason=self.reason_of(revert))


def _revert_data(result: dict[str, Any]) -> bytes:
    """A failed call's revert data: `returnData`, or the error object's `data` (nodes differ)."""
    for candidate in (result.get("returnData"), (result.get("error") or {}).get("data")):
        if isinstance(candidate, str) and candidate.startswith("0x") and len(candidate) > 2:
            try:
                return bytes.fromhex(candidate[2:])
            except ValueError:
                continue
    return b""
