"""CopyRouter.mirrorBatch (sequential mode): one intent into many vaults, one swap per vault; a
vault that cannot trade is skipped with its own error's selector and the others proceed
(docs/protocol.md §1.3, invariant 5).

Fixtures live in this module: the router folder is shared with the aggregated-mode tests.
"""

from __future__ import annotations

import pytest

from tests.contracts.router.aggregated_helpers import deploy_runtime
from tests.utils.deploy import DEFAULT_POLICY
from tests.utils.reverts import reverts, selector

FRACTION_BPS = 2_000
WETH = 10**18


def _fund(vault, token, amount, depositor):
    token.mint(depositor, amount, sender=depositor)
    token.approve(vault, amount, sender=depositor)
    vault.deposit(token, amount, sender=depositor)


@pytest.fixture
def funded(create_vault, weth, deployer):
    """Create a vault (create_vault's keyword arguments) holding `weth_amount` WETH."""

    def _funded(weth_amount=5 * WETH, **kwargs):
        vault = create_vault(**kwargs)
        _fund(vault, weth, weth_amount, deployer)
        return vault

    return _funded


@pytest.fixture
def follower_vaults(funded):
    """Three vaults following the leader, holding 3, 5 and 7 WETH (plus a few wei, so shares
    round).
    """
    return [funded(weth_amount=n * WETH + n) for n in (3, 5, 7)]


@pytest.fixture
def signed(make_intent, sign_intent):
    """(intent tuple, signature) of a leader's 20 % WETH→USDC intent."""
    return sign_intent(make_intent(fraction_bps=FRACTION_BPS))


def _skips(receipt, router):
    return [
        (e.vault, bytes(e.intentDigest), bytes(e.reason))
        for e in receipt.decode_logs(router.MirrorSkipped)
    ]


def _batch(receipt, router):
    event = receipt.decode_logs(router.BatchMirrored)[0]
    return bytes(event.intentDigest), event.mirrored, event.skipped


# ----------------------------------------------------------------------------- every vault trades


def test_mirror_batch__three_followers__each_sells_its_own_share_and_count_is_returned(
    router, registry, follower_vaults, signed, weth, usdc, relayer
):
    args, sig = signed
    digest = bytes(registry.intentDigest(args))
    before = [(weth.balanceOf(v), usdc.balanceOf(v)) for v in follower_vaults]

    receipt = router.mirrorBatch(args, sig, follower_vaults, sender=relayer)

    assert receipt.return_value == 3
    assert _batch(receipt, router) == (digest, 3, 0)
    assert _skips(receipt, router) == []
    mirrored = {e.contract_address: e for e in receipt.decode_logs(follower_vaults[0].Mirrored)}
    assert set(mirrored) == {v.address for v in follower_vaults}
    for vault, (weth_before, usdc_before) in zip(follower_vaults, before, strict=True):
        event = mirrored[vault.address]
        assert event.amountIn == weth_before * FRACTION_BPS // 10_000
        assert bytes(event.digest) == digest
        assert weth.balanceOf(vault) == weth_before - event.amountIn
        assert usdc.balanceOf(vault) == usdc_before + event.amountOut > usdc_before
        assert vault.isIntentExecuted(args[0], args[6])


# ------------------------------------------------------------------------- some vaults are skipped


# Each builder makes a funded vault that cannot take the intent; `fx` fetches a fixture by name.
def _paused(funded, fx):
    vault = funded()
    vault.pause(sender=fx("follower"))
    return vault


def _copying_stopped(funded, fx):
    vault = funded()
    vault.stopCopying(sender=fx("follower"))
    return vault


def _other_leader(funded, fx):
    return funded(leader_=fx("attacker"))


def _usdc_not_allowed(funded, fx):
    return funded(assets=[fx("weth").address])


def _fraction_above_policy(funded, fx):
    return funded(policy=(FRACTION_BPS - 1, *DEFAULT_POLICY[1:]))


def _daily_cap_reached(funded, fx):
    vault = funded(policy=(*DEFAULT_POLICY[:3], 1, DEFAULT_POLICY[4]))  # one trade per day
    earlier = fx("sign_intent")(fx("make_intent")(fraction_bps=100))
    vault.mirror(*earlier, sender=fx("relayer"))
    assert vault.tradesToday() == 1
    return vault


