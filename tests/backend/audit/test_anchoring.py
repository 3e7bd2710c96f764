"""The anchorer (backend/audit/anchorer.py) on both stores: what it publishes, and when."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.anchors import intent_tree
from backend.db.audit_models import AuditAnchor
from backend.services import audit_log
from tests.backend.audit.conftest import INTERVAL, START


def _head(audit_world):
    with Session(audit_world.engine) as s:
        return audit_log.head(s)


def test_anchorer__first_round__publishes_the_head_and_the_intents_root(audit_world):
    audit_world.entries(3)
    audit_world.intent(START - 50)
    audit_world.intent(START - 10)
    audit_world.intent(START + 5)  # after the interval's end: the next anchor's

    row = audit_world.anchorer.anchor_if_due()

    on_chain = audit_world.contract.at(0)
    head_seq, head_hash = _head(audit_world)
    assert (on_chain.head_seq, on_chain.head_hash) == (3, head_hash) and head_seq == 3
    assert (on_chain.from_time, on_chain.to_time) == (0, START)
    with Session(audit_world.engine) as s:
        tree = intent_tree(s, audit_world.chain.deployment.chain_id, 0, START)
        stored = s.scalar(select(AuditAnchor))
    assert len(tree) == 2 and on_chain.intents_root == "0x" + tree.root.hex()
    assert row is not None and stored.intent_count == 2 and stored.tx_hash == row.tx_hash


def test_anchorer__within_the_interval__waits_and_anchors_once_it_passed(audit_world):
    audit_world.entries(1)
    audit_world.anchorer.anchor_if_due()
    audit_world.entries(2)
    audit_world.clock.now += INTERVAL - 1
    assert audit_world.anchorer.anchor_if_due() is None

    audit_world.clock.now += 1
    audit_world.anchorer.anchor_if_due()

    second = audit_world.contract.at(1)
    assert (second.from_time, second.to_time, second.head_seq) == (START, START + INTERVAL, 3)
    assert audit_world.contract.count() == 2


def test_anchorer__after_n_entries__anchors_before_the_interval_ends(audit_world):
    audit_world.anchorer.policy = dataclasses.replace(audit_world.anchorer.policy, after_entries=5)
    audit_world.anchorer.anchor_if_due()  # the first anchor, of an empty log
    audit_world.clock.now += 10
    audit_world.entries(4)
    assert audit_world.anchorer.anchor_if_due() is None

    audit_world.entries(1)
    audit_world.anchorer.anchor_if_due()

    assert (
        audit_world.contract.at(1).head_seq == 5
        and audit_world.contract.at(1).to_time == START + 10
    )


def test_anchorer__the_clock_not_moved__publishes_nothing_more(audit_world):
    audit_world.anchorer.anchor_if_due()
    audit_world.entries(2)
    assert audit_world.anchorer.anchor_if_due() is None
    assert audit_world.contract.count() == 1
