"""Owner sets and thresholds that would lock or hand over a vault, at creation and later.

Invariant 4 (docs/protocol.md §1.5): owners and threshold are always valid (1 ≤ M ≤ N, no zero or
duplicate owner).
"""

from __future__ import annotations

import pytest

from tests.contracts.attacks.helpers import Watch, blocked
from tests.utils.deploy import DEFAULT_POLICY


@pytest.fixture
def create_args(owners, leader, weth, usdc, venue, factory):
    """createVault arguments for a 2-of-3 vault; override by keyword."""

    def _args(owner_list=None, threshold=2):
        owner_list = owner_list if owner_list is not None else [o.address for o in owners[:3]]
        return (
            owner_list,
            threshold,
            leader.address,
            DEFAULT_POLICY,
            factory.defaultOracle(),
            [weth.address, usdc.address],
            [venue.address],
            True,
            b"\x07" * 32,
        )

    return _args


@pytest.fixture
def create(factory, follower):
    return lambda args: factory.createVault(*args, sender=follower)


@pytest.fixture
def no_vault_created(factory):
    return Watch([], [], checks={"vaults created": factory.vaultCount})


@pytest.fixture
def vault_error(project):
    """Error classes of CopyVault by name (the clone does not exist yet when creation fails)."""
    return lambda name: getattr(project.CopyVault, name)


@pytest.mark.parametrize("threshold", [0, 4])
def test_create_vault__threshold_outside_one_to_owner_count__reverts_invalid_threshold(
    threshold, create_args, create, vault_error, no_vault_created
):
    with blocked(vault_error("InvalidThreshold"), no_vault_created, threshold=threshold, owners=3):
        create(create_args(threshold=threshold))


def test_create_vault__zero_address_owner__reverts_zero_address(
    create_args, create, vault_error, no_vault_created, owners
):
    owner_list = [owners[0].address, "0x" + "00" * 20, owners[1].address]
    with blocked(vault_error("ZeroAddress"), no_vault_created):
        create(create_args(owner_list))


def test_create_vault__duplicate_owner__reverts_invalid_owner(
    create_args, create, vault_error, no_vault_created, owners
):
    owner_list = [owners[0].address, owners[1].address, owners[0].address]
    with blocked(vault_error("InvalidOwner"), no_vault_created, owner=owners[0]):
        create(create_args(owner_list))


def test_create_vault__thirty_three_owners__reverts_too_many_owners(
    create_args, create, vault_error, no_vault_created
):
    owner_list = [f"0x{i:040x}" for i in range(1, 34)]
    with blocked(vault_error("TooManyOwners"), no_vault_created, count=33, max=32):
        create(create_args(owner_list, threshold=1))


def test_create_vault__no_owners__reverts_invalid_threshold(
    create_args, create, vault_error, no_vault_created
):
    with blocked(vault_error("InvalidThreshold"), no_vault_created, threshold=1, owners=0):
        create(create_args([], threshold=1))


# --------------------------------------------------------------------------- through executeConfig


def test_execute_config__remove_owner_below_threshold__reverts_invalid_threshold(
    create_vault, owners, weth, execute_config
):
    vault = create_vault(owners_=owners[:2], threshold=2)
    with blocked(vault.InvalidThreshold, Watch([vault], [weth]), threshold=2, owners=1):
        execute_config(vault, owners[:2], vault.removeOwner.encode_input(owners[1]))


@pytest.mark.parametrize("threshold", [0, 4])
def test_execute_config__threshold_outside_one_to_owner_count__reverts_invalid_threshold(
    threshold, vault_under_attack, watch, signers, execute_config
):
    with blocked(vault_under_attack.InvalidThreshold, watch, threshold=threshold, owners=3):
        execute_config(
            vault_under_attack, signers, vault_under_attack.setThreshold.encode_input(threshold)
        )


def test_execute_config__add_vault_itself_as_owner__reverts_invalid_owner(
    vault_under_attack, watch, signers, execute_config
):
    with blocked(vault_under_attack.InvalidOwner, watch, owner=vault_under_attack):
        execute_config(
            vault_under_attack,
            signers,
            vault_under_attack.addOwner.encode_input(vault_under_attack),
        )


def test_execute_config__add_existing_owner__reverts_invalid_owner(
    vault_under_attack, watch, signers, owners, execute_config
):
    with blocked(vault_under_attack.InvalidOwner, watch, owner=owners[2]):
        execute_config(
            vault_under_attack, signers, vault_under_attack.addOwner.encode_input(owners[2])
        )


def test_execute_config__add_zero_address_owner__reverts_zero_address(
    vault_under_attack, watch, signers, execute_config
):
    with blocked(vault_under_attack.ZeroAddress, watch):
        execute_config(
            vault_under_attack, signers, vault_under_attack.addOwner.encode_input("0x" + "00" * 20)
        )


def test_execute_config__remove_non_owner__reverts_owner_not_found(
    vault_under_attack, watch, signers, attacker, execute_config
):
    with blocked(vault_under_attack.OwnerNotFound, watch, owner=attacker):
        execute_config(
            vault_under_attack, signers, vault_under_attack.removeOwner.encode_input(attacker)
        )
