"""Simulating a mirrorAggregated call before sending it: `eth_simulateV1` on the latest block.

One simulation answers what the relayer needs to decide a batch: whether the call would revert (and
with which error), the gas it uses, and its logs (which vaults the router would skip, and why).
eth_call alone gives no gas figure and no logs. On a node without eth_simulateV1 (older geth,
some hosted endpoints) the relayer falls back to `eth_call` (whether it reverts, and with which
error, and the batch's totals) plus `eth_estimateGas` (the gas: an estimate is the smallest limit
that succeeds, so at least the peak, and the planner's margin comes on top of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.chain.abi import ContractAbi
from backend.chain.client import ChainClient
from backend.exceptions import RpcError


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
        # False once the node said it has no eth_simulateV1: eth_call + eth_estimateGas from then.
        self.can_simulate = True

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
        if self.can_simulate:
            payload = {"blockStateCalls": [{"calls": [call]}], "validation": False}
            try:
                blocks = self.client.request("eth_simulateV1", [payload, "latest"])
            except RpcError as exc:
                if not _unsupported(exc):
                    raise
                self.can_simulate = False  # remembered: the node will not learn it meanwhile
            else:
                return self._result(blocks[0]["calls"][0])
        return self._call_and_estimate(call)

    def _call_and_estimate(self, call: dict[str, Any]) -> Simulation:
        try:
            returned = self.client.request("eth_call", [call, "latest"])
        except RpcError as exc:
            if exc.revert_data is None and exc.code != 3:
                raise
            revert = exc.revert_data or b""
            return Simulation(False, 0, revert_data=revert, reason=self.reason_of(revert))
        gas_used = int(self.client.request("eth_estimateGas", [call, "latest"]), 16)
        mirrored, total_in, total_out = self._mirror.decode(bytes.fromhex(returned[2:]))
        return Simulation(True, gas_used, mirrored, total_in, total_out)

    def _result(self, result: dict[str, Any]) -> Simulation:
        gas_used = int(result.get("gasUsed", "0x0"), 16)
        if int(result.get("status", "0x0"), 16) == 1:
            mirrored, total_in, total_out = self._mirror.decode(
                bytes.fromhex(result["returnData"][2:])
            )
            return Simulation(True, gas_used, mirrored, total_in, total_out)
        revert = _revert_data(result)
        return Simulation(False, gas_used, revert_data=revert, reason=self.reason_of(revert))


def _unsupported(exc: RpcError) -> bool:
    """Whether the node refused eth_simulateV1 as a method it does not have."""
    text = str(exc).lower()
    return exc.code == -32601 or "not supported" in text or "does not exist" in text


def _revert_data(result: dict[str, Any]) -> bytes:
    """A failed call's revert data: `returnData`, or the error object's `data` (nodes differ)."""
    for candidate in (result.get("returnData"), (result.get("error") or {}).get("data")):
        if isinstance(candidate, str) and candidate.startswith("0x") and len(candidate) > 2:
            try:
                return bytes.fromhex(candidate[2:])
            except ValueError:
                continue
    return b""
