"""The suite's own matchers can fail: a wrong error, a wrong or misspelt argument, no revert, or
moved state each fail the assertion. (A vacuous matcher would make every attack test pass.)
"""

from __future__ import annotations

import pytest

from tests.contracts.attacks.helpers import blocked
from tests.utils.reverts import reverts


def test_reverts__other_error__fails(vault_under_attack, attacker):
    with pytest.raises(AssertionError, match="expected NotOwner"):
        with reverts(vault_under_attack.NotOwner):
            vault_under_attack.pause(sender=attacker)  # NotOwnerOrGuardian


def test_reverts__other_argument__fails(vault_under_attack, follower, attacker):
    with pytest.raises(AssertionError, match="caller"):
        with reverts(vault_under_attack.NotOwnerOrGuardian, caller=follower):
            vault_under_attack.pause(sender=attacker)


def test_reverts__misspelt_argument__fails(vault_under_attack, attacker):
    with pytest.raises(AssertionError, match="no input"):
        with reverts(vault_under_attack.NotOwnerOrGuardian, callr=attacker):
            vault_under_attack.pause(sender=attacker)


def test_reverts__no_revert__fails(vault_under_attack, follower):
    with pytest.raises(AssertionError, match="did not revert"):
        with reverts(vault_under_attack.NotOwnerOrGuardian):
            vault_under_attack.pause(sender=follower)


def test_reverts__undecoded_registry_error_with_other_argument__fails(
    vault_under_attack, registry, leader, attacker, make_intent, sign_intent, relayer
):
    # Bubbled up through the vault, Ape cannot decode it: plain ape.reverts accepts anything here.
    intent, sig = sign_intent(make_intent(), signer=attacker)
    with pytest.raises(AssertionError, match="signer"):
        with reverts(registry.UnauthorizedSigner, leader=leader, signer=leader):
            vault_under_attack.mirror(intent, sig, sender=relayer)


def test_blocked__state_moved_before_the_revert__fails(
    vault_under_attack, watch, follower, attacker
):
    with pytest.raises(AssertionError, match="moved"):
        with blocked(vault_under_attack.NotOwnerOrGuardian, watch, caller=attacker):
            vault_under_attack.pause(sender=follower)  # changes `paused`
            vault_under_attack.pause(sender=attacker)
