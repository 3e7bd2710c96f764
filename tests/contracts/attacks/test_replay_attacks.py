"""Replayed owner approvals: twice, on another vault, on another chain, too early, too late.

Invariant 2 (docs/protocol.md §1.5): an approval works once, on the vault and chain it names, before
its deadline.
"""

from __future__ import annotations

import pytest

from backend.chain import eip712
from tests.conftest import HOUR, fund
from tests.contracts.attacks.helpers import WETH, Watch, blocked, vault_nonce
from tests.utils.signing import sign_approvals

AMOUNT = 2 * WETH


@pytest.fixture
def twin_vault(create_vault, owners, weth, usdc, deployer):
    """A second vault with exactly the default vault's owners, threshold and balances."""
    vault = create_vault(owners_=owners[:3])
    fund(vault, weth, 10 * WETH, deployer)
    fund(vault, usdc, 30_000 * 10**6, deployer)
    return vault


def test_withdraw__same_approval_twice__second_reverts_invalid_owner_signature(
    vault_under_attack, watch, signers, weth, follower, sign_withdrawal, deadline, relayer
):
    addrs, sigs = sign_withdrawal(vault_under_attack, signers, weth, AMOUNT, follower, deadline)
    vault_under_attack.withdraw(weth, AMOUNT, follower, deadline, addrs, sigs, sender=relayer)
    watch = watch.also(holders=[follower])

    with blocked(vault_under_attack.InvalidOwnerSignature, watch, signer=addrs[0]):
        vault_under_attack.withdraw(weth, AMOUNT, follower, deadline, addrs, sigs, sender=relayer)

    assert vault_nonce(vault_under_attack) == 1


def test_withdraw__vault_a_approval_on_vault_b_with_same_owners__reverts_invalid_owner_signature(
    vault_under_attack,
    twin_vault,
    signers,
    weth,
    usdc,
    attacker,
    sign_withdrawal,
    deadline,
    relayer,
):
    addrs, sigs = sign_withdrawal(vault_under_attack, signers, weth, AMOUNT, attacker, deadline)
    watch = Watch([vault_under_attack, twin_vault], [weth, usdc], holders=[attacker])

    with blocked(twin_vault.InvalidOwnerSignature, watch, signer=addrs[0]):
        twin_vault.withdraw(weth, AMOUNT, attacker, deadline, addrs, sigs, sender=relayer)


def test_withdraw__approval_signed_for_other_chain_id__reverts_invalid_owner_signature(
    vault_under_attack, watch, signers, weth, attacker, sign_withdrawal, deadline, relayer, chain_id
):
    addrs, sigs = sign_withdrawal(
        vault_under_attack, signers, weth, AMOUNT, attacker, deadline, domain_chain_id=chain_id + 1
    )
    with blocked(vault_under_attack.InvalidOwnerSignature, watch, signer=addrs[0]):
        vault_under_attack.withdraw(weth, AMOUNT, attacker, deadline, addrs, sigs, sender=relayer)


def test_withdraw__approval_signed_for_implementation_domain__reverts_invalid_owner_signature(
    vault_under_attack, watch, factory, signers, weth, attacker, deadline, relayer, chain_id
):
    # A domain cached in the implementation would be shared by every clone; each clone uses its own.
    message = eip712.Withdrawal(
        token=weth.address, amount=AMOUNT, to=attacker.address, nonce=0, deadline=deadline
    )
    domain = eip712.Domain(chain_id=chain_id, verifying_contract=factory.vaultImplementation())
    addrs, sigs = sign_approvals(domain, message, signers)
    with blocked(vault_under_attack.InvalidOwnerSignature, watch, signer=addrs[0]):
        vault_under_attack.withdraw(weth, AMOUNT, attacker, deadline, addrs, sigs, sender=relayer)


def test_withdraw__approval_for_next_nonce_used_early__reverts_invalid_owner_signature(
    vault_under_attack, watch, signers, weth, attacker, sign_withdrawal, deadline, relayer
):
    addrs, sigs = sign_withdrawal(
        vault_under_attack, signers, weth, AMOUNT, attacker, deadline, nonce=1
    )
    with blocked(vault_under_attack.InvalidOwnerSignature, watch, signer=addrs[0]):
        vault_under_attack.withdraw(weth, AMOUNT, attacker, deadline, addrs, sigs, sender=relayer)


def test_withdraw__approval_whose_nonce_a_config_change_used__reverts_invalid_owner_signature(
    vault_under_attack,
    watch,
    signers,
    weth,
    attacker,
    sign_withdrawal,
    execute_config,
    deadline,
    relayer,
):
    # Owners cancel a leaked withdrawal approval by spending its nonce on any configuration change.
    addrs, sigs = sign_withdrawal(vault_under_attack, signers, weth, AMOUNT, attacker, deadline)
    execute_config(
        vault_under_attack, signers, vault_under_attack.setGuardianAccepted.encode_input(True)
    )

    with blocked(vault_under_attack.InvalidOwnerSignature, watch, signer=addrs[0]):
        vault_under_attack.withdraw(weth, AMOUNT, attacker, deadline, addrs, sigs, sender=relayer)


def test_withdraw__deadline_passed__reverts_deadline_expired(
    vault_under_attack, watch, signers, weth, attacker, sign_withdrawal, relayer, chain
):
    deadline = chain.pending_timestamp + 60
    addrs, sigs = sign_withdrawal(vault_under_attack, signers, weth, AMOUNT, attacker, deadline)
    chain.pending_timestamp += HOUR

    with blocked(vault_under_attack.DeadlineExpired, watch, deadline=deadline):
        vault_under_attack.withdraw(weth, AMOUNT, attacker, deadline, addrs, sigs, sender=relayer)


def test_execute_config__deadline_passed__reverts_deadline_expired(
    vault_under_attack, watch, signers, attacker, sign_config, relayer, chain
):
    deadline = chain.pending_timestamp + 60
    data = vault_under_attack.addOwner.encode_input(attacker)
    addrs, sigs = sign_config(vault_under_attack, signers, data, deadline)
    chain.pending_timestamp += HOUR

    with blocked(vault_under_attack.DeadlineExpired, watch, deadline=deadline):
        vault_under_attack.executeConfig(data, deadline, addrs, sigs, sender=relayer)


def test_execute_config__same_approval_twice__second_reverts_invalid_owner_signature(
    vault_under_attack, signers, weth, usdc, sign_config, deadline, relayer
):
    # Replaying "disallow WETH" after the owners re-allowed it would undo their later decision.
    data = vault_under_attack.setAssetAllowed.encode_input(weth, False)
    addrs, sigs = sign_config(vault_under_attack, signers, data, deadline)
    vault_under_attack.executeConfig(data, deadline, addrs, sigs, sender=relayer)
    assert not vault_under_attack.isAssetAllowed(weth)

    with blocked(
        vault_under_attack.InvalidOwnerSignature, Watch([vault_under_attack], [weth, usdc])
    ):
        vault_under_attack.executeConfig(data, deadline, addrs, sigs, sender=relayer)


def test_execute_config__approval_for_vault_a_used_on_vault_b__reverts_invalid_owner_signature(
    vault_under_attack, twin_vault, signers, attacker, weth, sign_config, deadline, relayer
):
    data = vault_under_attack.setLeader.encode_input(attacker)
    addrs, sigs = sign_config(vault_under_attack, signers, data, deadline)
    watch = Watch([vault_under_attack, twin_vault], [weth])

    with blocked(twin_vault.InvalidOwnerSignature, watch, signer=addrs[0]):
        twin_vault.executeConfig(data, deadline, addrs, sigs, sender=relayer)
