"""Reentrancy through a token callback (an ERC-777-style hook) into every vault entry point.

`ReentrantToken.arm(target, payload)` makes each transfer call `target` with `payload` and bubble
its revert. The vault's transient guard (OpenZeppelin's ReentrancyGuardTransient) must stop the
nested call with `ReentrancyGuardReentrantCall`, and the outer call must then revert whole:
nothing moves.
"""

from __future__ import annotations

import pytest

from tests.contracts.attacks.helpers import USDC, WETH, Watch, blocked, vault_nonce

AMOUNT = WETH


@pytest.fixture
def rvault(reentrant_vault):
    return reentrant_vault


@pytest.fixture
def rwatch(rvault, reentrant_token, usdc, depositor, follower, attacker):
    return Watch([rvault], [reentrant_token, usdc], holders=[depositor, follower, attacker])


@pytest.fixture
def approved_withdrawal(rvault, signers, reentrant_token, follower, sign_withdrawal, deadline):
    """The calldata of a genuinely approved withdrawal of 1 REENT to the follower (nonce 0)."""
    addrs, sigs = sign_withdrawal(rvault, signers, reentrant_token, AMOUNT, follower, deadline)
    args = (reentrant_token, AMOUNT, follower, deadline, addrs, sigs)
    return args, rvault.withdraw.encode_input(*args)


@pytest.fixture
def rintent(make_intent, sign_intent, reentrant_token):
    """A leader's intent selling 10 % of the vault's REENT for USDC."""
    return sign_intent(make_intent(token_in=reentrant_token.address))


def arm(token, vault, payload, sender):
    token.arm(vault, payload, sender=sender)


def test_deposit__token_hook_reenters_deposit__reverts_reentrancy_guard(
    rvault, rwatch, reentrant_token, depositor, attacker
):
    reentrant_token.mint(depositor, AMOUNT, sender=depositor)
    reentrant_token.approve(rvault, AMOUNT, sender=depositor)
    arm(reentrant_token, rvault, rvault.deposit.encode_input(reentrant_token, 1), attacker)

    with blocked(rvault.ReentrancyGuardReentrantCall, rwatch):
        rvault.deposit(reentrant_token, AMOUNT, sender=depositor)


def test_deposit__token_hook_reenters_approved_withdraw__reverts_reentrancy_guard(
    rvault, rwatch, reentrant_token, depositor, attacker, approved_withdrawal
):
    _, payload = approved_withdrawal
    reentrant_token.mint(depositor, AMOUNT, sender=depositor)
    reentrant_token.approve(rvault, AMOUNT, sender=depositor)
    arm(reentrant_token, rvault, payload, attacker)

    with blocked(rvault.ReentrancyGuardReentrantCall, rwatch):
        rvault.deposit(reentrant_token, AMOUNT, sender=depositor)


def test_withdraw__token_hook_reenters_withdraw_with_same_approvals__reverts_reentrancy_guard(
    rvault, rwatch, reentrant_token, attacker, relayer, approved_withdrawal
):
    args, payload = approved_withdrawal
    arm(reentrant_token, rvault, payload, attacker)

    with blocked(rvault.ReentrancyGuardReentrantCall, rwatch):
        rvault.withdraw(*args, sender=relayer)

    assert vault_nonce(rvault) == 0


def test_withdraw__token_hook_reenters_execute_config__reverts_reentrancy_guard(
    rvault,
    rwatch,
    reentrant_token,
    signers,
    attacker,
    relayer,
    approved_withdrawal,
    sign_config,
    deadline,
):
    # Owners approved both; the nested one would run at a nonce the outer call already advanced.
    data = rvault.setGuardianAccepted.encode_input(False)
    addrs, sigs = sign_config(rvault, signers, data, deadline, nonce=1)
    arm(
        reentrant_token,
        rvault,
        rvault.executeConfig.encode_input(data, deadline, addrs, sigs),
        attacker,
    )
    args, _ = approved_withdrawal

    with blocked(rvault.ReentrancyGuardReentrantCall, rwatch):
        rvault.withdraw(*args, sender=relayer)

    assert rvault.guardianAccepted()


def test_mirror__token_hook_reenters_mirror_with_same_intent__reverts_reentrancy_guard(
    rvault, rwatch, reentrant_token, attacker, relayer, rintent
):
    intent, sig = rintent
    arm(reentrant_token, rvault, rvault.mirror.encode_input(intent, sig), attacker)

    with blocked(rvault.ReentrancyGuardReentrantCall, rwatch.also(intents=[intent])):
        rvault.mirror(intent, sig, sender=relayer)


def test_mirror__token_hook_reenters_approved_withdraw__reverts_reentrancy_guard(
    rvault, rwatch, reentrant_token, attacker, relayer, rintent, approved_withdrawal
):
    intent, sig = rintent
    _, payload = approved_withdrawal
    arm(reentrant_token, rvault, payload, attacker)

    with blocked(rvault.ReentrancyGuardReentrantCall, rwatch.also(intents=[intent])):
        rvault.mirror(intent, sig, sender=relayer)


def test_mirror__reentrant_token_unarmed__trades_normally(
    rvault, reentrant_token, usdc, relayer, rintent
):
    # Control: the set-up is tradeable, so the reverts above come from the guard, not from the set-
    # up.
    intent, sig = rintent
    usdc_before = usdc.balanceOf(rvault)
    receipt = rvault.mirror(intent, sig, sender=relayer)
    event = receipt.decode_logs(rvault.Mirrored)[0]
    assert event.amountIn == AMOUNT
    assert usdc.balanceOf(rvault) == usdc_before + event.amountOut >= usdc_before + 2_970 * USDC
