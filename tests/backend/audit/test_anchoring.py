"""The anchorer (backend/audit/anchorer.py) on both stores: what it publishes, and when."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.anchors import intent_tree
from backend.db.audit_models import AuditAnchor
from backend.services import audit_log
from tests.backend.audit.conftest import INTERVAL, START


def _head(world):
    with Session(world.engine) as s:
        return audit_log.head(s)


def test_anchorer__first_round__publishes_the_head_and_the_intents_root(world):
    world.entries(3)
    world.intent(START - 50)
    world.intent(START - 10)
    world.intent(START + 5)  # after the interval's end: the next anchor's

    row = world.anchorer.anchor_if_due()

    on_chain = world.contract.at(0)
    head_seq, head_hash = _head(world)
    assert (on_chain.head_seq, on_chain.head_hash) == (3, head_hash) and head_seq == 3
    assert (on_chain.from_time, on_chain.to_time) == (0, START)
    with Session(world.engine) as s:
        tree = intent_tree(s, world.chain.deployment.chain_id, 0, START)
        stored = s.scalar(select(AuditAnchor))
    assert len(tree) == 2 and on_chain.intents_root == "0x" + tree.root.hex()
    assert row is not None and stored.intent_count == 2 and stored.tx_hash == row.tx_hash


def test_anchorer__within_the_interval__waits_and_anchors_once_it_passed(world):
    world.entries(1)
    world.anchorer.anchor_if_due()
    world.entries(2)
    world.clock.now += INTERVAL - 1
    assert world.anchorer.anchor_if_due() is None

    world.clock.now += 1
    world.anchorer.anchor_if_due()

    second = world.contract.at(1)
    assert (second.from_time, second.to_time, second.head_seq) == (START, START + INTERVAL, 3)
    assert world.contract.count() == 2


def test_anchorer__after_n_entries__anchors_before_the_interval_ends(world):
    world.anchorer.policy = dataclasses.replace(world.anchorer.policy, after_entries=5)
    world.anchorer.anchor_if_due()  # the first anchor, of an empty log
    world.clock.now += 10
    world.entries(4)
    assert world.anchorer.anchor_if_due() is None

    world.entries(1)
    world.anchorer.anchor_if_due()

    assert world.contract.at(1).head_seq == 5 and world.contract.at(1).to_time == START + 10


def test_anchorer__the_clock_not_moved__publishes_nothing_more(world):
    world.anchorer.anchor_if_due()
    world.entries(2)
    assert world.anchorer.anchor_if_due() is None
    assert world.contract.count() == 1
