"""Batches for Safe{Wallet}'s Transaction Builder: the platform admin Safe's follow-up actions.

A deployment whose platform admin is a Safe cannot allow a venue or set a price feed itself: the
Safe's owners must. `copyvault deploy` / `ape run deploy` write those calls as a batch file that the
Transaction Builder app of Safe{Wallet} imports ("drag and drop a JSON file"), so the owners review
named calls with decoded arguments instead of raw calldata.

The file format is the Transaction Builder's `BatchFile` (safe-global/safe-react-apps,
apps/tx-builder/src/typings/models.ts): `version`, `chainId` (a decimal string), `createdAt`
(milliseconds), `meta` (name, description, txBuilderVersion, createdFromSafeAddress,
createdFromOwnerAddress, checksum) and `transactions`, each with `to`, `value` (a decimal string),
`data` (null when the call is described by `contractMethod` and `contractInputsValues`).
The checksum is the app's own (apps/tx-builder/src/lib/checksum.ts): keccak256 of a canonical
serialisation of the batch with `meta.name` set to null; the app warns when it does not match.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final

from eth_utils import keccak, to_checksum_address

BATCH_VERSION: Final = "1.0"
# The Transaction Builder release whose format this writes (shown in the app, not checked by it).
TX_BUILDER_VERSION: Final = "1.18.2"


@dataclass(frozen=True)
class SafeCall:
    """One call for the Safe to make: `method` is the ABI item of the function called."""

    to: str
    method: dict[str, Any]
    values: dict[str, str]
    description: str

    def as_transaction(self) -> dict[str, Any]:
        inputs = [
            {
                "internalType": item.get("internalType", item["type"]),
                "name": item["name"],
                "type": item["type"],
            }
            for item in self.method["inputs"]
        ]
        return {
            "to": to_checksum_address(self.to),
            "value": "0",
            "data": None,
            "contractMethod": {
                "inputs": inputs,
                "name": self.method["name"],
                "payable": self.method.get("stateMutability") == "payable",
            },
            "contractInputsValues": dict(self.values),
        }


def _serialize(value: Any) -> str:
    """The Transaction Builder's `serializeJSONObject`: sorted keys listed first, then each value
    followed by a comma (so the JS and Python serialisations of one batch are the same string)."""
    if isinstance(value, list):
        return "[" + ",".join(_serialize(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value)
        return "{" + _js_json(keys) + "".join(_serialize(value[k]) + "," for k in keys) + "}"
    return _js_json(value)


def _js_json(value: Any) -> str:
    """JSON.stringify's spelling: no spaces, non-ASCII characters kept as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def checksum(batch: dict[str, Any]) -> str:
    """The Transaction Builder's checksum of a batch (computed without `meta.checksum`)."""
    meta = {k: v for k, v in batch["meta"].items() if k != "checksum"} | {"name": None}
    return "0x" + keccak(text=_serialize(batch | {"meta": meta})).hex()


def batch_file(
    chain_id: int,
    safe: str,
    calls: list[SafeCall],
    *,
    name: str,
    created_at_ms: int | None = None,
) -> dict[str, Any]:
    """A Transaction Builder batch of `calls` for `safe` on `chain_id`, with its checksum."""
    description = "; ".join(call.description for call in calls)
    batch: dict[str, Any] = {
        "version": BATCH_VERSION,
        "chainId": str(chain_id),
        "createdAt": created_at_ms if created_at_ms is not None else int(time.time() * 1000),
        "meta": {
            "name": name,
            "description": description,
            "txBuilderVersion": TX_BUILDER_VERSION,
            "createdFromSafeAddress": to_checksum_address(safe),
            "createdFromOwnerAddress": "",
        },
        "transactions": [call.as_transaction() for call in calls],
    }
    batch["meta"]["checksum"] = checksum(batch)
    return batch
