"""Fairness of the relayer between leaders (SQLite and PostgreSQL): workers plan intents
round-robin over leaders, not first-in-first-out, so one leader's backlog never delays another
leader's intent by more than one planning turn, and a backlogged leader is never starved."""

from __future__ import annotations

from backend.chain.actions import Key
from backend.db.relay_models import RelayLeaderTurn

# The second leader (anvil account 1: no other role in these tests).
OTHER = Key.anvil(1)


def _two_leaders(relay) -> None:
    """The chain's leader (A) and OTHER (B), registered, each followed by one vault with WETH."""
    relay.actions.register(OTHER, "ipfs://other-leader")
    relay.follower(relay.chain.owners[0], salt=1)
    relay.follower(relay.chain.owners[1], salt=2, leader=OTHER.address)


def _planned_order(relay) -> list[str]:
    """Digests in the order their batches were planned (one follower each: one batch each)."""
    digest_of = {i.id: i.digest for i in relay.intents()}
    return [digest_of[b.intent_id] for b in sorted(relay.batches(), key=lambda b: b.id)]


def test_fairness__backlog_of_one_leader__the_others_intent_planned_in_the_next_turn(relay):
    _two_leaders(relay)
    backlog = [relay.submit(nonce=n) for n in range(1, 7)]
    late = relay.submit(nonce=1, leader=OTHER)  # submitted after all six of A's
    worker = relay.worker()
    worker.reconcile_nonce()
    worker.step()  # the turn under way when B's intent arrived: A's oldest
    worker.step()
    assert _planned_order(relay) == [backlog[0], late]
    assert relay.status(late)["status"] == "done"
    assert [relay.status(d)["status"] for d in backlog[1:]] == ["accepted"] * 5
    worker.run_until_idle()  # and A's backlog is relayed after it, oldest first
    assert _planned_order(relay) == [backlog[0], late, *backlog[1:]]
    assert {relay.status(d)["status"] for d in [*backlog, late]} == {"done"}


def test_fairness__both_leaders_keep_submitting__turns_alternate_none_starved(relay):
    """B submits a new intent every turn while A has a backlog: A still gets every other turn."""
    _two_leaders(relay)
    a = [relay.submit(nonce=n) for n in range(1, 4)]
    worker = relay.worker()
    worker.reconcile_nonce()
    b = []
    for n in range(1, 4):
        b.append(relay.submit(nonce=n, leader=OTHER))
        worker.step()
        worker.step()
    assert _planned_order(relay) == [a[0], b[0], a[1], b[1], a[2], b[2]]


def test_fairness__two_backlogs__a_newcomer_waits_at_most_one_turn_of_each(relay):
    """Sybil backlogs (two leaders, three intents each) delay a third leader's intent by one turn
    of each of them, no more: each backlog counts once, whatever its length."""
    _two_leaders(relay)
    third = relay.chain.delegate  # a third leader here
    relay.actions.register(third, "ipfs://third-leader")
    relay.follower(relay.chain.owners[2], salt=3, leader=third.address)
    a = [relay.submit(nonce=n) for n in range(1, 4)]
    b = [relay.submit(nonce=n, leader=OTHER) for n in range(1, 4)]
    late = relay.submit(nonce=1, leader=third)
    worker = relay.worker()
    worker.reconcile_nonce()
    for _ in range(3):
        worker.step()
    assert _planned_order(relay) == [a[0], b[0], late]
    worker.run_until_idle()
    assert _planned_order(relay) == [a[0], b[0], late, a[1], b[1], a[2], b[2]]


def test_fairness__turns_recorded_per_leader(relay):
    _two_leaders(relay)
    relay.submit(nonce=1)
    relay.submit(nonce=1, leader=OTHER)
    relay.worker().run_until_idle()
    turns = {t.leader: t.served_at for t in relay.rows(RelayLeaderTurn)}
    assert set(turns) == {relay.chain.leader.address.lower(), OTHER.address.lower()}
    assert turns[relay.chain.leader.address.lower()] < turns[OTHER.address.lower()]
