"""Reading a mined mirrorAggregated receipt into per-vault outcomes.

Each vault of the batch ends with exactly one of: its own `Mirrored` event (amounts in and out), or
the router's `MirrorSkipped` naming it with the selector of the error it raised. `BatchMirrored` and
`AggregatedSwap` give the batch's counts and totals. Only logs of this intent's digest count, and
only `Mirrored` logs emitted by the vault itself (a token or venue could emit look-alike events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.indexer.decoder import LogDecoder


@dataclass(frozen=True)
class VaultResult:
    status: str  # mirrored | skipped
    amount_in: int | None = None
    amount_out: int | None = None
    reason: str | None = None
    selector: str | None = None


@dataclass
class BatchReceipt:
    succeeded: bool
    tx_hash: str
    block_number: int
    gas_used: int
    mirrored: int = 0
    skipped: int = 0
    total_in: int | None = None
    total_out: int | None = None
    vaults: dict[str, VaultResult] = field(default_factory=dict)  # lowercase address -> result


def read_receipt(
    receipt: dict[str, Any],
    *,
    router: str,
    digest: str,
    vaults: Sequence[str],
    decoder: LogDecoder,
) -> BatchReceipt:
    result = BatchReceipt(
        succeeded=int(receipt["status"], 16) == 1,
        tx_hash=receipt["transactionHash"].lower(),
        block_number=int(receipt["blockNumber"], 16),
        gas_used=int(receipt["gasUsed"], 16),
    )
    if not result.succeeded:
        return result
    members = {v.lower() for v in vaults}
    router = router.lower()
    for raw in receipt["logs"]:
        emitter = raw["address"].lower()
        if emitter == router:
            _router_log(result, decoder.decode(raw, "router"), digest, members, decoder)
        elif emitter in members:
            _vault_log(result, decoder.decode(raw, "vault"), digest)
    return result


def _router_log(result: BatchReceipt, log: Any, digest: str, members: set, decoder) -> None:
    args = log.args
    if log.name == "MirrorSkipped" and args["intentDigest"] == digest and args["vault"] in members:
        selector = args["reason"]
        result.vaults[args["vault"]] = VaultResult(
            "skipped", reason=decoder.reason_name(selector), selector=selector
        )
    elif log.name == "BatchMirrored" and args["intentDigest"] == digest:
        # Skips are counted for the batch's own vaults only (BatchMirrored comes after every skip):
        # anything else in the router's count is not a following vault of this batch.
        result.mirrored = int(args["mirrored"])
        result.skipped = sum(1 for v in result.vaults.values() if v.status == "skipped")
    elif log.name == "AggregatedSwap" and args["intentDigest"] == digest:
        result.total_in, result.total_out = int(args["totalIn"]), int(args["totalOut"])


def _vault_log(result: BatchReceipt, log: Any, digest: str) -> None:
    if log.name == "Mirrored" and log.args["digest"] == digest:
        result.vaults[log.address] = VaultResult(
            "mirrored", amount_in=int(log.args["amountIn"]), amount_out=int(log.args["amountOut"])
        )
