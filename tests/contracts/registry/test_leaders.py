"""LeaderRegistry: leaders register, appoint and revoke trade-only delegates, and cancel nonces
(docs/protocol.md §1.2).
"""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .conftest import DAY, HOUR

ZERO_ADDRESS = "0x" + "00" * 20


# ----------------------------------------------------------------------------- register


def test_register__new_leader__emits_and_records_profile(registry, leader):
    assert not registry.isRegistered(leader)

    receipt = registry.register("ipfs://leader-v1", sender=leader)

    event = receipt.decode_logs(registry.LeaderRegistered)[0]
    assert (event.leader, event.profileURI) == (leader.address, "ipfs://leader-v1")
    assert registry.isRegistered(leader)
    assert registry.profileURI(leader) == "ipfs://leader-v1"


def test_register__again__updates_profile_and_emits(registry, leader):
    registry.register("ipfs://leader-v1", sender=leader)

    receipt = registry.register("https://example.org/leader", sender=leader)

    assert (
        receipt.decode_logs(registry.LeaderRegistered)[0].profileURI == "https://example.org/leader"
    )
    assert registry.isRegistered(leader)
    assert registry.profileURI(leader) == "https://example.org/leader"


def test_profile_uri__unregistered_address__is_empty(registry, attacker):
    assert not registry.isRegistered(attacker)
    assert registry.profileURI(attacker) == ""


# ----------------------------------------------------------------------------- delegates


def test_set_delegate__future_expiry__emits_and_authorises_until_expiry(
    registry, leader, delegate, chain
):
    expiry = chain.pending_timestamp + DAY
    assert not registry.isAuthorizedSigner(leader, delegate)

    receipt = registry.setDelegate(delegate, expiry, sender=leader)

    event = receipt.decode_logs(registry.DelegateSet)[0]
    assert (event.leader, event.delegate, event.expiry) == (
        leader.address,
        delegate.address,
        expiry,
    )
    assert registry.delegateExpiry(leader, delegate) == expiry
    assert registry.isAuthorizedSigner(leader, delegate)


def test_set_delegate__again__replaces_the_expiry(registry, leader, delegate, chain, appoint):
    appoint(leader, delegate, ttl=DAY)
    shorter = chain.pending_timestamp + HOUR

    registry.setDelegate(delegate, shorter, sender=leader)

    assert registry.delegateExpiry(leader, delegate) == shorter


@pytest.mark.parametrize("who", ["zero", "self"])
def test_set_delegate__zero_or_self__reverts_invalid_delegate(registry, leader, chain, who):
    target = ZERO_ADDRESS if who == "zero" else leader.address
    with reverts(registry.InvalidDelegate, delegate=target):
        registry.setDelegate(target, chain.pending_timestamp + HOUR, sender=leader)
    assert registry.delegateExpiry(leader, target) == 0


def test_set_delegate__expiry_now__reverts_invalid_expiry(registry, leader, delegate, chain):
    now = chain.pending_timestamp + 10
    chain.pending_timestamp = now  # the block that includes the transaction
    with reverts(registry.InvalidExpiry, expiry=now):
        registry.setDelegate(delegate, now, sender=leader)
    assert registry.delegateExpiry(leader, delegate) == 0


def test_set_delegate__expiry_in_the_past__reverts_invalid_expiry(registry, leader, delegate):
    with reverts(registry.InvalidExpiry, expiry=1):
        registry.setDelegate(delegate, 1, sender=leader)


def test_set_delegate__expiry_one_second_ahead__is_accepted(registry, leader, delegate, chain):
    now = chain.pending_timestamp + 10
    chain.pending_timestamp = now
    registry.setDelegate(delegate, now + 1, sender=leader)
    assert registry.delegateExpiry(leader, delegate) == now + 1


def test_revoke_delegate__appointed__emits_and_removes_authority(
    registry, leader, delegate, appoint
):
    appoint(leader, delegate)

    receipt = registry.revokeDelegate(delegate, sender=leader)

    event = receipt.decode_logs(registry.DelegateRevoked)[0]
    assert (event.leader, event.delegate) == (leader.address, delegate.address)
    assert registry.delegateExpiry(leader, delegate) == 0
    assert not registry.isAuthorizedSigner(leader, delegate)


def test_revoke_delegate__never_appointed__reverts_delegate_not_found(registry, leader, delegate):
    with reverts(registry.DelegateNotFound, leader=leader, delegate=delegate):
        registry.revokeDelegate(delegate, sender=leader)


def test_revoke_delegate__another_leaders_delegate__reverts_and_leaves_it(
    registry, leader, delegate, attacker, appoint
):
    expiry = appoint(leader, delegate)
    with reverts(registry.DelegateNotFound, leader=attacker, delegate=delegate):
        registry.revokeDelegate(delegate, sender=attacker)
    assert registry.delegateExpiry(leader, delegate) == expiry


# ----------------------------------------------------------------------------- authorised signers


def test_is_authorized_signer__leader_itself__is_true(registry, leader):
    assert registry.isAuthorizedSigner(leader, leader)


def test_is_authorized_signer__live_then_expired_delegate__turns_false(
    registry, leader, delegate, chain, appoint
):
    expiry = appoint(leader, delegate, ttl=HOUR)
    assert registry.isAuthorizedSigner(leader, delegate)

    chain.mine(timestamp=expiry + 1)

    assert not registry.isAuthorizedSigner(leader, delegate)
    assert registry.delegateExpiry(leader, delegate) == expiry  # expired, not deleted


def test_is_authorized_signer__delegate_of_another_leader__is_false(
    registry, leader, delegate, attacker, appoint
):
    appoint(attacker, delegate)
    assert registry.isAuthorizedSigner(attacker, delegate)
    assert not registry.isAuthorizedSigner(leader, delegate)
    assert not registry.isAuthorizedSigner(leader, attacker)


# ----------------------------------------------------------------------------- nonces


def test_invalidate_nonces__mask__emits_and_cancels_exactly_the_set_bits(registry, leader):
    word, mask = 1, (1 << 0) | (1 << 7) | (1 << 255)  # nonces 256, 263 and 511

    receipt = registry.invalidateNonces(word, mask, sender=leader)

    event = receipt.decode_logs(registry.NoncesInvalidated)[0]
    assert (event.leader, event.wordPos, event.mask) == (leader.address, word, mask)
    assert registry.nonceBitmap(leader, word) == mask
    for nonce in (256, 263, 511):
        assert not registry.isNonceUsable(leader, nonce)
    for nonce in (0, 7, 255, 257, 510, 512, 519):
        assert registry.isNonceUsable(leader, nonce)


def test_invalidate_nonces__twice__accumulates_bits(registry, leader):
    registry.invalidateNonces(0, 0b0101, sender=leader)
    registry.invalidateNonces(0, 0b0011, sender=leader)
    assert registry.nonceBitmap(leader, 0) == 0b0111


def test_invalidate_nonces__other_leader__leaves_leaders_nonces_usable(registry, leader, attacker):
    registry.invalidateNonces(0, 1, sender=attacker)
    assert not registry.isNonceUsable(attacker, 0)
    assert registry.isNonceUsable(leader, 0)


def test_invalidate_nonces__empty_mask__reverts_empty_mask(registry, leader):
    with reverts(registry.EmptyMask):
        registry.invalidateNonces(0, 0, sender=leader)
