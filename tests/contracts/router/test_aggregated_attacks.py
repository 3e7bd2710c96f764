"""CopyRouter.mirrorAggregated under attack: forged and replayed intents, duplicated vaults, callers
other than the router, a pool moved before the batch (docs/protocol.md §1.3, invariants 3 and 5)."""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak

from tests.conftest import fund
from tests.contracts.router.aggregated_helpers import (
    Snapshot,
    assert_reverts,
    assert_router_clean,
    assert_same_price,
    batch_counts,
    op_nonce,
    pull_preview,
    sell_into_pool,
    skips,
)
from tests.utils.reverts import selector

WETH = 10**18
LOOSE = (5_000, 500, 3_600, 10, 0)  # accepts 5 % under the oracle
# 1 % under the oracle, two trades a day, a 5 % loss budget: a cancelled pull gives back its count.
TWO_A_DAY = (5_000, 100, 3_600, 2, 500)


@pytest.fixture(scope="module")
def followers(create_vault, weth, usdc, router, registry, deployer):
    """Three funded vaults. (Every session fixture used below is requested here first: Ape warns
    when a wider-scoped fixture is first set up inside a test's snapshot.)"""
    vaults = [create_vault() for _ in range(3)]
    for vault, amount in zip(vaults, (1 * WETH + 1, 4 * WETH + 2, 9 * WETH + 3), strict=True):
        fund(vault, weth, amount, deployer)
    return vaults


# ----------------------------------------------------------------------- signatures and replays


def test_mirror_aggregated__intent_signed_by_attacker__whole_batch_reverts_unauthorized_signer(
    followers, router, registry, make_intent, sign_intent, leader, attacker, relayer
):
    intent, sig = sign_intent(make_intent(), signer=attacker)

    assert_reverts(
        registry.UnauthorizedSigner, router.mirrorAggregated, intent, sig, followers,
        sender=relayer, leader=leader, signer=attacker,
    )  # fmt: skip


def test_mirror_aggregated__terms_changed_after_signing__whole_batch_reverts_unauthorized(
    followers, router, registry, make_intent, sign_intent, leader, relayer
):
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))
    raised = intent[:4] + (5_000,) + intent[5:]  # the leader signed 10 %, not 50 %

    decoded = assert_reverts(
        registry.UnauthorizedSigner, router.mirrorAggregated, raised, sig, followers,
        sender=relayer, leader=leader,
    )  # fmt: skip
    assert decoded["signer"] != leader.address  # recovers to some unrelated key


def test_mirror_aggregated__garbage_signature__whole_batch_reverts_invalid_signature(
    followers, router, registry, make_intent, sign_intent, relayer
):
    intent, _ = sign_intent(make_intent())

    assert_reverts(
        registry.InvalidSignature, router.mirrorAggregated, intent, b"\x01" * 65, followers,
        sender=relayer,
    )  # fmt: skip


@pytest.mark.parametrize("flaw", ["expired", "nonce_cancelled"])
def test_mirror_aggregated__expired_or_cancelled_intent__whole_batch_reverts_with_registry_error(
    flaw, followers, router, registry, chain, make_intent, sign_intent, leader, relayer
):
    if flaw == "expired":
        deadline = chain.blocks.head.timestamp - 1
        intent, sig = sign_intent(make_intent(deadline=deadline))
        error, inputs = registry.IntentExpired, {"deadline": deadline}
    else:
        intent, sig = sign_intent(make_intent(nonce=3))
        registry.invalidateNonces(0, 1 << 3, sender=leader)
        error, inputs = registry.NonceCancelled, {"leader": leader, "nonce": 3}

    assert_reverts(error, router.mirrorAggregated, intent, sig, followers, sender=relayer, **inputs)


def test_mirror_aggregated__venue_revoked_by_the_platform__whole_batch_reverts_nothing_moves(
    followers, router, factory, venue, weth, make_intent, sign_intent, admin, relayer
):
    """The platform's venue list is checked once by the router for the whole batch (the vaults check
    only their owners' list in this mode): a venue the platform revoked reverts the batch before any
    vault is pulled, where each vault used to be skipped with the same error."""
    intent, sig = sign_intent(make_intent())
    balances = [weth.balanceOf(v) for v in followers]
    factory.setVenueAllowed(venue, False, sender=admin)

    assert_reverts(
        router.VenueNotAllowed, router.mirrorAggregated, intent, sig, followers,
        sender=relayer, venue=venue,
    )  # fmt: skip
    assert [weth.balanceOf(v) for v in followers] == balances
    assert not any(v.isIntentExecuted(intent[0], intent[6]) for v in followers)


