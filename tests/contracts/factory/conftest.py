"""Fixtures for VaultFactory tests: createVault's argument list with defaults, and the platform
roles.
"""

from __future__ import annotations

import pytest

STRICT_POLICY = (
    2_500,
    50,
    600,
    3,
    200,
)  # every field differs from tests.utils.deploy.DEFAULT_POLICY


@pytest.fixture
def vault_args(system, owners, leader):
    """createVault's arguments as a tuple: a 2-of-3 vault with distinct, recognisable settings."""

    def _args(**overrides):
        fields = dict(
            owners=[o.address for o in owners[:3]],
            threshold=2,
            leader=leader.address,
            policy=STRICT_POLICY,
            oracle=system.factory.defaultOracle(),
            assets=[system.weth.address, system.usdc.address],
            venues=[system.venue.address],
            accept_guardian=True,
            salt=b"\x07" * 32,
        )
        fields.update(overrides)
        return tuple(fields.values())

    return _args


@pytest.fixture(scope="session")
def role_holder(accounts):
    """An account given one platform role at a time (the admin holds them all)."""
    return accounts[13]


@pytest.fixture
def create(factory, project):
    """createVault(*args) from `sender`: (the vault as a CopyVault, the receipt)."""

    def _create(args, sender):
        receipt = factory.createVault(*args, sender=sender)
        return project.CopyVault.at(receipt.decode_logs(factory.VaultCreated)[0].vault), receipt

    return _create
