"""LeaderRegistry.checkIntent: verifyIntent with a per-transaction cache of the verified signer.

What is observable from outside: the transient cache lives for one transaction only, so calls in
separate transactions always start cold (the first test shows a revocation honoured by the next
transaction, but cannot tell a cache hit from a fresh recovery). Whether a cache *hit* still
re-checks the signer's authority needs a revocation inside the transaction that filled the cache;
the last test arranges exactly that with a leader that is a contract (a token whose transfer hook
revokes the delegate while the router's batch is half done).
"""

from __future__ import annotations

import pytest

from tests.utils.deploy import DEFAULT_POLICY, FEED_DECIMALS, WETH_PRICE_USD
from tests.utils.reverts import reverts, selector

from .conftest import HOUR


def test_check_intent__valid_intent__returns_digest_in_a_transaction(
    registry, make_intent, sign_intent, relayer
):
    args, sig = sign_intent(make_intent())
    receipt = registry.checkIntent(args, sig, sender=relayer)
    assert receipt.return_value == registry.intentDigest(args)


def test_check_intent__forged_signature__reverts_like_verify_intent(
    registry, leader, attacker, make_intent, sign_intent, relayer
):
    args, sig = sign_intent(make_intent(), signer=attacker)
    with reverts(registry.UnauthorizedSigner, leader=leader, signer=attacker):
        registry.checkIntent(args, sig, sender=relayer)


def test_check_intent__delegate_revoked_between_transactions__reverts_on_the_next_one(
    registry, leader, delegate, appoint, make_intent, sign_intent, relayer
):
    appoint(leader, delegate)
    args, sig = sign_intent(make_intent(), signer=delegate)
    registry.checkIntent(args, sig, sender=relayer)

    registry.revokeDelegate(delegate, sender=leader)

    with reverts(registry.UnauthorizedSigner, leader=leader, signer=delegate):
        registry.checkIntent(args, sig, sender=relayer)


def test_check_intent__cancelled_between_transactions__reverts_nonce_cancelled(
    registry, leader, make_intent, sign_intent, relayer
):
    args, sig = sign_intent(make_intent(nonce=5))
    registry.checkIntent(args, sig, sender=relayer)
    registry.invalidateNonces(0, 1 << 5, sender=leader)

    with reverts(registry.NonceCancelled, leader=leader, nonce=5):
        registry.checkIntent(args, sig, sender=relayer)


# ---------------------------------------------------------------------- revocation mid-transaction


@pytest.fixture
def hooked_leader(project, deployer, admin, system, registry, delegate, create_vault, chain):
    """A leader that is a contract able to act in the middle of a transaction: a ReentrantToken
    whose transfer hook calls the registry as the leader. It appoints `delegate`, then is
    armed to revoke it on the next transfer of its token. Two vaults follow it, each holding
    10 of its tokens.
    """
    token = deployer.deploy(project.ReentrantToken)
    feed = deployer.deploy(
        project.MockAggregator, FEED_DECIMALS, WETH_PRICE_USD * 10**FEED_DECIMALS
    )
    system.oracle.setFeed(token, feed, sender=admin)
    system.uniswap.add_liquidity(
        token, system.usdc, 1_000 * 10**18, 1_000 * WETH_PRICE_USD * 10**6, deployer
    )
    vaults = [
        create_vault(
            leader_=token, assets=[token.address, system.usdc.address], policy=DEFAULT_POLICY
        )
        for _ in range(2)
    ]
    for vault in vaults:  # funded before arming: deposits are transfers too
        token.mint(deployer, 10 * 10**18, sender=deployer)
        token.approve(vault, 10 * 10**18, sender=deployer)
        vault.deposit(token, 10 * 10**18, sender=deployer)

    expiry = chain.pending_timestamp + HOUR
    token.arm(
        registry, registry.setDelegate.encode_input(delegate.address, expiry), sender=deployer
    )
    token.mint(deployer, 1, sender=deployer)
    token.transfer(delegate, 1, sender=deployer)  # the hook appoints the delegate, as the token
    assert registry.isAuthorizedSigner(token, delegate)
    token.arm(registry, registry.revokeDelegate.encode_input(delegate.address), sender=deployer)
    return token, vaults


def test_check_intent__delegate_revoked_mid_batch__cached_signature_loses_its_power(
    registry, router, hooked_leader, delegate, make_intent, sign_intent, relayer
):
    token, (first, second) = hooked_leader
    args, sig = sign_intent(
        make_intent(leader=token.address, token_in=token.address, fraction_bps=1_000),
        signer=delegate,
    )

    # The router's checkIntent fills the cache; the first vault's trade transfers the token, whose
    # hook revokes the delegate; the second vault's checkIntent then hits the cache.
    receipt = router.mirrorBatch(args, sig, [first, second], sender=relayer)

    assert registry.delegateExpiry(token, delegate) == 0
    assert [e.contract_address for e in receipt.decode_logs(first.Mirrored)] == [first.address]
    skipped = receipt.decode_logs(router.MirrorSkipped)
    assert [(e.vault, e.reason) for e in skipped] == [
        (second.address, selector(registry.UnauthorizedSigner))
    ]
    batch = receipt.decode_logs(router.BatchMirrored)[0]
    assert (batch.mirrored, batch.skipped) == (1, 1)
    assert token.balanceOf(second) == 10 * 10**18
    assert not second.isIntentExecuted(token, args[6])
