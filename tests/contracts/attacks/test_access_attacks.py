"""One key versus the threshold: pausing, stopping, a single owner trying threshold-only actions.

Rule of thumb (docs/protocol.md §1.1): stopping takes one key; everything else takes the threshold.
Withdrawals work while paused; deposits and trades do not.
"""

from __future__ import annotations

import pytest

from tests.contracts.attacks.helpers import (
    CONFIG_FUNCTIONS,
    WETH,
    Watch,
    blocked,
    call_directly,
    vault_nonce,
)

# Every state-changing vault function, by who may call it. Each gate is attacked in this folder.
GATES = {
    "anyone (deposit, signed intents)": {"deposit", "mirror"},
    # cancelAggregated undoes a pull's executed flag and trade count: router only, and only for the
    # trade pending in the same transaction (NoPendingTrade otherwise).
    "router only": {"pullAggregated", "cancelAggregated", "settleAggregated"},
    "threshold of owner signatures": {"withdraw", "executeConfig"},
    "the vault itself (via executeConfig)": set(CONFIG_FUNCTIONS),
    "one owner (or the accepted guardian, for pause)": {"pause", "stopCopying"},
    "the factory, once": {"initialize"},
}


def test_vault_abi__every_state_changing_function__has_a_known_gate(project):
    abi = project.CopyVault.contract_type.abi
    writes = {
        e.name for e in abi if e.type == "function" and e.stateMutability not in ("view", "pure")
    }
    assert writes == set().union(*GATES.values())
    assert not [e for e in abi if e.type in ("fallback", "receive")]


# ----------------------------------------------------------------------------- pause and stop


@pytest.fixture
def paused_vault(vault_under_attack, co_owner):
    vault_under_attack.pause(sender=co_owner)
    return vault_under_attack


def test_deposit__vault_paused__reverts_vault_paused(paused_vault, watch, weth, depositor):
    weth.mint(depositor, WETH, sender=depositor)
    weth.approve(paused_vault, WETH, sender=depositor)
    with blocked(paused_vault.VaultPaused, watch.also(holders=[depositor])):
        paused_vault.deposit(weth, WETH, sender=depositor)


def test_mirror__vault_paused__reverts_vault_paused(
    paused_vault, watch, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent())
    with blocked(paused_vault.VaultPaused, watch.also(intents=[intent])):
        paused_vault.mirror(intent, sig, sender=relayer)


def test_withdraw__vault_paused__still_pays_the_approved_recipient(
    paused_vault, signers, weth, follower, withdraw
):
    before = weth.balanceOf(paused_vault), weth.balanceOf(follower)
    receipt = withdraw(paused_vault, signers, weth, 4 * WETH, follower)
    assert receipt.decode_logs(paused_vault.Withdrawn)[0].amount == 4 * WETH
    assert (weth.balanceOf(paused_vault), weth.balanceOf(follower)) == (
        before[0] - 4 * WETH,
        before[1] + 4 * WETH,
    )
    assert paused_vault.paused()


def test_pause__by_attacker__reverts_not_owner_or_guardian(vault_under_attack, watch, attacker):
    with blocked(vault_under_attack.NotOwnerOrGuardian, watch, caller=attacker):
        vault_under_attack.pause(sender=attacker)


def test_pause__by_guardian_of_vault_that_refused_guardian__reverts_not_owner_or_guardian(
    create_vault, guardian, weth
):
    vault = create_vault(accept_guardian=False)
    with blocked(vault.NotOwnerOrGuardian, Watch([vault], [weth]), caller=guardian):
        vault.pause(sender=guardian)


def test_stop_copying__by_attacker__reverts_not_owner(vault_under_attack, watch, attacker):
    with blocked(vault_under_attack.NotOwner, watch, caller=attacker):
        vault_under_attack.stopCopying(sender=attacker)


def test_mirror__one_owner_stopped_copying__reverts_copying_stopped(
    vault_under_attack, watch, co_owner, make_intent, sign_intent, relayer
):
    receipt = vault_under_attack.stopCopying(sender=co_owner)
    assert receipt.decode_logs(vault_under_attack.CopyingStopped)[0].by == co_owner.address

    intent, sig = sign_intent(make_intent())
    with blocked(vault_under_attack.CopyingStoppedError, watch.also(intents=[intent])):
        vault_under_attack.mirror(intent, sig, sender=relayer)


# ----------------------------------------------------------------------------- a single owner


def test_withdraw__one_owner_on_two_of_three__reverts_not_enough_signatures(
    vault_under_attack, watch, follower, weth, withdraw
):
    with blocked(
        vault_under_attack.NotEnoughSignatures, watch.also(holders=[follower]), given=1, threshold=2
    ):
        withdraw(vault_under_attack, [follower], weth, WETH, follower)


@pytest.mark.parametrize("function", CONFIG_FUNCTIONS)
def test_execute_config__one_owner_signature__reverts_not_enough_signatures(
    function, paused_vault, watch, follower, config_calls, execute_config
):
    # Paused first, so that `unpause` is a real change the lone owner wants.
    with blocked(paused_vault.NotEnoughSignatures, watch, given=1, threshold=2):
        execute_config(paused_vault, [follower], config_calls[function], sender=follower)


@pytest.mark.parametrize("function", CONFIG_FUNCTIONS)
def test_config_function__called_directly_by_owner__reverts_only_self(
    function, paused_vault, watch, follower, config_calls
):
    with blocked(paused_vault.OnlySelf, watch, caller=follower):
        call_directly(paused_vault, config_calls[function], follower)


def test_execute_config__two_owners__unpauses(paused_vault, signers, execute_config):
    # Control for the single-owner attempts above: the threshold does what one key cannot.
    receipt = execute_config(paused_vault, signers, paused_vault.unpause.encode_input())
    assert receipt.decode_logs(paused_vault.ConfigExecuted)[0].nonce == 0
    assert not paused_vault.paused()
    assert vault_nonce(paused_vault) == 1
