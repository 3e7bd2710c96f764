"""CopyVault.initialize: only the factory initialises, once per clone; the implementation never
(docs/protocol.md §1.1: a vault's code and owners are fixed at creation)."""

from __future__ import annotations

import pytest

from tests.utils.deploy import DEFAULT_POLICY
from tests.utils.reverts import reverts


@pytest.fixture
def init_params(attacker, oracle):
    """Parameters that would hand a vault to the attacker."""
    return ([attacker.address], 1, attacker.address, DEFAULT_POLICY, oracle.address, [], [], False)


@pytest.fixture
def as_factory(accounts, chain, factory):
    """The factory's address as a sender (impersonated on the local node)."""
    chain.set_balance(factory.address, 10**18)
    return accounts[factory.address]


@pytest.fixture
def implementation(project, factory):
    return project.CopyVault.at(factory.vaultImplementation())


def test_initialize__implementation_by_anyone__reverts_not_factory(
    implementation, init_params, attacker
):
    with reverts(implementation.NotFactory, caller=attacker.address):
        implementation.initialize(init_params, sender=attacker)

    assert implementation.getOwners() == []


def test_initialize__implementation_by_factory__reverts_already_initialized(
    implementation, init_params, as_factory
):
    with reverts(implementation.AlreadyInitialized):
        implementation.initialize(init_params, sender=as_factory)

    assert implementation.getOwners() == []


def test_initialize__clone_by_anyone__reverts_not_factory(vault, init_params, owners, attacker):
    with reverts(vault.NotFactory, caller=attacker.address):
        vault.initialize(init_params, sender=attacker)

    assert vault.getOwners() == [o.address for o in owners[:3]]


def test_initialize__clone_second_time_by_factory__reverts_already_initialized(
    vault, init_params, owners, leader, as_factory
):
    with reverts(vault.AlreadyInitialized):
        vault.initialize(init_params, sender=as_factory)

    assert vault.getOwners() == [o.address for o in owners[:3]]
    assert vault.leader() == leader.address


ZERO_ADDRESS = "0x" + "00" * 20
# name: (owner indexes (None = the zero address), threshold, error, inputs)
INVALID_OWNER_SETS = {
    "duplicate-owner": ([0, 1, 0], 2, "InvalidOwner", {"owner": 0}),
    "zero-owner": ([0, None], 1, "ZeroAddress", {}),
    "no-owners": ([], 1, "InvalidThreshold", {"threshold": 1, "owners": 0}),
    "threshold-0": ([0, 1, 2], 0, "InvalidThreshold", {"threshold": 0, "owners": 3}),
    "threshold-above-owners": ([0, 1, 2], 4, "InvalidThreshold", {"threshold": 4, "owners": 3}),
}


@pytest.mark.parametrize("name", INVALID_OWNER_SETS)
def test_initialize__invalid_owners_or_threshold__vault_creation_reverts(
    factory, implementation, owners, leader, weth, venue, name
):
    """Invariant 4 (docs/protocol.md §1.5): 1 ≤ M ≤ N, no zero or duplicate owner, from creation."""
    indexes, threshold, error, inputs = INVALID_OWNER_SETS[name]
    addresses = [ZERO_ADDRESS if i is None else owners[i].address for i in indexes]
    inputs = {k: owners[v].address if k == "owner" else v for k, v in inputs.items()}

    with reverts(getattr(implementation, error), **inputs):
        factory.createVault(
            addresses,
            threshold,
            leader,
            DEFAULT_POLICY,
            factory.defaultOracle(),
            [weth],
            [venue],
            True,
            b"\x01" * 32,
            sender=owners[0],
        )

    assert factory.vaultCount() == 0
