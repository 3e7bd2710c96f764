"""Forged, stale, cancelled, replayed and tampered trade intents.

Invariant 3 (docs/protocol.md §1.5): an intent (a leader's nonce) executes at most once per vault;
cancelled, expired or wrongly signed intents never execute. Registry errors are matched on the
registry's ABI.
"""

from __future__ import annotations

import pytest

from backend.chain import eip712
from tests.conftest import HOUR, fund
from tests.contracts.attacks.helpers import blocked, compact, malleate, tamper_intent
from tests.utils.signing import intent_tuple, registry_domain


@pytest.fixture
def intent_watch(watch):
    """The default watch plus the executed flags of `intents`."""
    return lambda *intents: watch.also(intents=intents)


def test_mirror__intent_signed_by_non_leader_key__reverts_unauthorized_signer(
    vault_under_attack, registry, leader, attacker, make_intent, sign_intent, intent_watch, relayer
):
    intent, sig = sign_intent(make_intent(), signer=attacker)
    with blocked(registry.UnauthorizedSigner, intent_watch(intent), leader=leader, signer=attacker):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__intent_signed_by_another_leaders_delegate__reverts_unauthorized_signer(
    vault_under_attack,
    registry,
    leader,
    other_leader,
    delegate,
    make_intent,
    sign_intent,
    intent_watch,
    relayer,
    chain,
):
    registry.setDelegate(delegate, chain.pending_timestamp + HOUR, sender=other_leader)
    intent, sig = sign_intent(make_intent(), signer=delegate)
    with blocked(registry.UnauthorizedSigner, intent_watch(intent), leader=leader, signer=delegate):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__intent_signed_by_expired_delegate__reverts_unauthorized_signer(
    vault_under_attack,
    registry,
    leader,
    delegate,
    make_intent,
    sign_intent,
    intent_watch,
    relayer,
    chain,
):
    registry.setDelegate(delegate, chain.pending_timestamp + 60, sender=leader)
    assert registry.isAuthorizedSigner(leader, delegate)
    chain.pending_timestamp += 120
    chain.mine()
    assert not registry.isAuthorizedSigner(leader, delegate)

    intent, sig = sign_intent(make_intent(), signer=delegate)
    with blocked(registry.UnauthorizedSigner, intent_watch(intent), leader=leader, signer=delegate):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__intent_signed_by_revoked_delegate__reverts_unauthorized_signer(
    vault_under_attack,
    registry,
    leader,
    delegate,
    make_intent,
    sign_intent,
    intent_watch,
    relayer,
    chain,
):
    registry.setDelegate(delegate, chain.pending_timestamp + HOUR, sender=leader)
    intent, sig = sign_intent(make_intent(), signer=delegate)  # signed while the delegate was live
    registry.revokeDelegate(delegate, sender=leader)

    with blocked(registry.UnauthorizedSigner, intent_watch(intent), leader=leader, signer=delegate):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__cancelled_nonce__reverts_nonce_cancelled(
    vault_under_attack, registry, leader, make_intent, sign_intent, intent_watch, relayer
):
    intent, sig = sign_intent(make_intent(nonce=300))
    registry.invalidateNonces(300 >> 8, 1 << (300 & 0xFF), sender=leader)

    with blocked(registry.NonceCancelled, intent_watch(intent), leader=leader, nonce=300):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__nonce_cancelled_after_first_vault__reverts_nonce_cancelled_in_second(
    vault_under_attack,
    create_vault,
    registry,
    leader,
    weth,
    deployer,
    make_intent,
    sign_intent,
    intent_watch,
    relayer,
):
    second = create_vault()
    fund(second, weth, 10 * 10**18, deployer)
    intent, sig = sign_intent(make_intent(nonce=7))
    vault_under_attack.mirror(intent, sig, sender=relayer)
    registry.invalidateNonces(0, 1 << 7, sender=leader)

    with blocked(registry.NonceCancelled, intent_watch(intent).also(vaults=[second]), nonce=7):
        second.mirror(intent, sig, sender=relayer)


