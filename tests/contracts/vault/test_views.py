"""CopyVault views: what a new vault reports, how the views follow operations, and the EIP-712
digests the vault checks approvals against (docs/protocol.md §1.1)."""

from __future__ import annotations

import pytest

from backend.chain import eip712
from tests.utils.signing import vault_domain

from .helpers import vault_nonce

POLICY = (4_000, 75, 900, 5, 30)


@pytest.fixture
def configured_vault(create_vault, owners, leader, weth, usdc, venue):
    return create_vault(
        owners_=owners[:3],
        threshold=2,
        leader_=leader,
        policy=POLICY,
        assets=[weth.address, usdc.address],
        venues=[venue.address],
        accept_guardian=False,
    )


def test_views__new_vault__report_creation_parameters(
    configured_vault, owners, leader, oracle, factory, registry
):
    vault = configured_vault

    assert vault.getOwners() == [o.address for o in owners[:3]]
    assert [vault.isOwner(o) for o in owners] == [True, True, True, False, False]
    assert vault.threshold() == 2
    assert vault.leader() == leader.address
    assert vault_nonce(vault) == 0
    assert (vault.paused(), vault.copying(), vault.guardianAccepted()) == (False, True, False)
    assert vault.policy() == POLICY
    assert vault.oracle() == oracle.address  # the factory's default oracle
    assert (vault.factory(), vault.registry()) == (factory.address, registry.address)
    assert (vault.tradesToday(), vault.lossUsed()) == (0, 0)
    assert not vault.isIntentExecuted(leader, 0)


def test_views__allowlists__assets_and_venues_are_separate_lists(
    configured_vault, weth, usdc, venue, assets
):
    vault = configured_vault

    assert vault.isAssetAllowed(weth) and vault.isAssetAllowed(usdc)
    assert not vault.isAssetAllowed(assets[18].token)
    assert vault.isVenueAllowed(venue)
    # Being allowed as one kind does not allow an address as the other.
    assert not vault.isVenueAllowed(weth)
    assert not vault.isAssetAllowed(venue)


def test_views__after_trade_withdrawal_and_pause__follow_state(
    funded_vault, owners, leader, weth, recipient, make_intent, sign_intent, withdraw, relayer
):
    funded_vault.mirror(*sign_intent(make_intent(nonce=257)), sender=relayer)
    withdraw(funded_vault, owners[:2], weth, 1, recipient)
    funded_vault.pause(sender=owners[2])

    assert funded_vault.isIntentExecuted(leader, 257)
    assert not funded_vault.isIntentExecuted(leader, 256)
    assert not funded_vault.isIntentExecuted(leader, 1)
    assert funded_vault.tradesToday() == 1
    assert vault_nonce(funded_vault) == 1
    assert funded_vault.paused()


def test_domain_separator__equals_backend_eip712_for_the_vault_address(vault, chain_id):
    expected = eip712.domain_separator(vault_domain(vault, chain_id))

    assert vault.domainSeparator() == expected


def test_domain_separator__two_vaults__differ(create_vault):
    first, second = create_vault(), create_vault()

    assert first.domainSeparator() != second.domainSeparator()


@pytest.mark.parametrize("nonce", [0, 7, 2**48 - 1])
def test_withdrawal_digest__equals_backend_eip712_digest(vault, weth, recipient, chain_id, nonce):
    message = eip712.Withdrawal(
        token=weth.address, amount=123 * 10**18, to=recipient.address, nonce=nonce, deadline=2**40
    )

    digest = vault.withdrawalDigest(weth, 123 * 10**18, recipient, nonce, 2**40)

    assert digest == eip712.digest(vault_domain(vault, chain_id), message)


@pytest.mark.parametrize(
    "data", [b"", b"\x01", bytes(range(100))], ids=["empty", "one-byte", "hundred-bytes"]
)
def test_config_digest__equals_backend_eip712_digest(vault, chain_id, data):
    message = eip712.ConfigChange(data=data, nonce=3, deadline=2**40)

    digest = vault.configDigest(data, 3, 2**40)

    assert digest == eip712.digest(vault_domain(vault, chain_id), message)


def test_config_digest__real_configuration_call__equals_backend_eip712_digest(
    vault, other_leader, chain_id
):
    data = bytes(vault.setLeader.encode_input(other_leader.address))
    message = eip712.ConfigChange(data=data, nonce=0, deadline=2**40)

    assert vault.configDigest(data, 0, 2**40) == eip712.digest(
        vault_domain(vault, chain_id), message
    )
