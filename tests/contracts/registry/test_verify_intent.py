"""LeaderRegistry.verifyIntent: who may sign a leader's intent, and every way an intent is
refused.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_keys import keys

from backend.chain import eip712
from tests.utils.reverts import reverts
from tests.utils.signing import intent_tuple, key_of, registry_domain

from .conftest import HOUR
from .helpers import high_s, split


def _digest(registry, chain_id, intent) -> bytes:
    return eip712.digest(registry_domain(registry, chain_id), intent)


# ----------------------------------------------------------------------------- accepted


def test_verify_intent__signed_by_leader__returns_the_eip712_digest(
    registry, make_intent, sign_intent, chain_id
):
    intent = make_intent()
    args, sig = sign_intent(intent)

    digest = registry.verifyIntent(args, sig)

    assert digest == registry.intentDigest(args) == _digest(registry, chain_id, intent)


def test_verify_intent__signed_by_live_delegate__returns_digest(
    registry, leader, delegate, appoint, make_intent, sign_intent, chain_id
):
    appoint(leader, delegate)
    intent = make_intent()
    args, sig = sign_intent(intent, signer=delegate)

    assert registry.verifyIntent(args, sig) == _digest(registry, chain_id, intent)


@pytest.mark.parametrize("fraction_bps", [1, 10_000])
def test_verify_intent__fraction_at_the_bounds__is_accepted(
    registry, make_intent, sign_intent, fraction_bps
):
    args, sig = sign_intent(make_intent(fraction_bps=fraction_bps))
    assert registry.verifyIntent(args, sig) == registry.intentDigest(args)


# Second-exact boundaries run verifyIntent in a transaction (`.transact`) at a pinned block time: an
# eth_call on anvil runs at an unpinned time (one second past the head).


def test_verify_intent__at_its_deadline_second__is_accepted(
    registry, make_intent, sign_intent, chain, relayer
):
    deadline = chain.pending_timestamp + 100
    args, sig = sign_intent(make_intent(deadline=deadline))
    chain.pending_timestamp = deadline  # the deadline is inclusive

    receipt = registry.verifyIntent.transact(args, sig, sender=relayer)

    assert receipt.return_value == registry.intentDigest(args)


# ----------------------------------------------------------------------------- refused: terms


def test_verify_intent__one_second_past_deadline__reverts_intent_expired(
    registry, make_intent, sign_intent, chain, relayer
):
    deadline = chain.pending_timestamp + 100
    args, sig = sign_intent(make_intent(deadline=deadline))
    chain.pending_timestamp = deadline + 1

    with reverts(registry.IntentExpired, deadline=deadline, timestamp=deadline + 1):
        registry.verifyIntent.transact(args, sig, sender=relayer)


@pytest.mark.parametrize("fraction_bps", [0, 10_001])
def test_verify_intent__fraction_out_of_range__reverts_invalid_fraction(
    registry, make_intent, sign_intent, fraction_bps
):
    args, sig = sign_intent(make_intent(fraction_bps=fraction_bps))
    with reverts(registry.InvalidFraction, fractionBps=fraction_bps):
        registry.verifyIntent(args, sig)


def test_verify_intent__cancelled_nonce__reverts_nonce_cancelled(
    registry, leader, make_intent, sign_intent
):
    args, sig = sign_intent(make_intent(nonce=300))
    assert registry.verifyIntent(args, sig)
    registry.invalidateNonces(1, 1 << (300 - 256), sender=leader)

    with reverts(registry.NonceCancelled, leader=leader, nonce=300):
        registry.verifyIntent(args, sig)


# ----------------------------------------------------------------------------- refused: signature


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda sig: b"\x00" * 65, id="all-zero"),
        pytest.param(lambda sig: sig[:64], id="64-bytes"),
        pytest.param(lambda sig: sig + b"\x00", id="66-bytes"),
        pytest.param(lambda sig: b"", id="empty"),
        pytest.param(lambda sig: sig[:64] + bytes([sig[64] + 2]), id="v-29-or-30"),
    ],
)
def test_verify_intent__malformed_signature__reverts_invalid_signature(
    registry, make_intent, sign_intent, mangle
):
    args, sig = sign_intent(make_intent())
    with reverts(registry.InvalidSignature):
        registry.verifyIntent(args, mangle(sig))


def test_verify_intent__high_s_twin_of_leaders_signature__reverts_invalid_signature(
    registry, leader, make_intent, sign_intent, chain_id
):
    intent = make_intent()
    args, sig = sign_intent(intent)
    twin = high_s(sig)
    # The twin is a real signature by the leader under plain ecrecover: only the low-s rule refuses
    # it.
    r, s, v = split(twin)
    recovered = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(
        _digest(registry, chain_id, intent)
    )
    assert recovered.to_checksum_address() == leader.address

    with reverts(registry.InvalidSignature):
        registry.verifyIntent(args, twin)


def test_verify_intent__signed_by_stranger__reverts_unauthorized_signer_naming_them(
    registry, leader, attacker, make_intent, sign_intent
):
    args, sig = sign_intent(make_intent(), signer=attacker)
    with reverts(registry.UnauthorizedSigner, leader=leader, signer=attacker):
        registry.verifyIntent(args, sig)


def test_verify_intent__field_changed_after_signing__reverts_unauthorized_signer(
    registry, leader, make_intent, sign_intent, chain_id
):
    intent = make_intent(min_price=3_000 * 10**6)
    _, sig = sign_intent(intent)
    tampered = dataclasses.replace(intent, min_price=0)
    # The signature over the original digest recovers some unrelated key for the tampered one.
    stranger = eip712.recover(registry_domain(registry, chain_id), tampered, sig)
    assert stranger != leader.address

    with reverts(registry.UnauthorizedSigner, leader=leader, signer=stranger):
        registry.verifyIntent(intent_tuple(tampered), sig)


@pytest.mark.parametrize("other", ["chain", "registry"])
def test_verify_intent__signed_for_another_domain__reverts_unauthorized_signer(
    registry, leader, make_intent, chain_id, other
):
    intent = make_intent()
    domain = eip712.Domain(
        chain_id=chain_id + 1 if other == "chain" else chain_id,
        verifying_contract=registry.address if other == "chain" else "0x" + "aa" * 20,
    )
    sig = eip712.sign(key_of(leader).private_key, domain, intent)
    with reverts(registry.UnauthorizedSigner, leader=leader):
        registry.verifyIntent(intent_tuple(intent), sig)


def test_verify_intent__revoked_delegate__reverts_unauthorized_signer(
    registry, leader, delegate, appoint, make_intent, sign_intent
):
    appoint(leader, delegate)
    args, sig = sign_intent(make_intent(), signer=delegate)
    registry.revokeDelegate(delegate, sender=leader)

    with reverts(registry.UnauthorizedSigner, leader=leader, signer=delegate):
        registry.verifyIntent(args, sig)


def test_verify_intent__delegate_at_its_expiry_second__reverts_unauthorized_signer(
    registry, leader, delegate, appoint, make_intent, sign_intent, chain, relayer
):
    expiry = appoint(leader, delegate, ttl=HOUR)
    args, sig = sign_intent(make_intent(deadline=expiry + HOUR), signer=delegate)
    chain.pending_timestamp = expiry - 1
    registry.verifyIntent.transact(args, sig, sender=relayer)  # live one second before

    chain.pending_timestamp = expiry  # a delegate is live strictly before its expiry
    with reverts(registry.UnauthorizedSigner, leader=leader, signer=delegate):
        registry.verifyIntent.transact(args, sig, sender=relayer)


def test_verify_intent__delegate_of_another_leader__reverts_unauthorized_signer(
    registry, leader, delegate, attacker, appoint, make_intent, sign_intent
):
    appoint(attacker, delegate)
    args, sig = sign_intent(make_intent(), signer=delegate)
    with reverts(registry.UnauthorizedSigner, leader=leader, signer=delegate):
        registry.verifyIntent(args, sig)


# --------------------------------------------------------------------- contract leaders (EIP-1271)


def test_verify_intent__contract_leader_approving_via_eip1271__returns_digest(
    registry, contract_leader, wallet_key, make_intent, sign_intent
):
    args, sig = sign_intent(make_intent(leader=contract_leader.address), signer=wallet_key)
    # The wallet's key is no signer of its own: only the wallet's EIP-1271 approval makes this
    # valid.
    assert not registry.isAuthorizedSigner(contract_leader, wallet_key)

    assert registry.verifyIntent(args, sig) == registry.intentDigest(args)


def test_verify_intent__contract_leader_rejecting_signature__reverts_unauthorized_signer(
    registry, contract_leader, attacker, make_intent, sign_intent
):
    args, sig = sign_intent(make_intent(leader=contract_leader.address), signer=attacker)
    assert contract_leader.isValidSignature(registry.intentDigest(args), sig) == b"\x00" * 4

    with reverts(registry.UnauthorizedSigner, leader=contract_leader, signer=attacker):
        registry.verifyIntent(args, sig)


def test_verify_intent__contract_leader_malformed_signature__reverts_invalid_signature(
    registry, contract_leader, make_intent, sign_intent, wallet_key
):
    args, sig = sign_intent(make_intent(leader=contract_leader.address), signer=wallet_key)
    with reverts(registry.InvalidSignature):
        registry.verifyIntent(args, high_s(sig))


def test_verify_intent__contract_leaders_delegate__returns_digest(
    registry, contract_leader, wallet_key, delegate, make_intent, sign_intent, chain
):
    # The wallet appoints a delegate through its own call (msg.sender is the wallet).
    call = registry.setDelegate.encode_input(delegate.address, chain.pending_timestamp + HOUR)
    contract_leader.execute(registry, call, sender=wallet_key)
    assert registry.isAuthorizedSigner(contract_leader, delegate)

    args, sig = sign_intent(make_intent(leader=contract_leader.address), signer=delegate)

    assert registry.verifyIntent(args, sig) == registry.intentDigest(args)
