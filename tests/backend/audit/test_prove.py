"""Inclusion proofs (backend/audit/prove.py): the proof of an anchored intent verifies with
AuditAnchor.verifyIntent on chain; an intent after the last anchor has none yet."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from backend.api.errors import AnchorMismatchError, IntentNotAnchoredError, IntentNotFoundError
from backend.audit.prove import accepted_at, prove
from tests.backend.audit.conftest import INTERVAL, START


def _prove(audit_world, digest: str):
    chain_id = audit_world.chain.deployment.chain_id
    with Session(audit_world.engine) as s:
        second = accepted_at(s, chain_id, digest)
        anchor = audit_world.contract.covering(second)
        return prove(s, chain_id=chain_id, digest=digest, anchor=anchor, second=second)


def test_prove__anchored_intents__each_proof_verifies_on_chain(audit_world):
    digests = [audit_world.intent(START - 300 + 7 * i) for i in range(5)]
    audit_world.anchorer.anchor_if_due()
    later = audit_world.intent(START + 20)
    audit_world.clock.now += INTERVAL
    audit_world.anchorer.anchor_if_due()

    for digest in [*digests, later]:
        proof = _prove(audit_world, digest)
        assert audit_world.contract.verify_intent(
            proof.anchor.index, bytes.fromhex(digest[2:]), proof.accepted_at, proof.proof_bytes
        )
    assert _prove(audit_world, later).anchor.index == 1
    assert _prove(audit_world, later).to_json()["interval"] == [START, START + INTERVAL]


def test_prove__claimed_at_another_second__refused_on_chain(audit_world):
    digest = audit_world.intent(START - 100)
    audit_world.intent(START - 90)
    audit_world.anchorer.anchor_if_due()
    proof = _prove(audit_world, digest)
    raw = bytes.fromhex(digest[2:])
    assert not audit_world.contract.verify_intent(0, raw, proof.accepted_at + 1, proof.proof_bytes)


def test_prove__accepted_after_the_last_anchor__not_anchored_yet(audit_world):
    audit_world.anchorer.anchor_if_due()
    digest = audit_world.intent(START + 10)
    with pytest.raises(IntentNotAnchoredError, match="after the last anchor"):
        _prove(audit_world, digest)


def test_prove__unknown_digest__not_found(audit_world):
    with pytest.raises(IntentNotFoundError):
        _prove(audit_world, "0x" + "ab" * 32)


def test_prove__interval_changed_since_its_anchor__mismatch_named(audit_world):
    digest = audit_world.intent(START - 100)
    audit_world.anchorer.anchor_if_due()
    audit_world.intent(START - 50)  # slipped into an anchored interval afterwards
    with pytest.raises(AnchorMismatchError, match="anchor 0"):
        _prove(audit_world, digest)
