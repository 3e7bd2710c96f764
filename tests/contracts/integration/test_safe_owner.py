"""A real Safe 1.4.1 as one of a vault's owners.

The Safe approves through EIP-1271: the vault calls `Safe.isValidSignature(digest, signature)`,
which the Safe forwards to its CompatibilityFallbackHandler, which checks the Safe owners'
signatures over the Safe's own EIP-712 `SafeMessage(bytes message)` with
`message = abi.encode(digest)`. The Safe uses its single-key powers (pause, stop copying) by
calling the vault through `execTransaction`.
"""

from __future__ import annotations

import ape
import pytest
from eth_abi import encode

from backend.chain import eip712
from tests.utils.signing import vault_domain

from .conftest import EIP1271_MAGIC_VALUE, SafeApproval, by_address, op_nonce

AMOUNT = 4 * 10**18


def test_safe_message__owners_sign_vault_digest__fallback_handler_returns_magic_value(
    safe, safe_vault, weth, recipient, withdrawal, chain_id
):
    message = withdrawal(safe_vault, weth, AMOUNT, recipient)
    digest = eip712.digest(vault_domain(safe_vault, chain_id), message)
    assert bytes(safe_vault.withdrawalDigest(*message.values())) == digest

    # The Python SafeMessage hash is the one the Safe's handler computes for this Safe.
    assert bytes(safe.handler.getMessageHash(encode(["bytes32"], [digest]))) == (
        safe.safe_message_hash(digest)
    )
    # What the vault's SignatureChecker calls: isValidSignature(bytes32,bytes) on the Safe itself.
    assert bytes(safe.is_valid_signature(digest, safe.approve(digest))) == EIP1271_MAGIC_VALUE


@pytest.mark.parametrize(
    "eoa_approvers",
    [("follower",), ("co_owner",), ("follower", "co_owner")],
    ids=["safe_and_follower", "safe_and_co_owner", "all_three"],
)
def test_withdraw__safe_and_eoa_owners_approve__pays_recipient(
    safe, safe_vault, weth, recipient, relayer, approvals, withdrawal, eoa_approvers, request
):
    eoas = [request.getfixturevalue(name) for name in eoa_approvers]
    message = withdrawal(safe_vault, weth, AMOUNT, recipient)
    signers, signatures = approvals(safe_vault, message, [SafeApproval(safe), *eoas])
    # The Safe takes its place in the strictly ascending signer list like any EOA.
    assert signers == [str(a.address) for a in by_address([safe, *eoas])]
    vault_before, recipient_before = weth.balanceOf(safe_vault), weth.balanceOf(recipient)

    receipt = safe_vault.withdraw(
        weth, AMOUNT, recipient, message.deadline, signers, signatures, sender=relayer
    )

    event = receipt.decode_logs(safe_vault.Withdrawn)[0]
    assert (event.token, event.to, event.amount, event.nonce) == (weth, recipient, AMOUNT, 0)
    assert weth.balanceOf(safe_vault) == vault_before - AMOUNT
    assert weth.balanceOf(recipient) == recipient_before + AMOUNT
    assert op_nonce(safe_vault) == 1


def _one_of_two_safe_owners(safe, digest, other_digest, attacker):
    return safe.approve(digest, safe.safe_owners[:1])


def _safe_owners_out_of_order(safe, digest, other_digest, attacker):
    return safe.approve(digest, list(reversed(safe.safe_owners[:2])), ordered=False)


def _stranger_as_second_safe_owner(safe, digest, other_digest, attacker):
    return safe.approve(digest, [safe.safe_owners[0], attacker])


def _safe_owners_signed_other_withdrawal(safe, digest, other_digest, attacker):
    return safe.approve(other_digest)


@pytest.mark.parametrize(
    "bad_safe_signature",
    [
        _one_of_two_safe_owners,
        _safe_owners_out_of_order,
        _stranger_as_second_safe_owner,
        _safe_owners_signed_other_withdrawal,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_withdraw__safe_approval_fails_safe_own_rules__reverts_invalid_owner_signature_of_safe(
    safe,
    safe_vault,
    weth,
    follower,
    recipient,
    relayer,
    attacker,
    approvals,
    withdrawal,
    chain_id,
    bad_safe_signature,
):
    message = withdrawal(safe_vault, weth, AMOUNT, recipient)
    other = withdrawal(safe_vault, weth, AMOUNT + 1, recipient)
    domain = vault_domain(safe_vault, chain_id)
    signers, signatures = approvals(safe_vault, message, [SafeApproval(safe), follower])
    safe_index = signers.index(safe.address)
    signatures[safe_index] = bad_safe_signature(
        safe, eip712.digest(domain, message), eip712.digest(domain, other), attacker
    )
    vault_before = weth.balanceOf(safe_vault)

    with ape.reverts(safe_vault.InvalidOwnerSignature, signer=safe.address):
        safe_vault.withdraw(
            weth, AMOUNT, recipient, message.deadline, signers, signatures, sender=relayer
        )

    assert weth.balanceOf(safe_vault) == vault_before
    assert op_nonce(safe_vault) == 0


def test_withdraw__signers_with_safe_not_ascending__reverts_signers_not_ascending(
    safe, safe_vault, weth, follower, recipient, relayer, approvals, withdrawal
):
    message = withdrawal(safe_vault, weth, AMOUNT, recipient)
    signers, signatures = approvals(safe_vault, message, [SafeApproval(safe), follower])

    with ape.reverts(safe_vault.SignersNotAscending, index=1):
        safe_vault.withdraw(
            weth,
            AMOUNT,
            recipient,
            message.deadline,
            signers[::-1],
            signatures[::-1],
            sender=relayer,
        )

    assert op_nonce(safe_vault) == 0


def test_execute_config__safe_and_co_owner_approve__changes_threshold(
    safe, safe_vault, co_owner, relayer, approvals, chain
):
    data = bytes(safe_vault.setThreshold.encode_input(3))
    message = eip712.ConfigChange(data=data, nonce=0, deadline=chain.pending_timestamp + 3_600)
    signers, signatures = approvals(safe_vault, message, [SafeApproval(safe), co_owner])

    receipt = safe_vault.executeConfig(data, message.deadline, signers, signatures, sender=relayer)

    assert receipt.decode_logs(safe_vault.ThresholdChanged)[0].threshold == 3
    assert receipt.decode_logs(safe_vault.ConfigExecuted)[0].nonce == 0
    assert safe_vault.threshold() == 3
    assert op_nonce(safe_vault) == 1


@pytest.mark.parametrize(
    "action, event_name, flag, flag_after",
    [("pause", "Paused", "paused", True), ("stopCopying", "CopyingStopped", "copying", False)],
    ids=["pause", "stop_copying"],
)
def test_single_key_action__safe_owner_through_exec_transaction__takes_effect(
    safe, safe_vault, relayer, action, event_name, flag, flag_after
):
    assert getattr(safe_vault, flag)() is not flag_after
    data = bytes(getattr(safe_vault, action).encode_input())

    receipt = safe.exec_transaction(safe_vault, data, sender=relayer)

    assert receipt.decode_logs(safe.contract.ExecutionSuccess)
    assert receipt.decode_logs(getattr(safe_vault, event_name))[0].by == safe.address
    assert getattr(safe_vault, flag)() is flag_after