def _slippage_bound_missed(funded, fx):
    # 0 % slippage: the pool's 0.3 % fee alone leaves the output under the oracle bound.
    return funded(policy=(DEFAULT_POLICY[0], 0, *DEFAULT_POLICY[2:]))


BLOCKERS = {
    "paused": (_paused, "VaultPaused"),
    "copying-stopped": (_copying_stopped, "CopyingStoppedError"),
    "other-leader": (_other_leader, "NotFollowingLeader"),
    "asset-not-allowed": (_usdc_not_allowed, "AssetNotAllowed"),
    "fraction-above-policy": (_fraction_above_policy, "FractionTooLarge"),
    "daily-cap-reached": (_daily_cap_reached, "DailyTradeLimitReached"),
    "slippage-bound-missed": (_slippage_bound_missed, "InsufficientOutput"),
}


@pytest.mark.parametrize("case", BLOCKERS)
def test_mirror_batch__vault_that_cannot_trade__is_skipped_with_its_error_selector(
    router, registry, funded, signed, weth, usdc, relayer, request, case
):
    build, error_name = BLOCKERS[case]
    first, last = funded(), funded()
    blocked = build(funded, request.getfixturevalue)
    args, sig = signed
    digest = bytes(registry.intentDigest(args))
    error = getattr(blocked, error_name)
    blocked_before = (weth.balanceOf(blocked), usdc.balanceOf(blocked), blocked.tradesToday())

    receipt = router.mirrorBatch(args, sig, [first, blocked, last], sender=relayer)

    assert receipt.return_value == 2
    assert _skips(receipt, router) == [(blocked.address, digest, selector(error))]
    assert _batch(receipt, router) == (digest, 2, 1)
    assert {e.contract_address for e in receipt.decode_logs(first.Mirrored)} == {
        first.address,
        last.address,
    }
    assert (
        weth.balanceOf(blocked),
        usdc.balanceOf(blocked),
        blocked.tradesToday(),
    ) == blocked_before
    assert not blocked.isIntentExecuted(args[0], args[6])
    with reverts(error):  # the selector is the one the vault raises on its own
        blocked.mirror(args, sig, sender=relayer)


def test_mirror_batch__public_intent_replayed_with_made_up_addresses__no_skip_events_none_counted(
    router, registry, funded, signed, weth, relayer, attacker
):
    """Audit finding 5: anyone may replay a public intent with made-up addresses (accounts,
    contracts such as a token). They are no vaults of this factory: they get no MirrorSkipped and
    BatchMirrored does not count them, so indexers cannot be fed spoofed skips. Before the fix
    each got MirrorSkipped(NotAVault) and was counted as skipped."""
    vault = funded()
    args, sig = signed
    digest = bytes(registry.intentDigest(args))
    made_up = [attacker.address, weth.address] + [f"0x{i:040x}" for i in range(1, 24)]

    receipt = router.mirrorBatch(args, sig, [*made_up, vault], sender=relayer)

    assert _skips(receipt, router) == []
    assert _batch(receipt, router) == (digest, 1, 0)
    assert vault.isIntentExecuted(args[0], args[6])


def test_mirror_batch__vault_of_another_factory__ignored_no_skip_event_not_counted(
    project,
    router,
    registry,
    oracle,
    system,
    deployer,
    admin,
    owners,
    leader,
    signed,
    weth,
    relayer,
):
    """A genuine CopyVault clone (same code hash), following the same leader, but created by
    another factory: it is not this factory's vault, so its refusal is no skip here."""
    other = deployer.deploy(project.VaultFactory, admin, registry, oracle)
    other.setVenueAllowed(system.venue, True, sender=admin)
    receipt = other.createVault(
        [o.address for o in owners[:3]],
        2,
        leader,
        DEFAULT_POLICY,
        oracle,
        [weth.address, system.usdc.address],
        [system.venue.address],
        False,
        b"\x01" * 32,
        sender=owners[0],
    )
    outsider = project.CopyVault.at(receipt.decode_logs(other.VaultCreated)[0].vault)
    _fund(outsider, weth, 5 * WETH, deployer)
    args, sig = signed

    receipt = router.mirrorBatch(args, sig, [outsider], sender=relayer)

    assert _skips(receipt, router) == []
    assert _batch(receipt, router) == (bytes(registry.intentDigest(args)), 0, 0)
    assert weth.balanceOf(outsider) == 5 * WETH


