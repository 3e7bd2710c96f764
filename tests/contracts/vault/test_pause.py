"""CopyVault.pause / stopCopying: stopping takes one key (any owner; the guardian, if accepted,
may pause); resuming takes the threshold (docs/protocol.md §1.1)."""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .helpers import calldata


@pytest.fixture
def vault_3_of_5(create_vault, owners):
    return create_vault(owners_=owners, threshold=3)


@pytest.mark.parametrize("index", range(5))
def test_pause__any_single_owner__pauses_and_emits(vault_3_of_5, owners, index):
    owner = owners[index]

    receipt = vault_3_of_5.pause(sender=owner)

    assert vault_3_of_5.paused()
    assert [e.by for e in receipt.decode_logs(vault_3_of_5.Paused)] == [owner.address]


@pytest.mark.parametrize("index", range(5))
def test_stop_copying__any_single_owner__stops_and_emits(vault_3_of_5, owners, index):
    owner = owners[index]

    receipt = vault_3_of_5.stopCopying(sender=owner)

    assert not vault_3_of_5.copying()
    assert [e.by for e in receipt.decode_logs(vault_3_of_5.CopyingStopped)] == [owner.address]


def test_pause__accepted_guardian__pauses_and_emits(vault, guardian):
    assert vault.guardianAccepted()

    receipt = vault.pause(sender=guardian)

    assert vault.paused()
    assert [e.by for e in receipt.decode_logs(vault.Paused)] == [guardian.address]


def test_pause__guardian_not_accepted_at_creation__reverts_not_owner_or_guardian(
    create_vault, guardian
):
    vault = create_vault(accept_guardian=False)

    with reverts(vault.NotOwnerOrGuardian, caller=guardian.address):
        vault.pause(sender=guardian)

    assert not vault.paused()


def test_pause__guardian_acceptance_withdrawn_by_owners__reverts_not_owner_or_guardian(
    vault, owners, guardian, execute_config
):
    execute_config(vault, owners[:2], calldata(vault, "setGuardianAccepted", False))

    with reverts(vault.NotOwnerOrGuardian, caller=guardian.address):
        vault.pause(sender=guardian)

    assert not vault.paused()


def test_pause__guardian_replaced_by_platform__old_guardian_reverts_new_one_pauses(
    vault, factory, admin, guardian, accounts
):
    new_guardian = accounts[15]
    factory.setGuardian(new_guardian, sender=admin)

    with reverts(vault.NotOwnerOrGuardian, caller=guardian.address):
        vault.pause(sender=guardian)
    vault.pause(sender=new_guardian)

    assert vault.paused()


def test_stop_copying__guardian__reverts_not_owner(vault, guardian):
    with reverts(vault.NotOwner, caller=guardian.address):
        vault.stopCopying(sender=guardian)

    assert vault.copying()


def test_pause__non_owner__reverts_not_owner_or_guardian(vault, attacker):
    with reverts(vault.NotOwnerOrGuardian, caller=attacker.address):
        vault.pause(sender=attacker)

    assert not vault.paused()


def test_stop_copying__non_owner__reverts_not_owner(vault, attacker):
    with reverts(vault.NotOwner, caller=attacker.address):
        vault.stopCopying(sender=attacker)

    assert vault.copying()


def test_pause__removed_owner__reverts_not_owner_or_guardian(vault, owners, execute_config):
    execute_config(vault, owners[:2], calldata(vault, "removeOwner", owners[2].address))

    with reverts(vault.NotOwnerOrGuardian, caller=owners[2].address):
        vault.pause(sender=owners[2])


def test_pause__twice__emits_once_and_stays_paused(vault, owners):
    first = vault.pause(sender=owners[0])
    second = vault.pause(sender=owners[1])

    assert len(first.decode_logs(vault.Paused)) == 1
    assert second.decode_logs(vault.Paused) == []
    assert vault.paused()


def test_stop_copying__twice__emits_once_and_stays_stopped(vault, owners):
    first = vault.stopCopying(sender=owners[0])
    second = vault.stopCopying(sender=owners[1])

    assert len(first.decode_logs(vault.CopyingStopped)) == 1
    assert second.decode_logs(vault.CopyingStopped) == []
    assert not vault.copying()


@pytest.mark.parametrize(
    ("stop", "resume", "state"),
    [("pause", "unpause", "paused"), ("stopCopying", "startCopying", "copying")],
    ids=["unpause", "startCopying"],
)
def test_resume__one_owner_short_of_threshold__reverts_then_threshold_resumes(
    vault_3_of_5, owners, execute_config, stop, resume, state
):
    getattr(vault_3_of_5, stop)(sender=owners[0])
    stopped = getattr(vault_3_of_5, state)()
    data = calldata(vault_3_of_5, resume)

    with reverts(vault_3_of_5.NotEnoughSignatures, given=2, threshold=3):
        execute_config(vault_3_of_5, owners[:2], data)
    assert getattr(vault_3_of_5, state)() == stopped

    execute_config(vault_3_of_5, owners[:3], data)
    assert getattr(vault_3_of_5, state)() != stopped


@pytest.mark.parametrize(
    ("function", "args", "event"),
    [
        ("unpause", (), "Unpaused"),
        ("startCopying", (), "CopyingStarted"),
        ("setGuardianAccepted", (True,), "GuardianAcceptanceChanged"),
    ],
)
def test_execute_config__resume_or_same_guardian_setting_without_change__emits_nothing(
    vault, owners, execute_config, function, args, event
):
    """Audit finding 8: like pause and stopCopying, these emit only when the state changes (the
    vault is running, copying and accepts the guardian already)."""
    receipt = execute_config(vault, owners[:2], calldata(vault, function, *args))

    assert receipt.decode_logs(getattr(vault, event)) == []
    assert (vault.paused(), vault.copying(), vault.guardianAccepted()) == (False, True, True)


@pytest.mark.parametrize(
    ("stop", "function", "event"),
    [("pause", "unpause", "Unpaused"), ("stopCopying", "startCopying", "CopyingStarted")],
)
def test_execute_config__resume_after_a_stop__emits_once(
    vault, owners, execute_config, stop, function, event
):
    getattr(vault, stop)(sender=owners[0])

    receipt = execute_config(vault, owners[:2], calldata(vault, function))

    assert len(receipt.decode_logs(getattr(vault, event))) == 1
