"""How an audit entry becomes bytes and a hash: one definition shared by the writer
(backend/services/audit_log.py) and the verifier (backend/audit/verify.py).

An entry's `body` is canonical JSON: keys sorted, no spaces, UTF-8, so the same fields always give
the same bytes. Its hash is keccak256(body). keccak rather than SHA-256 because the head hash is
published on chain beside a Merkle root that must be keccak (OpenZeppelin's MerkleProof), and one
hash function throughout means anyone can recompute every published value with the tools of the
chain alone (`cast keccak`, a Solidity view).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from eth_utils import keccak

FORMAT_VERSION = 1
GENESIS_HASH = "0x" + "00" * 32

# The fields of a body besides its chain links (seq, prev) and format version.
CONTENT_FIELDS = (
    "at",
    "category",
    "actor",
    "action",
    "subject",
    "client",
    "before",
    "after",
    "reason",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def timestamp(moment: datetime) -> str:
    """The entry's time as ISO 8601 UTC with microseconds: what both stores keep exactly."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def body_of(*, seq: int, prev: str, content: dict[str, Any]) -> str:
    return canonical_json({"v": FORMAT_VERSION, "seq": seq, "prev": prev, **content})


def entry_hash(body: str) -> str:
    return "0x" + keccak(body.encode("utf-8")).hex()