def test_mirror_batch__vault_listed_twice__trades_once(
    router, registry, funded, signed, weth, relayer
):
    vault = funded(weth_amount=10 * WETH)
    args, sig = signed
    digest = bytes(registry.intentDigest(args))

    receipt = router.mirrorBatch(args, sig, [vault, vault], sender=relayer)

    assert [e.amountIn for e in receipt.decode_logs(vault.Mirrored)] == [2 * WETH]
    assert weth.balanceOf(vault) == 8 * WETH
    assert _skips(receipt, router) == [
        (vault.address, digest, selector(vault.IntentAlreadyExecuted))
    ]
    assert _batch(receipt, router) == (digest, 1, 1)


def test_mirror_batch__empty_list__reverts_empty_batch(router, signed, relayer):
    args, sig = signed
    with reverts(router.EmptyBatch):
        router.mirrorBatch(args, sig, [], sender=relayer)


# --------------------------------------------------------------------------- the whole batch fails


@pytest.mark.parametrize("refusal", ["forged", "expired", "cancelled", "zero-fraction"])
def test_mirror_batch__intent_the_registry_refuses__reverts_the_whole_batch_with_its_error(
    router,
    registry,
    follower_vaults,
    make_intent,
    sign_intent,
    leader,
    attacker,
    chain,
    weth,
    relayer,
    refusal,
):
    if refusal == "forged":
        args, sig = sign_intent(make_intent(), signer=attacker)
        expected = (registry.UnauthorizedSigner, dict(leader=leader, signer=attacker))
    elif refusal == "expired":
        deadline = chain.blocks.head.timestamp - 1
        args, sig = sign_intent(make_intent(deadline=deadline))
        expected = (registry.IntentExpired, dict(deadline=deadline))
    elif refusal == "cancelled":
        args, sig = sign_intent(make_intent(nonce=9))
        registry.invalidateNonces(0, 1 << 9, sender=leader)
        expected = (registry.NonceCancelled, dict(leader=leader, nonce=9))
    else:
        args, sig = sign_intent(make_intent(fraction_bps=0))
        expected = (registry.InvalidFraction, dict(fractionBps=0))
    before = [weth.balanceOf(v) for v in follower_vaults]

    error, inputs = expected
    with reverts(error, **inputs):
        router.mirrorBatch(args, sig, follower_vaults, sender=relayer)

    assert [weth.balanceOf(v) for v in follower_vaults] == before
    assert not any(v.isIntentExecuted(args[0], args[6]) for v in follower_vaults)


# ----------------------------------------------------------------------------- nothing left behind


def test_mirror_batch__afterwards__router_holds_no_tokens_and_no_allowances(
    router, system, follower_vaults, funded, signed, weth, usdc, relayer, follower
):
    blocked = funded()
    blocked.pause(sender=follower)
    args, sig = signed
    pair = system.venue.pairFor(weth, usdc)

    router.mirrorBatch(args, sig, [*follower_vaults, blocked], sender=relayer)

    for token in (weth, usdc):
        assert token.balanceOf(router) == 0
        assert token.balanceOf(system.venue) == 0
        for spender in (system.venue.address, pair, *(v.address for v in follower_vaults)):
            assert token.allowance(router, spender) == 0
        for vault in (*follower_vaults, blocked):
            for spender in (router.address, system.venue.address, pair):
                assert token.allowance(vault, spender) == 0


def test_mirror_batch__clone_of_the_vault_code_made_outside_the_factory__ignored_not_counted(
    router, registry, factory, funded, signed, relayer, deployer
):
    """A clone of this factory's vault implementation deployed by hand has the vault's code hash
    but is not the factory's vault (uninitialised, it refuses every intent): its refusal is no
    skip, so no MirrorSkipped and not counted (audit finding 5)."""
    implementation = bytes.fromhex(factory.vaultImplementation().removeprefix("0x"))
    clone = deploy_runtime(
        router,
        deployer,
        bytes.fromhex("363d3d373d3d3d363d73")
        + implementation
        + bytes.fromhex("5af43d82803e903d91602b57fd5bf3"),
    )
    vault = funded()
    args, sig = signed

    receipt = router.mirrorBatch(args, sig, [clone, vault], sender=relayer)

    assert _skips(receipt, router) == []
    assert _batch(receipt, router) == (bytes(registry.intentDigest(args)), 1, 0)
