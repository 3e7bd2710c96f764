"""The intents' Merkle tree (backend/audit/merkle.py): OpenZeppelin StandardMerkleTree layout and
hashing; every leaf proves, nothing else does."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from backend.audit.merkle import EMPTY_ROOT, IntentTree, hash_pair, leaf, verify


def _values(n: int) -> list[tuple[bytes, int]]:
    return [(keccak(i.to_bytes(4, "big")), 1_700_000_000 + i) for i in range(n)]


def test_leaf__is_the_double_keccak_of_the_abi_encoded_values():
    digest = b"\x01" * 32
    inner = keccak(encode(["bytes32", "uint64"], [digest, 7]))
    assert leaf(digest, 7) == keccak(inner)


def test_tree__empty__root_is_zero_and_nothing_proves():
    tree = IntentTree.build([])
    assert tree.root == EMPTY_ROOT and len(tree) == 0
    assert tree.proof(b"\x01" * 32, 1) is None


def test_tree__one_leaf__root_is_the_leaf_and_the_proof_is_empty():
    (digest, at), = _values(1)  # fmt: skip
    tree = IntentTree.build([(digest, at)])
    assert tree.root == leaf(digest, at) and tree.proof(digest, at) == []


def test_tree__three_leaves__root_as_openzeppelin_lays_them_out():
    values = _values(3)
    a, b, c = sorted(leaf(d, t) for d, t in values)
    # tree = [root, n1, c, b, a]: leaves reversed at the end, n1 = hash(tree[3], tree[4]).
    assert IntentTree.build(values).root == hash_pair(hash_pair(b, a), c)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13])
def test_tree__every_leaf__proves_against_the_root(n):
    values = _values(n)
    tree = IntentTree.build(values)
    for digest, at in values:
        assert verify(tree.proof(digest, at), tree.root, leaf(digest, at))


def test_tree__another_time_or_another_proof__does_not_prove():
    values = _values(4)
    tree = IntentTree.build(values)
    digest, at = values[0]
    proof = tree.proof(digest, at)
    assert tree.proof(digest, at + 1) is None
    assert not verify(proof, tree.root, leaf(digest, at + 1))
    other_digest, other_at = values[1]
    assert not verify(tree.proof(other_digest, other_at), tree.root, leaf(digest, at))
