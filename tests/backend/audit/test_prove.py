"""Inclusion proofs (backend/audit/prove.py): the proof of an anchored intent verifies with
AuditAnchor.verifyIntent on chain; an intent after the last anchor has none yet."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from backend.api.errors import AnchorMismatchError, IntentNotAnchoredError, IntentNotFoundError
from backend.audit.prove import accepted_at, prove
from tests.backend.audit.conftest import INTERVAL, START


def _prove(world, digest: str):
    chain_id = world.chain.deployment.chain_id
    with Session(world.engine) as s:
        second = accepted_at(s, chain_id, digest)
        anchor = world.contract.covering(second)
        return prove(s, chain_id=chain_id, digest=digest, anchor=anchor, second=second)


def test_prove__anchored_intents__each_proof_verifies_on_chain(world):
    digests = [world.intent(START - 300 + 7 * i) for i in range(5)]
    world.anchorer.anchor_if_due()
    later = world.intent(START + 20)
    world.clock.now += INTERVAL
    world.anchorer.anchor_if_due()

    for digest in [*digests, later]:
        proof = _prove(world, digest)
        assert world.contract.verify_intent(
            proof.anchor.index, bytes.fromhex(digest[2:]), proof.accepted_at, proof.proof_bytes
        )
    assert _prove(world, later).anchor.index == 1
    assert _prove(world, later).to_json()["interval"] == [START, START + INTERVAL]


def test_prove__claimed_at_another_second__refused_on_chain(world):
    digest = world.intent(START - 100)
    world.intent(START - 90)
    world.anchorer.anchor_if_due()
    proof = _prove(world, digest)
    raw = bytes.fromhex(digest[2:])
    assert not world.contract.verify_intent(0, raw, proof.accepted_at + 1, proof.proof_bytes)


def test_prove__accepted_after_the_last_anchor__not_anchored_yet(world):
    world.anchorer.anchor_if_due()
    digest = world.intent(START + 10)
    with pytest.raises(IntentNotAnchoredError, match="after the last anchor"):
        _prove(world, digest)


def test_prove__unknown_digest__not_found(world):
    with pytest.raises(IntentNotFoundError):
        _prove(world, "0x" + "ab" * 32)


def test_prove__interval_changed_since_its_anchor__mismatch_named(world):
    digest = world.intent(START - 100)
    world.anchorer.anchor_if_due()
    world.intent(START - 50)  # slipped into an anchored interval afterwards
    with pytest.raises(AnchorMismatchError, match="anchor 0"):
        _prove(world, digest)