def test_mirror__same_intent_replayed_in_same_vault__reverts_intent_already_executed(
    vault_under_attack, leader, make_intent, sign_intent, intent_watch, relayer
):
    intent, sig = sign_intent(make_intent(nonce=42))
    vault_under_attack.mirror(intent, sig, sender=relayer)
    assert vault_under_attack.isIntentExecuted(leader, 42)

    watch = intent_watch(intent)
    with blocked(vault_under_attack.IntentAlreadyExecuted, watch, leader=leader, nonce=42):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__intent_past_deadline__reverts_intent_expired(
    vault_under_attack, registry, make_intent, sign_intent, intent_watch, relayer, chain
):
    deadline = chain.pending_timestamp + 60
    intent, sig = sign_intent(make_intent(deadline=deadline))
    chain.pending_timestamp += 120

    with blocked(registry.IntentExpired, intent_watch(intent), deadline=deadline):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__malleated_high_s_signature__reverts_invalid_signature(
    vault_under_attack, registry, make_intent, sign_intent, intent_watch, relayer
):
    intent, sig = sign_intent(make_intent())
    with blocked(registry.InvalidSignature, intent_watch(intent)):
        vault_under_attack.mirror(intent, malleate(sig), sender=relayer)


def test_mirror__compact_eip2098_signature__reverts_invalid_signature(
    vault_under_attack, registry, make_intent, sign_intent, intent_watch, relayer
):
    intent, sig = sign_intent(make_intent())
    with blocked(registry.InvalidSignature, intent_watch(intent)):
        vault_under_attack.mirror(intent, compact(sig), sender=relayer)


@pytest.mark.parametrize(
    ("field", "value"),
    [("fraction_bps", 5_000), ("min_price", 0), ("nonce", 10**6), ("deadline", 2**40)],
    ids=["larger_fraction", "limit_price_stripped", "other_nonce", "later_deadline"],
)
def test_mirror__intent_fields_changed_after_signing__reverts_unauthorized_signer(
    field,
    value,
    vault_under_attack,
    registry,
    leader,
    make_intent,
    sign_intent,
    intent_watch,
    relayer,
):
    # The signature then recovers to some unrelated address, which is not the leader.
    intent, sig = sign_intent(make_intent(fraction_bps=1_000, min_price=2_900 * 10**6))
    forged = tamper_intent(intent, **{field: value})
    with blocked(registry.UnauthorizedSigner, intent_watch(intent, forged), leader=leader):
        vault_under_attack.mirror(forged, sig, sender=relayer)


def test_mirror__intent_signed_for_other_chain_id__reverts_unauthorized_signer(
    vault_under_attack, registry, leader, make_intent, intent_watch, relayer, chain_id
):
    message = make_intent()
    sig = eip712.sign(leader.private_key, registry_domain(registry, chain_id + 1), message)
    intent = intent_tuple(message)
    with blocked(registry.UnauthorizedSigner, intent_watch(intent), leader=leader):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__valid_intent_of_another_leader__reverts_not_following_leader(
    vault_under_attack, leader, other_leader, make_intent, sign_intent, intent_watch, relayer
):
    intent, sig = sign_intent(make_intent(leader=other_leader.address), signer=other_leader)
    with blocked(
        vault_under_attack.NotFollowingLeader,
        intent_watch(intent),
        intentLeader=other_leader,
        vaultLeader=leader,
    ):
        vault_under_attack.mirror(intent, sig, sender=relayer)


@pytest.mark.parametrize("fraction", [0, 10_001])
def test_mirror__fraction_outside_one_to_ten_thousand__reverts_invalid_fraction(
    fraction, vault_under_attack, registry, make_intent, sign_intent, intent_watch, relayer
):
    intent, sig = sign_intent(make_intent(fraction_bps=fraction))
    with blocked(registry.InvalidFraction, intent_watch(intent), fractionBps=fraction):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__intent_by_live_delegate__executes_once(
    vault_under_attack, registry, leader, delegate, make_intent, sign_intent, relayer, chain
):
    # Control for the delegate attacks above: a live delegate's intent is honoured.
    registry.setDelegate(delegate, chain.pending_timestamp + HOUR, sender=leader)
    intent, sig = sign_intent(make_intent(nonce=9), signer=delegate)
    receipt = vault_under_attack.mirror(intent, sig, sender=relayer)
    assert receipt.decode_logs(vault_under_attack.Mirrored)[0].leader == leader.address
    assert vault_under_attack.isIntentExecuted(leader, 9)
