"""Wallet compatibility: what users' wallets sign verifies on chain.

Two independent signers, neither of them `backend.chain.eip712.sign`:
- eth-account's `Account.sign_typed_data` (a plain Python wallet library), and
- `@metamask/eth-sig-util`'s `signTypedData` V4, which MetaMask runs for eth_signTypedData_v4.
Both sign the eth_signTypedData_v4 document `backend.chain.eip712.typed_data` builds.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from backend.chain import eip712
from backend.chain.js_signer import sign_typed_data_v4_js
from tests.utils.signing import intent_tuple, registry_domain, vault_domain

from .conftest import HOUR, by_address, op_nonce


def eth_account_wallet(private_key: str, document: dict) -> bytes:
    return bytes(Account.sign_typed_data(private_key, full_message=document).signature)


def metamask_wallet(private_key: str, document: dict) -> bytes:
    return sign_typed_data_v4_js(private_key, document)


WALLETS = {"eth_account": eth_account_wallet, "metamask": metamask_wallet}


@pytest.mark.parametrize("wallet", WALLETS)
def test_mirror__intent_signed_by_wallet__executes_in_vault(
    wallet, funded_vault, registry, leader, make_intent, chain_id, relayer, weth, usdc
):
    intent = make_intent(fraction_bps=1_000)
    document = eip712.typed_data(registry_domain(registry, chain_id), intent)
    signature = WALLETS[wallet](leader.private_key, document)
    weth_before, usdc_before = weth.balanceOf(funded_vault), usdc.balanceOf(funded_vault)

    receipt = funded_vault.mirror(intent_tuple(intent), signature, sender=relayer)

    event = receipt.decode_logs(funded_vault.Mirrored)[0]
    assert (event.leader, event.nonce) == (leader.address, intent.nonce)
    assert bytes(event.digest) == bytes(registry.intentDigest(intent_tuple(intent)))
    assert weth.balanceOf(funded_vault) == weth_before - event.amountIn == weth_before * 9 // 10
    assert usdc.balanceOf(funded_vault) == usdc_before + event.amountOut
    assert funded_vault.isIntentExecuted(leader, intent.nonce)


@pytest.mark.parametrize(
    "first_wallet, second_wallet",
    [("eth_account", "eth_account"), ("metamask", "metamask"), ("eth_account", "metamask")],
    ids=["eth_account", "metamask", "mixed"],
)
def test_withdraw__approvals_signed_by_wallets__pays_recipient(
    first_wallet,
    second_wallet,
    funded_vault,
    weth,
    follower,
    co_owner,
    recipient,
    relayer,
    chain,
    chain_id,
):
    amount = 3 * 10**18
    message = eip712.Withdrawal(
        token=str(weth.address),
        amount=amount,
        to=str(recipient.address),
        nonce=0,
        deadline=chain.pending_timestamp + HOUR,
    )
    document = eip712.typed_data(vault_domain(funded_vault, chain_id), message)
    approvers = by_address([follower, co_owner])
    signatures = [
        WALLETS[w](a.private_key, document)
        for w, a in zip((first_wallet, second_wallet), approvers, strict=True)
    ]
    vault_before, recipient_before = weth.balanceOf(funded_vault), weth.balanceOf(recipient)

    receipt = funded_vault.withdraw(
        weth,
        amount,
        recipient,
        message.deadline,
        [a.address for a in approvers],
        signatures,
        sender=relayer,
    )

    event = receipt.decode_logs(funded_vault.Withdrawn)[0]
    assert (event.to, event.amount, event.nonce) == (recipient, amount, 0)
    assert weth.balanceOf(funded_vault) == vault_before - amount
    assert weth.balanceOf(recipient) == recipient_before + amount


@pytest.mark.parametrize("wallet", WALLETS)
def test_execute_config__approvals_signed_by_wallet__applies_change(
    wallet, vault, follower, co_owner, attacker, relayer, chain, chain_id
):
    # ConfigChange has a dynamic `bytes` member: the wallet must hash it as EIP-712 says (keccak).
    data = bytes(vault.setLeader.encode_input(attacker))
    message = eip712.ConfigChange(data=data, nonce=0, deadline=chain.pending_timestamp + HOUR)
    document = eip712.typed_data(vault_domain(vault, chain_id), message)
    approvers = by_address([follower, co_owner])
    signatures = [WALLETS[wallet](a.private_key, document) for a in approvers]

    receipt = vault.executeConfig(
        data, message.deadline, [a.address for a in approvers], signatures, sender=relayer
    )

    assert receipt.decode_logs(vault.LeaderChanged)[0].leader == attacker
    assert vault.leader() == attacker
    assert op_nonce(vault) == 1
