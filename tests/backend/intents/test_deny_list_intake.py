"""Intake refuses intents of a leader, or signed by a delegate, on the platform's deny list (the
list compliance operators edit): 403 address_denied, nothing stored; both stores."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert

from backend.chain.actions import HOUR
from backend.db.operator_models import DenyListEntry
from tests.backend.intents.conftest import assert_error


def _deny(intake, address: str) -> None:
    with intake.api.engine.begin() as conn:
        conn.execute(
            insert(DenyListEntry),
            {
                "chain_id": intake.chain.deployment.chain_id,
                "address": address.lower(),
                "reason": "test: sanctions list match",
                "added_by": "compliance-1",
                "added_at": datetime.now(UTC),
            },
        )


def _allow_again(intake, address: str) -> None:
    with intake.api.engine.begin() as conn:
        conn.execute(delete(DenyListEntry).where(DenyListEntry.address == address.lower()))


def test_denied_leader__403_address_denied_nothing_stored_until_removed(intake):
    leader = intake.chain.leader.address
    _deny(intake, leader)
    refused = intake.post(intake.body(intake.message(nonce=1)))
    message = assert_error(refused, 403, "address_denied")
    assert leader in message and "leader" in message
    assert intake.stored() == 0
    _allow_again(intake, leader)
    assert intake.post(intake.body(intake.message(nonce=1))).status_code == 202
    assert intake.stored() == 1


def test_denied_delegate__403_address_denied_while_the_leader_still_signs(intake):
    chain, a = intake.chain, intake.chain.actions
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + HOUR)
    intake.api.index()
    _deny(intake, chain.delegate.address)
    refused = intake.post(intake.body(intake.message(nonce=1), chain.delegate))
    message = assert_error(refused, 403, "address_denied")
    assert chain.delegate.address in message and "signer" in message
    assert intake.stored() == 0
    assert intake.post(intake.body(intake.message(nonce=2))).status_code == 202
