"""The Merkle tree of the intents accepted in an anchor's interval, built exactly as OpenZeppelin's
StandardMerkleTree (@openzeppelin/merkle-tree) builds one for the value types ["bytes32", "uint64"]
(the intent's digest and the unix second it was accepted):

- leaf = keccak256(keccak256(abi.encode(digest, acceptedAt))): hashed twice, so no leaf can pass
  for an inner node (a second-preimage guard);
- leaves sorted by hash, laid out at the end of one array in reverse, each inner node the keccak of
  its two children in ascending order (sorted pairs), root at index 0;
- a proof is the siblings from the leaf up: `MerkleProof.verify(proof, root, leaf)` accepts it
  on chain (AuditAnchor.verifyIntent), and so does `verify` here.

An interval without intents has the root 32 zero bytes, which no proof verifies against.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak

EMPTY_ROOT = b"\x00" * 32


def leaf(digest: bytes, accepted_at: int) -> bytes:
    return keccak(keccak(encode(["bytes32", "uint64"], [digest, accepted_at])))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


@dataclass(frozen=True)
class IntentTree:
    """The tree over (digest, acceptedAt) values; `tree[0]` is the root."""

    tree: tuple[bytes, ...]
    # leaf hash -> its index in `tree`
    positions: dict[bytes, int]

    @classmethod
    def build(cls, values: list[tuple[bytes, int]]) -> IntentTree:
        if not values:
            return cls((EMPTY_ROOT,), {})
        leaves = sorted(leaf(digest, at) for digest, at in values)
        size = 2 * len(leaves) - 1
        tree: list[bytes] = [b""] * size
        for i, hashed in enumerate(leaves):
            tree[size - 1 - i] = hashed
        for i in range(size - 1 - len(leaves), -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        positions = {tree[size - 1 - i]: size - 1 - i for i in range(len(leaves))}
        return cls(tuple(tree), positions)

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def __len__(self) -> int:
        return len(self.positions)

    def proof(self, digest: bytes, accepted_at: int) -> list[bytes] | None:
        """The sibling hashes from the intent's leaf to the root; None if it is not in the tree."""
        index = self.positions.get(leaf(digest, accepted_at))
        if index is None:
            return None
        siblings = []
        while index > 0:
            siblings.append(self.tree[index + 1 if index % 2 == 1 else index - 1])
            index = (index - 1) // 2
        return siblings


def verify(proof: list[bytes], root: bytes, hashed_leaf: bytes) -> bool:
    """OpenZeppelin's MerkleProof.verify."""
    node = hashed_leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root
