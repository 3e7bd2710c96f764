"""Misbehaving tokens: fee-on-transfer deposits, and tokens returning false instead of reverting."""

from __future__ import annotations

import pytest

from tests.contracts.attacks.helpers import Watch, blocked, vault_nonce

AMOUNT = 1_000 * 10**18
FEE_BPS = 100


@pytest.fixture
def fee_on_transfer_token(project, deployer):
    return deployer.deploy(project.FeeOnTransferToken, FEE_BPS)


@pytest.fixture
def false_token(project, deployer):
    return deployer.deploy(project.ReturnsFalseToken)


def test_deposit__fee_on_transfer_token__credits_what_arrived(
    create_vault, fee_on_transfer_token, depositor
):
    vault = create_vault(assets=[fee_on_transfer_token.address])
    fee_on_transfer_token.mint(depositor, AMOUNT, sender=depositor)
    fee_on_transfer_token.approve(vault, AMOUNT, sender=depositor)

    receipt = vault.deposit(fee_on_transfer_token, AMOUNT, sender=depositor)

    arrived = AMOUNT - AMOUNT * FEE_BPS // 10_000
    event = receipt.decode_logs(vault.Deposited)[0]
    assert (event["from"], event.token, event.amount) == (
        depositor.address,
        fee_on_transfer_token.address,
        arrived,
    )
    assert fee_on_transfer_token.balanceOf(vault) == arrived
    assert fee_on_transfer_token.balanceOf(depositor) == 0


def test_withdraw__token_returns_false__reverts_safe_erc20_failed_operation_and_keeps_nonce(
    create_vault, false_token, signers, follower, deployer, withdraw
):
    vault = create_vault(assets=[false_token.address])
    false_token.mint(vault, AMOUNT, sender=deployer)
    false_token.setFailing(True, sender=deployer)

    watch = Watch([vault], [false_token], holders=[follower])
    with blocked(vault.SafeERC20FailedOperation, watch, token=false_token):
        withdraw(vault, signers, false_token, AMOUNT, follower)

    assert vault_nonce(vault) == 0


def test_withdraw__token_returns_false_then_recovers__same_approval_still_works(
    create_vault, false_token, signers, follower, deployer, sign_withdrawal, deadline, relayer
):
    # Because the failed attempt reverted whole, the owners' approval was not burnt.
    vault = create_vault(assets=[false_token.address])
    false_token.mint(vault, AMOUNT, sender=deployer)
    addrs, sigs = sign_withdrawal(vault, signers, false_token, AMOUNT, follower, deadline)
    false_token.setFailing(True, sender=deployer)
    with blocked(vault.SafeERC20FailedOperation, Watch([vault], [false_token], [follower])):
        vault.withdraw(false_token, AMOUNT, follower, deadline, addrs, sigs, sender=relayer)

    false_token.setFailing(False, sender=deployer)
    vault.withdraw(false_token, AMOUNT, follower, deadline, addrs, sigs, sender=relayer)
    assert false_token.balanceOf(follower) == AMOUNT
    assert vault_nonce(vault) == 1


def test_deposit__token_returns_false__reverts_safe_erc20_failed_operation(
    create_vault, false_token, depositor
):
    # A deposit the token "accepted" without moving anything must not be credited.
    vault = create_vault(assets=[false_token.address])
    false_token.mint(depositor, AMOUNT, sender=depositor)
    false_token.approve(vault, AMOUNT, sender=depositor)
    false_token.setFailing(True, sender=depositor)

    watch = Watch([vault], [false_token], holders=[depositor])
    with blocked(vault.SafeERC20FailedOperation, watch, token=false_token):
        vault.deposit(false_token, AMOUNT, sender=depositor)
