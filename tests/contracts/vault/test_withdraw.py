"""CopyVault.withdraw: M-of-N owner approvals move exactly the approved amount to the approved
recipient, once, before the deadline, paused or not (docs/protocol.md §1.1, §1.5 invariants 1,
2)."""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .helpers import DECIMALS, HOUR, vault_nonce

ZERO_ADDRESS = "0x" + "00" * 20


@pytest.mark.parametrize("decimals", DECIMALS)
def test_withdraw__threshold_of_owners_approve__moves_exact_amount_to_recipient(
    shaped_vault, assets, withdraw, recipient, decimals
):
    vault, _, _ = shaped_vault
    asset = assets[decimals]
    # Token allowlists do not gate withdrawals; the vault holds the asset by a direct transfer here.
    asset.token.mint(vault, asset.units(100), sender=recipient)
    amount = asset.units(37.25)

    receipt = withdraw(vault, shaped_vault.signers, asset.token, amount, recipient)

    assert asset.token.balanceOf(recipient) == amount
    assert asset.token.balanceOf(vault) == asset.units(100) - amount
    events = receipt.decode_logs(vault.Withdrawn)
    assert [(e.token, e.to, e.amount, e.nonce) for e in events] == [
        (asset.token.address, recipient.address, amount, 0)
    ]
    assert vault_nonce(vault) == 1


def test_withdraw__one_signature_short__reverts_not_enough_signatures(
    shaped_vault, weth, sign_withdrawal, chain, recipient, relayer
):
    vault, _, threshold = shaped_vault
    weth.mint(vault, 10**18, sender=recipient)
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(
        vault, shaped_vault.signers[1:], weth, 10**18, recipient, deadline
    )

    with reverts(vault.NotEnoughSignatures, given=threshold - 1, threshold=threshold):
        vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)

    assert weth.balanceOf(vault) == 10**18
    assert vault_nonce(vault) == 0


def test_withdraw__all_owners_approve__more_than_threshold_is_accepted(
    funded_vault, weth, owners, withdraw, recipient
):
    withdraw(funded_vault, owners[:3], weth, 10**18, recipient)

    assert weth.balanceOf(recipient) == 10**18


def test_withdraw__vault_paused__still_works(
    funded_vault, weth, owners, follower, withdraw, recipient
):
    funded_vault.pause(sender=follower)

    withdraw(funded_vault, owners[:2], weth, 10**18, recipient)

    assert funded_vault.paused()
    assert weth.balanceOf(recipient) == 10**18


def test_withdraw__deadline_passed__reverts_deadline_expired(
    funded_vault, weth, owners, sign_withdrawal, chain, recipient, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)
    chain.pending_timestamp = deadline + 1

    with reverts(funded_vault.DeadlineExpired, deadline=deadline, timestamp=deadline + 1):
        funded_vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)

    assert weth.balanceOf(recipient) == 0


def test_withdraw__at_deadline__works(
    funded_vault, weth, owners, sign_withdrawal, chain, recipient, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)
    chain.pending_timestamp = deadline

    funded_vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)

    assert weth.balanceOf(recipient) == 10**18


def test_withdraw__token_not_on_allowlist__can_be_rescued(
    vault, project, deployer, owners, withdraw, recipient
):
    airdrop = deployer.deploy(project.TestToken, "Airdrop", "AIR", 18)
    airdrop.mint(vault, 500, sender=deployer)
    assert not vault.isAssetAllowed(airdrop)

    withdraw(vault, owners[:2], airdrop, 500, recipient)

    assert airdrop.balanceOf(recipient) == 500
    assert airdrop.balanceOf(vault) == 0


def test_withdraw__zero_recipient__reverts_zero_address(
    funded_vault, weth, owners, sign_withdrawal, chain, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, ZERO_ADDRESS, deadline)

    with reverts(funded_vault.ZeroAddress):
        funded_vault.withdraw(weth, 10**18, ZERO_ADDRESS, deadline, addrs, sigs, sender=relayer)


def test_withdraw__zero_amount__reverts_zero_amount(
    funded_vault, weth, owners, sign_withdrawal, chain, recipient, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 0, recipient, deadline)

    with reverts(funded_vault.ZeroAmount):
        funded_vault.withdraw(weth, 0, recipient, deadline, addrs, sigs, sender=relayer)


def test_withdraw__signers_and_signatures_differ_in_length__reverts_length_mismatch(
    funded_vault, weth, owners, sign_withdrawal, chain, recipient, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)

    with reverts(funded_vault.LengthMismatch, signers=2, signatures=1):
        funded_vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs[:1], sender=relayer)


def test_withdraw__same_approval_twice__second_reverts_invalid_owner_signature(
    funded_vault, weth, owners, sign_withdrawal, chain, recipient, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)
    funded_vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)

    with reverts(funded_vault.InvalidOwnerSignature, signer=addrs[0]):
        funded_vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)

    assert weth.balanceOf(recipient) == 10**18


@pytest.mark.parametrize("changed", ["to", "amount", "token"])
def test_withdraw__approval_used_for_other_terms__reverts_invalid_owner_signature(
    funded_vault, weth, usdc, owners, sign_withdrawal, chain, recipient, attacker, relayer, changed
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)
    terms = {"token": weth, "amount": 10**18, "to": recipient}
    terms[changed] = {"to": attacker, "amount": 2 * 10**18, "token": usdc}[changed]

    with reverts(funded_vault.InvalidOwnerSignature, signer=addrs[0]):
        funded_vault.withdraw(
            terms["token"], terms["amount"], terms["to"], deadline, addrs, sigs, sender=relayer
        )

    assert vault_nonce(funded_vault) == 0


def test_withdraw__approval_for_another_vault__reverts_invalid_owner_signature(
    funded_vault, create_vault, weth, owners, sign_withdrawal, chain, recipient, relayer, deposit
):
    other = create_vault()  # same owners, same nonce 0: only the domain tells them apart
    deposit(other, weth, 10**18)
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)

    with reverts(other.InvalidOwnerSignature, signer=addrs[0]):
        other.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)


def test_withdraw__signer_not_an_owner__reverts_signer_not_owner(
    funded_vault, weth, owners, sign_withdrawal, chain, recipient, attacker, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(
        funded_vault, [owners[0], attacker], weth, 10**18, recipient, deadline
    )

    with reverts(funded_vault.SignerNotOwner, signer=attacker.address):
        funded_vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)


def test_withdraw__same_owner_signs_twice__reverts_signers_not_ascending(
    funded_vault, weth, follower, sign_withdrawal, chain, recipient, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, [follower], weth, 10**18, recipient, deadline)

    with reverts(funded_vault.SignersNotAscending, index=1):
        funded_vault.withdraw(
            weth, 10**18, recipient, deadline, addrs * 2, sigs * 2, sender=relayer
        )


def test_withdraw__signers_descending__reverts_signers_not_ascending(
    funded_vault, weth, owners, sign_withdrawal, chain, recipient, relayer
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)

    with reverts(funded_vault.SignersNotAscending, index=1):
        funded_vault.withdraw(
            weth, 10**18, recipient, deadline, addrs[::-1], sigs[::-1], sender=relayer
        )