def test_mirror_aggregated__same_batch_replayed__all_skipped_already_executed_nothing_moves(
    followers, router, weth, usdc, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent())
    router.mirrorAggregated(intent, sig, followers, sender=relayer)
    snap = Snapshot.take(weth, usdc, followers)
    trades_before = [v.tradesToday() for v in followers]

    assert tuple(router.mirrorAggregated.call(intent, sig, followers)) == (0, 0, 0)
    receipt = router.mirrorAggregated(intent, sig, followers, sender=relayer)

    reason = selector(followers[0].IntentAlreadyExecuted)
    assert skips(receipt, router) == [(v.address, reason) for v in followers]
    assert batch_counts(receipt, router) == (0, 3)
    assert receipt.decode_logs(router.AggregatedSwap) == []  # no swap at all
    assert snap.deltas() == [(0, 0)] * 3
    assert [v.tradesToday() for v in followers] == trades_before
    assert_router_clean(router, [weth, usdc], [])


@pytest.mark.parametrize("listing", [[0, 1, 0], [2, 2, 2]])
def test_mirror_aggregated__vault_listed_twice__trades_once_duplicate_skipped_trade_pending(
    listing, followers, router, weth, usdc, make_intent, sign_intent, relayer
):
    batch = [followers[i] for i in listing]
    unique = list(dict.fromkeys(batch))
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))
    snap = Snapshot.take(weth, usdc, unique)
    balances = [weth.balanceOf(v) for v in unique]

    receipt = router.mirrorAggregated(intent, sig, batch, sender=relayer)

    duplicates = len(batch) - len(unique)
    # The first listing is pending (pulled, not settled) when the duplicate's turn comes, and the
    # vault checks "pending" before "already executed".
    pending = selector(batch[-1].TradePending)
    assert skips(receipt, router) == [(batch[-1].address, pending)] * duplicates
    assert batch_counts(receipt, router) == (len(unique), duplicates)
    (swap,) = receipt.decode_logs(router.AggregatedSwap)
    trades = snap.deltas()
    assert [t[0] for t in trades] == [b // 10 for b in balances]  # 10 % once, not twice
    assert sum(t[0] for t in trades) == swap.totalIn
    assert sum(t[1] for t in trades) == swap.totalOut
    assert len(receipt.decode_logs(unique[0].Mirrored)) == len(unique)
    assert [v.tradesToday() for v in unique] == [1] * len(unique)
    assert_same_price(trades, swap.totalIn, swap.totalOut)


def test_mirror_aggregated__vault_listed_many_times__counted_once_in_the_quote_others_trade(
    create_vault, router, weth, usdc, make_intent, sign_intent, relayer, deployer
):
    """A duplicate is refused at its own pull (the first listing's trade is pending), so it adds
    nothing to the amount the venue is asked to quote: listing the big vault four times must not
    make the quote 4x the batch and push everyone over their bounds, as it did when the quote came
    before the pulls. [tight, big] alone passes, so the repeated listing must pass too."""
    tight, big = create_vault(), create_vault()  # 1 % bounds
    weth.mint(tight, 1 * WETH, sender=deployer)
    weth.mint(big, 20 * WETH, sender=deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=2_000))
    assert tuple(router.mirrorAggregated.call(intent, sig, [tight, big]))[0] == 2
    snap = Snapshot.take(weth, usdc, [tight, big])

    receipt = router.mirrorAggregated(intent, sig, [tight, big, big, big, big], sender=relayer)

    assert skips(receipt, router) == [(big.address, selector(big.TradePending))] * 3
    assert batch_counts(receipt, router) == (2, 3)
    (swap,) = receipt.decode_logs(router.AggregatedSwap)
    trades = snap.deltas()
    assert [t[0] for t in trades] == [WETH // 5, 4 * WETH]  # 20 % once each
    assert swap.totalIn == sum(t[0] for t in trades)  # the big vault counted once
    assert_same_price(trades, swap.totalIn, swap.totalOut)
    assert [tight.tradesToday(), big.tradesToday()] == [1, 1]
    assert_router_clean(router, [weth, usdc], [])


def test_mirror_aggregated__empty_list__reverts_empty_batch(
    router, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent())
    with ape.reverts(router.EmptyBatch):
        router.mirrorAggregated(intent, sig, [], sender=relayer)


# ----------------------------------------------------------------------- the router's entry points


@pytest.mark.parametrize("caller_role", ["attacker", "follower", "leader", "relayer"])
def test_pull_and_settle_aggregated__anyone_but_the_router__reverts_not_router(
    caller_role, request, followers, weth, make_intent, sign_intent
):
    caller = request.getfixturevalue(caller_role)
    vault = followers[0]
    intent, sig = sign_intent(make_intent())
    balance = weth.balanceOf(vault)

    with ape.reverts(vault.NotRouter, caller=caller.address):
        vault.pullAggregated(intent, sig, sender=caller)
    with ape.reverts(vault.NotRouter, caller=caller.address):
        vault.settleAggregated(intent, sender=caller)

    assert weth.balanceOf(vault) == balance
    assert not vault.isIntentExecuted(intent[0], intent[6])


@pytest.mark.parametrize("caller_role", ["attacker", "follower", "leader", "relayer"])
def test_cancel_aggregated__anyone_but_the_router__reverts_not_router(
    caller_role, request, followers, router, weth, make_intent, sign_intent, relayer
):
    """cancelAggregated clears an intent's executed flag and a trade from the daily count. Called on
    a vault that executed the intent, it would let the intent run there again."""
    caller = request.getfixturevalue(caller_role)
    vault = followers[0]
    intent, sig = sign_intent(make_intent())
    router.mirrorAggregated(intent, sig, [vault], sender=relayer)
    balance = weth.balanceOf(vault)

    with ape.reverts(vault.NotRouter, caller=caller.address):
        vault.cancelAggregated(intent, sender=caller)

    assert vault.isIntentExecuted(intent[0], intent[6])
    assert vault.tradesToday() == 1
    assert weth.balanceOf(vault) == balance


def test_mirror_aggregated__vault_refunded_bound_above_quote__restored_and_takes_the_intent_later(
    create_vault, system, router, registry, weth, usdc, make_intent, sign_intent, attacker,
    relayer, deployer,
):  # fmt: skip
    """A vault left out at the quote gets its input back and its pull undone by cancelAggregated:
    both balances, the executed flag, the daily count (here 1 of 2 before the batch) and the loss
    record are as before, so the same intent trades there later, as its second trade of the day.
    The cancellation emits AggregatedTradeCancelled, and the raw accounting view is unchanged
    (audit finding 8: the undo was silent)."""
    tight, loose = create_vault(policy=TWO_A_DAY), create_vault(policy=LOOSE)
    for vault in (tight, loose):
        fund(vault, weth, 5 * WETH, deployer)
    earlier, earlier_sig = sign_intent(make_intent(nonce=7, fraction_bps=1_000))
    router.mirrorAggregated(earlier, earlier_sig, [tight], sender=relayer)
    intent, sig = sign_intent(make_intent(nonce=8, fraction_bps=2_000))
    sell_into_pool(system.venue, weth, usdc, 15 * WETH, attacker)  # front-run: ~3 % down
    state = (weth.balanceOf(tight), usdc.balanceOf(tight), tight.tradesToday())
    assert state[2] == 1
    loss = tight.lossUsed()
    accounting = tight.tradeAccounting()

    receipt = router.mirrorAggregated(intent, sig, [tight, loose], sender=relayer)

    assert skips(receipt, router) == [(tight.address, selector(router.BoundAboveQuote))]
    assert batch_counts(receipt, router) == (1, 1)
    assert [e.contract_address for e in receipt.decode_logs(tight.Mirrored)] == [loose.address]
    assert (weth.balanceOf(tight), usdc.balanceOf(tight), tight.tradesToday()) == state
    assert not tight.isIntentExecuted(intent[0], intent[6])
    assert tight.lossUsed() <= loss  # only decayed: a cancelled pull records no loss
    (cancelled,) = receipt.decode_logs(tight.AggregatedTradeCancelled)
    assert (cancelled.contract_address, cancelled.leader, cancelled.nonce) == (
        tight.address, intent[0], intent[6],
    )  # fmt: skip
    assert bytes(cancelled.digest) == bytes(registry.intentDigest(intent))
    assert tight.tradeAccounting() == accounting
    assert_router_clean(router, [weth, usdc], [system.venue])

    # The pool recovers; the same intent now trades in the tight vault, within its daily limit.
    sell_into_pool(system.venue, usdc, weth, 2 * usdc.balanceOf(attacker), attacker)
    again = router.mirrorAggregated(intent, sig, [tight], sender=relayer)
    assert batch_counts(again, router) == (1, 0)
    assert weth.balanceOf(tight) == state[0] - state[0] // 5
    assert tight.isIntentExecuted(intent[0], intent[6])
    assert tight.tradesToday() == 2
    assert tight.tradeAccounting()[:2] == (accounting[0], 2)


def test_router__fixed_when_the_factory_is_deployed__no_function_can_change_it(
    project, chain, factory, router, followers, sign_config, owners
):
    vault = followers[0]
    implementation = project.CopyVault.at(factory.vaultImplementation())
    assert factory.router() == router.address == vault.router() == implementation.router()
    # Immutable in factory and vaults: no state-changing function of any of them names a router.
    for contract in (factory, router, vault):
        for abi in contract.contract_type.mutable_methods:
            assert "router" not in abi.name.lower(), f"{contract.contract_type.name}.{abi.name}"
    # Nor can the owners reach one: executeConfig only calls the vault's configuration setters.
    new_router = bytes(12) + bytes.fromhex(owners[0].address[2:])
    set_router = keccak(text="setRouter(address)")[:4] + new_router
    deadline = chain.pending_timestamp + 3_600
    signers, sigs = sign_config(vault, owners[:2], set_router, deadline, nonce=op_nonce(vault))

    with ape.reverts(vault.DisallowedConfigCall, selector=set_router[:4]):
        vault.executeConfig(set_router, deadline, signers, sigs, sender=owners[0])

    assert vault.router() == router.address


# ----------------------------------------------------------------------- a pool moved beforehand


def test_mirror_aggregated__pool_already_past_a_bound__that_vault_skipped_not_filled_at_a_loss(
    create_vault, system, router, weth, usdc, make_intent, sign_intent, attacker, relayer, deployer
):
    tight, loose = create_vault(), create_vault(policy=LOOSE)  # 1 % and 5 % under the oracle
    for vault in (tight, loose):
        fund(vault, weth, 5 * WETH, deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=2_000))
    sell_into_pool(system.venue, weth, usdc, 15 * WETH, attacker)  # front-run: ~3 % down
    loose_min_out = pull_preview(loose, intent, sig, router)[1]
    snap = Snapshot.take(weth, usdc, [tight, loose])

    receipt = router.mirrorAggregated(intent, sig, [tight, loose], sender=relayer)

    # The tight vault was pulled, then refunded and cancelled: as if it had never been in the batch.
    assert skips(receipt, router) == [(tight.address, selector(router.BoundAboveQuote))]
    tight_trade, loose_trade = snap.deltas()
    assert tight_trade == (0, 0) and not tight.isIntentExecuted(intent[0], intent[6])
    assert tight.tradesToday() == 0
    assert loose_trade[1] >= loose_min_out  # the looser owners' own bound, nothing worse
    assert_router_clean(router, [weth, usdc], [system.venue])

    # Once the pool is back, the skipped vault can still take the same intent.
    sell_into_pool(system.venue, usdc, weth, usdc.balanceOf(attacker), attacker)
    again = router.mirrorAggregated(intent, sig, [tight, loose], sender=relayer)
    assert skips(again, router) == [(loose.address, selector(loose.IntentAlreadyExecuted))]
    assert weth.balanceOf(tight) == 4 * WETH
    assert_router_clean(router, [weth, usdc], [system.venue])
