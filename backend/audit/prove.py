"""Inclusion proofs: that the platform accepted an intent, and when, from an on-chain anchor.

The proof is the sibling path of the intent's leaf (digest, accepted second) in the Merkle tree of
its anchor's interval. Anyone checks it with `AuditAnchor.verifyIntent(index, digest,
acceptedAt, proof)` (a view, no transaction) or OpenZeppelin's MerkleProof against
`anchorAt(index).intentsRoot`; the platform cannot later deny the acceptance, nor claim a
different time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.errors import AnchorMismatchError, IntentNotAnchoredError, IntentNotFoundError
from backend.audit.anchors import OnChainAnchor, accepted_second, intent_tree
from backend.audit.merkle import leaf, verify
from backend.db.relay_models import Intent


@dataclass(frozen=True)
class InclusionProof:
    chain_id: int
    digest: str
    accepted_at: int
    anchor: OnChainAnchor
    leaf: str
    proof: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "digest": self.digest,
            "accepted_at": self.accepted_at,
            "anchor_index": self.anchor.index,
            "interval": [self.anchor.from_time, self.anchor.to_time],
            "intents_root": self.anchor.intents_root,
            "leaf": self.leaf,
            "proof": self.proof,
        }

    @property
    def proof_bytes(self) -> list[bytes]:
        return [bytes.fromhex(p[2:]) for p in self.proof]


def accepted_at(session: Session, chain_id: int, digest: str) -> int:
    received = session.scalar(
        select(Intent.received_at).where(Intent.chain_id == chain_id, Intent.digest == digest)
    )
    if received is None:
        raise IntentNotFoundError(
            f"no intent with digest {digest} was accepted on chain {chain_id}"
        )
    return accepted_second(received)


def prove(
    session: Session, *, chain_id: int, digest: str, anchor: OnChainAnchor | None, second: int
) -> InclusionProof:
    """The proof for an intent accepted at `second`, against `anchor` (the one on chain whose
    interval holds that second; None when no anchor covers it yet)."""
    if anchor is None:
        raise IntentNotAnchoredError(
            f"the intent was accepted at {second} (unix seconds), after the last anchor: its "
            "proof exists once the next anchor is published"
        )
    tree = intent_tree(session, chain_id, anchor.from_time, anchor.to_time)
    digest_bytes = bytes.fromhex(digest[2:])
    path = tree.proof(digest_bytes, second)
    hashed = leaf(digest_bytes, second)
    root = bytes.fromhex(anchor.intents_root[2:])
    if path is None or not verify(path, root, hashed):
        raise AnchorMismatchError(
            f"the store's tree for anchor {anchor.index} does not prove this intent against the "
            "root on chain: the interval's intents changed since; run `copyvault audit verify`"
        )
    return InclusionProof(
        chain_id, digest, second, anchor, "0x" + hashed.hex(), ["0x" + p.hex() for p in path]
    )
