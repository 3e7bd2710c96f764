"""AuditAnchor: only the anchorer publishes; intervals are contiguous and never in the future;
head seqs never decrease; verifyIntent accepts an OpenZeppelin-style proof inside the anchor's
interval only (docs/audit-trail.md)."""

from __future__ import annotations

import pytest

from backend.audit.merkle import IntentTree, leaf
from tests.utils.reverts import reverts

HEAD = b"\x11" * 32


@pytest.fixture(scope="module")
def anchorer(accounts):
    return accounts[14]


@pytest.fixture(scope="module")
def audit_anchor(project, admin, anchorer):
    return admin.deploy(project.AuditAnchor, admin, anchorer)


@pytest.fixture(scope="module")
def intents():
    return [(bytes([i]) * 32, 1_000 + i) for i in range(1, 6)]


@pytest.fixture(scope="module")
def tree(intents):
    return IntentTree.build(intents)


@pytest.fixture(scope="module")
def published(audit_anchor, anchorer, tree):
    """Anchor 0 over [1000, 2000) with the tree's root."""
    return audit_anchor.anchor(5, HEAD, tree.root, 1_000, 2_000, sender=anchorer)


def test_anchor__by_the_anchorer__stored_and_announced(audit_anchor, published, tree, chain):
    event = published.decode_logs(audit_anchor.Anchored)[0]
    assert (event.index, event.headSeq, event.fromTime, event.toTime) == (0, 5, 1_000, 2_000)
    assert bytes(event.intentsRoot) == tree.root
    stored = audit_anchor.anchorAt(0)
    assert (stored.headSeq, stored.fromTime, stored.toTime) == (5, 1_000, 2_000)
    assert bytes(stored.headHash) == HEAD and bytes(stored.intentsRoot) == tree.root
    assert audit_anchor.anchorCount() == 1


def test_anchor__by_a_stranger__reverts_unauthorized(audit_anchor, attacker):
    with reverts(
        audit_anchor.AccessControlUnauthorizedAccount,
        account=attacker,
        neededRole=audit_anchor.ANCHORER_ROLE(),
    ):
        audit_anchor.anchor(1, HEAD, HEAD, 0, 1, sender=attacker)


def test_anchor__interval_not_following_the_last__reverts_gap(audit_anchor, published, anchorer):
    with reverts(audit_anchor.IntervalGap, expectedFrom=2_000, fromTime=1_999):
        audit_anchor.anchor(6, HEAD, HEAD, 1_999, 3_000, sender=anchorer)


def test_anchor__head_seq_below_the_last__reverts(audit_anchor, published, anchorer):
    with reverts(audit_anchor.HeadSeqDecreased, previousSeq=5, headSeq=4):
        audit_anchor.anchor(4, HEAD, HEAD, 2_000, 3_000, sender=anchorer)


@pytest.mark.parametrize("bounds", [(2_000, 2_000), (2_000, 2**63)])
def test_anchor__empty_or_future_interval__reverts(audit_anchor, published, anchorer, bounds):
    with reverts(audit_anchor.InvalidInterval, fromTime=bounds[0], toTime=bounds[1]):
        audit_anchor.anchor(6, HEAD, HEAD, *bounds, sender=anchorer)


def test_anchor_at__unknown_index__reverts(audit_anchor, published):
    with reverts(audit_anchor.UnknownAnchor, index=7):
        audit_anchor.anchorAt(7)


def test_intent_leaf__matches_the_backend_leaf(audit_anchor, intents):
    digest, at = intents[0]
    assert bytes(audit_anchor.intentLeaf(digest, at)) == leaf(digest, at)


def test_verify_intent__every_proof_of_the_tree__accepted(audit_anchor, published, tree, intents):
    for digest, at in intents:
        assert audit_anchor.verifyIntent(0, digest, at, tree.proof(digest, at)) is True


def test_verify_intent__wrong_time_or_digest__refused(audit_anchor, published, tree, intents):
    digest, at = intents[2]
    proof = tree.proof(digest, at)
    assert audit_anchor.verifyIntent(0, digest, at + 1, proof) is False
    assert audit_anchor.verifyIntent(0, b"\x99" * 32, at, proof) is False


def test_verify_intent__time_outside_the_interval__refused_even_with_a_valid_path(
    audit_anchor, anchorer, chain
):
    outside = [(b"\x42" * 32, 3_500)]  # accepted after the interval [2000, 3000) it is claimed in
    tree = IntentTree.build(outside)
    audit_anchor.anchor(9, HEAD, tree.root, 2_000, 3_000, sender=anchorer)
    index = audit_anchor.anchorCount() - 1
    assert (
        audit_anchor.verifyIntent(index, b"\x42" * 32, 3_500, tree.proof(b"\x42" * 32, 3_500))
        is False
    )
