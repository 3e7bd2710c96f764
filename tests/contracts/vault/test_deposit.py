"""CopyVault.deposit: anyone deposits allowlisted assets; the vault credits what actually
arrived (docs/protocol.md §1.1)."""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .helpers import DECIMALS


def _mint_and_approve(token, holder, vault, amount):
    token.mint(holder, amount, sender=holder)
    token.approve(vault, amount, sender=holder)


@pytest.mark.parametrize("decimals", DECIMALS)
def test_deposit__allowed_asset__credits_balance_and_emits_received_amount(
    asset_vault, assets, follower, decimals
):
    token = assets[decimals].token
    amount = assets[decimals].units(1_234.5)
    _mint_and_approve(token, follower, asset_vault, amount)

    receipt = asset_vault.deposit(token, amount, sender=follower)

    assert token.balanceOf(asset_vault) == amount
    assert token.balanceOf(follower) == 0
    events = receipt.decode_logs(asset_vault.Deposited)
    assert [(e["from"], e.token, e.amount) for e in events] == [
        (follower.address, token.address, amount)
    ]


def test_deposit__asset_not_on_allowlist__reverts_asset_not_allowed(vault, assets, follower):
    token = assets[18].token
    _mint_and_approve(token, follower, vault, 10**18)

    with reverts(vault.AssetNotAllowed, asset=token.address):
        vault.deposit(token, 10**18, sender=follower)

    assert token.balanceOf(vault) == 0


def test_deposit__zero_amount__reverts_zero_amount(vault, weth, follower):
    with reverts(vault.ZeroAmount):
        vault.deposit(weth, 0, sender=follower)


def test_deposit__vault_paused__reverts_vault_paused(vault, weth, follower):
    _mint_and_approve(weth, follower, vault, 10**18)
    vault.pause(sender=follower)

    with reverts(vault.VaultPaused):
        vault.deposit(weth, 10**18, sender=follower)

    assert weth.balanceOf(vault) == 0


def test_deposit__fee_on_transfer_token__credits_what_arrived(
    project, create_vault, deployer, follower
):
    fee_token = deployer.deploy(project.FeeOnTransferToken, 100)  # 1 % burnt on each transfer
    vault = create_vault(assets=[fee_token.address])
    _mint_and_approve(fee_token, follower, vault, 1_000)

    receipt = vault.deposit(fee_token, 1_000, sender=follower)

    assert fee_token.balanceOf(vault) == 990
    assert receipt.decode_logs(vault.Deposited)[0].amount == 990


def test_deposit__sanctioned_depositor__reverts_sanctioned_depositor(
    vault, weth, sanctions_list, sanctioned, deployer
):
    sanctions_list.setSanctioned(sanctioned, True, sender=deployer)
    _mint_and_approve(weth, sanctioned, vault, 10**18)

    with reverts(vault.SanctionedDepositor, depositor=sanctioned.address):
        vault.deposit(weth, 10**18, sender=sanctioned)

    assert weth.balanceOf(vault) == 0


def test_deposit__sanctions_list_set_and_depositor_not_on_it__credits_balance(
    vault, weth, sanctions_list, sanctioned, follower, deployer
):
    sanctions_list.setSanctioned(sanctioned, True, sender=deployer)
    _mint_and_approve(weth, follower, vault, 10**18)

    receipt = vault.deposit(weth, 10**18, sender=follower)

    assert weth.balanceOf(vault) == 10**18
    assert receipt.decode_logs(vault.Deposited)[0].amount == 10**18
