"""The AuditAnchor contract as the backend reads it, and the intents each anchor covers.

The chain is the authority on what was anchored: the verifier and the prover read anchors here,
never the store's copy (`audit_anchors`), which a database administrator could edit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.merkle import IntentTree
from backend.chain.abi import ContractAbi
from backend.chain.artifacts import Artifacts
from backend.chain.client import ChainClient
from backend.db.relay_models import Intent


@dataclass(frozen=True)
class OnChainAnchor:
    index: int
    head_seq: int
    from_time: int
    to_time: int
    anchored_at: int
    head_hash: str  # 0x-hex
    intents_root: str  # 0x-hex


class AnchorContract:
    """Views and call data of one AuditAnchor deployment."""

    def __init__(self, client: ChainClient, address: str, artifacts: Artifacts):
        self.client = client
        self.address = address
        self.abi = ContractAbi(artifacts.get("AuditAnchor"))

    def _view(self, name: str, *args: object) -> object:
        fn = self.abi.fn(name)
        return fn.decode(self.client.call(self.address, fn.encode(*args)))

    def count(self) -> int:
        return int(self._view("anchorCount"))  # type: ignore[arg-type]

    def at(self, index: int) -> OnChainAnchor:
        head_seq, from_time, to_time, anchored_at, head_hash, root = self._view("anchorAt", index)  # type: ignore[misc]
        return OnChainAnchor(
            index,
            head_seq,
            from_time,
            to_time,
            anchored_at,
            "0x" + head_hash.hex(),
            "0x" + root.hex(),
        )

    def all(self) -> list[OnChainAnchor]:
        return [self.at(i) for i in range(self.count())]

    def covering(self, second: int) -> OnChainAnchor | None:
        """The anchor whose interval holds `second`, by binary search (intervals are contiguous
        and ascending: the contract refuses anything else); None when none does yet."""
        low, high = 0, self.count() - 1
        while low <= high:
            middle = (low + high) // 2
            anchor = self.at(middle)
            if second < anchor.from_time:
                high = middle - 1
            elif second >= anchor.to_time:
                low = middle + 1
            else:
                return anchor
        return None

    def verify_intent(
        self, index: int, digest: bytes, accepted_at: int, proof: list[bytes]
    ) -> bool:
        """The contract's own answer (OpenZeppelin MerkleProof on chain)."""
        return bool(self._view("verifyIntent", index, digest, accepted_at, proof))

    def anchor_call(
        self, head_seq: int, head_hash: str, root: bytes, from_time: int, to_time: int
    ) -> bytes:
        return self.abi.call_data(
            "anchor", head_seq, bytes.fromhex(head_hash[2:]), root, from_time, to_time
        )


def accepted_second(received_at: datetime) -> int:
    """The unix second an intent was accepted (the value in its Merkle leaf)."""
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return math.floor(received_at.timestamp())


def _bound(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


def accepted_intents(
    session: Session, chain_id: int, from_time: int, to_time: int
) -> list[tuple[bytes, int]]:
    """(digest, accepted second) of the intents of `chain_id` accepted in [from_time, to_time)."""
    rows = session.execute(
        select(Intent.digest, Intent.received_at).where(
            Intent.chain_id == chain_id,
            Intent.received_at >= _bound(from_time),
            Intent.received_at < _bound(to_time),
        )
    )
    return [(bytes.fromhex(digest[2:]), accepted_second(at)) for digest, at in rows]


def intent_tree(session: Session, chain_id: int, from_time: int, to_time: int) -> IntentTree:
    return IntentTree.build(accepted_intents(session, chain_id, from_time, to_time))
