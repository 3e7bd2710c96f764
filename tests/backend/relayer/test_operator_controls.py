"""What operators set, as relayer workers obey it on a real chain and store (SQLite and
PostgreSQL): the pause flag (no new batches, in-flight ones followed to finality) and held
intents (never planned until released; a rejected one never relayed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from backend.api.errors import IntentNotHoldableError
from backend.db.operator_models import Operator
from backend.services import operator_actions as acts
from tests.backend.relayer.conftest import RelayEnv


def _actor(relay: RelayEnv, role: str = "risk") -> acts.Actor:
    now = datetime.now(UTC)
    with Session(relay.api.engine, expire_on_commit=False) as s:
        operator = Operator(
            username=f"{role}-1", role=role, status="active", created_at=now, updated_at=now
        )
        s.add(operator)
        s.commit()
    return acts.Actor(operator, "127.0.0.1", now)


def _set_paused(relay: RelayEnv, actor: acts.Actor, paused: bool) -> None:
    with Session(relay.api.engine) as s:
        acts.set_relayer_paused(
            s, actor, chain_id=relay.chain.deployment.chain_id, paused=paused, reason="test"
        )


def _metric(relay: RelayEnv, name: str) -> float:
    body = relay.api.get("/metrics").text
    (line,) = [line for line in body.splitlines() if line.startswith(name + " ")]
    return float(line.split()[-1])


def test_relayer_pause__paused__no_batch_planned_or_sent_until_resumed(relay: RelayEnv):
    vault = relay.follower(relay.chain.owners[0], salt=1)
    actor = _actor(relay)
    _set_paused(relay, actor, True)
    digest = relay.submit(nonce=1)
    worker = relay.worker()
    for _ in range(3):
        worker.step()
    assert relay.status(digest)["status"] == "accepted"
    assert relay.batches() == [] and relay.transactions() == []
    assert _metric(relay, "copyvault_relayer_paused") == 1.0

    _set_paused(relay, actor, False)
    worker.run_until_idle()
    assert relay.status(digest)["status"] == "done"
    assert relay.outcomes(digest)[vault]["status"] == "mirrored"
    assert _metric(relay, "copyvault_relayer_paused") == 0.0


def test_relayer_pause__batch_in_flight__still_followed_to_finality(relay: RelayEnv):
    vault = relay.follower(relay.chain.owners[0], salt=1)
    digest = relay.submit(nonce=1)
    worker = relay.worker()
    with relay.mining_paused():
        worker.step()  # planned, signed and broadcast; not mined
        (batch,) = relay.batches()
        assert batch.status == "signed"
        _set_paused(relay, _actor(relay), True)
        relay.rpc("evm_mine")
    worker.step()
    (batch,) = relay.batches()
    assert batch.status == "mined"
    assert relay.status(digest)["status"] == "done"
    assert relay.executed(vault, 1)


def test_hold__held_intent__never_planned_until_released(relay: RelayEnv):
    vault = relay.follower(relay.chain.owners[0], salt=1)
    digest = relay.submit(nonce=1)
    actor = _actor(relay)
    chain_id = relay.chain.deployment.chain_id
    with Session(relay.api.engine) as s:
        acts.hold_intent(s, actor, chain_id=chain_id, digest=digest, reason="unusual size")
    worker = relay.worker()
    for _ in range(3):
        worker.step()
    status = relay.status(digest)
    assert (status["status"], status["error"]) == ("held", "held by an operator: unusual size")
    assert relay.batches() == [] and not relay.executed(vault, 1)

    with Session(relay.api.engine) as s:
        acts.release_intent(s, actor, chain_id=chain_id, digest=digest, reason="checked")
    worker.run_until_idle()
    assert relay.status(digest)["status"] == "done"
    assert relay.executed(vault, 1)


def test_hold__rejected_by_an_operator__never_relayed(relay: RelayEnv):
    vault = relay.follower(relay.chain.owners[0], salt=1)
    digest = relay.submit(nonce=1)
    actor = _actor(relay)
    chain_id = relay.chain.deployment.chain_id
    with Session(relay.api.engine) as s:
        acts.hold_intent(s, actor, chain_id=chain_id, digest=digest, reason="review")
        acts.reject_intent(s, actor, chain_id=chain_id, digest=digest, reason="spoofing")
    relay.worker().run_until_idle()
    status = relay.status(digest)
    assert (status["status"], status["error"]) == ("rejected", "rejected by an operator: spoofing")
    assert relay.batches() == [] and not relay.executed(vault, 1)


def test_hold__intent_a_worker_already_claimed__409_and_nothing_changes(relay: RelayEnv):
    relay.follower(relay.chain.owners[0], salt=1)
    digest = relay.submit(nonce=1)
    worker = relay.worker()
    assert worker._claim_intent() is not None  # a worker is planning it right now
    with Session(relay.api.engine) as s, pytest.raises(IntentNotHoldableError):
        acts.hold_intent(
            s,
            _actor(relay),
            chain_id=relay.chain.deployment.chain_id,
            digest=digest,
            reason="too late",
        )
    assert relay.status(digest)["status"] == "planning"
