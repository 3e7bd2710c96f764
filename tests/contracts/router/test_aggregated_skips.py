"""CopyRouter.mirrorAggregated: a vault that cannot take the trade is skipped with the selector of
the error it would have raised, and the rest of the batch is mirrored (docs/protocol.md §1.3)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import fund
from tests.contracts.router.aggregated_helpers import (
    Snapshot,
    assert_router_clean,
    assert_same_price,
    batch_counts,
    skips,
)
from tests.utils.reverts import selector

WETH = 10**18
# maxFractionBps, maxSlippageBps, maxOracleAge, maxTradesPerDay, lossBudgetBps
ONE_TRADE_A_DAY = (5_000, 100, 3_600, 1, 0)
SMALL_FRACTION = (5_000 // 10, 100, 3_600, 10, 0)
WORST_CASE_OVER_BUDGET = (5_000, 100, 3_600, 10, 50)  # a 1 % bound may lose 100 bps of 50
TIGHT_BUDGET = (5_000, 50, 3_600, 10, 60)  # one trade loses ~40 bps, the next may lose 50 more
# Asks for the oracle price itself, which a pool with a 0.3 % fee cannot give.
NO_SLIPPAGE = (5_000, 0, 3_600, 10, 0)


@pytest.fixture(scope="module")
def good_pair(create_vault, weth, deployer):
    """Two ordinary followers that every batch below mirrors."""
    vaults = [create_vault(), create_vault()]
    fund(vaults[0], weth, 2 * WETH + 1, deployer)
    fund(vaults[1], weth, 7 * WETH + 3, deployer)
    return vaults


@pytest.fixture
def ctx(accounts, create_vault, system, follower, sign_intent, make_intent, relayer, deployer):
    return SimpleNamespace(
        create_vault=create_vault,
        system=system,
        follower=follower,
        other_leader=accounts[15],
        sign_intent=sign_intent,
        make_intent=make_intent,
        relayer=relayer,
        deployer=deployer,
    )


def _funded(ctx, **kwargs):
    vault = ctx.create_vault(**kwargs)
    fund(vault, ctx.system.weth, 3 * WETH, ctx.deployer)
    return vault


def _traded_once(ctx, **kwargs):
    """A vault that already mirrored another intent of the leader today, in an aggregated batch
    (so the daily count and the loss budget are shown to count aggregated trades too)."""
    vault = _funded(ctx, **kwargs)
    earlier, sig = ctx.sign_intent(ctx.make_intent(nonce=99))
    ctx.system.router.mirrorAggregated(earlier, sig, [vault], sender=ctx.relayer)
    assert vault.tradesToday() == 1
    return vault


def paused(ctx):
    vault = _funded(ctx)
    vault.pause(sender=ctx.follower)
    return vault, vault.VaultPaused


def copying_stopped(ctx):
    vault = _funded(ctx)
    vault.stopCopying(sender=ctx.follower)
    return vault, vault.CopyingStoppedError


def following_another_leader(ctx):
    vault = _funded(ctx, leader_=ctx.other_leader)
    return vault, vault.NotFollowingLeader


def without_the_asset(ctx):
    vault = _funded(ctx, assets=[ctx.system.weth.address])  # may hold WETH, may not receive USDC
    return vault, vault.AssetNotAllowed


def without_the_venue(ctx):
    vault = _funded(ctx, venues=[])
    return vault, vault.VenueNotAllowed


def fraction_above_its_policy(ctx):
    vault = _funded(ctx, policy=SMALL_FRACTION)
    return vault, vault.FractionTooLarge


def over_its_daily_trade_count(ctx):
    vault = _traded_once(ctx, policy=ONE_TRADE_A_DAY)
    return vault, vault.DailyTradeLimitReached


def worst_case_over_its_loss_budget(ctx):
    vault = _funded(ctx, policy=WORST_CASE_OVER_BUDGET)
    return vault, vault.LossBudgetExceeded


def loss_budget_used_by_an_earlier_trade(ctx):
    vault = _traded_once(ctx, policy=TIGHT_BUDGET)
    assert vault.lossUsed() > 0
    return vault, vault.LossBudgetExceeded


def holding_nothing_to_trade(ctx):
    vault = ctx.create_vault()
    return vault, vault.NothingToTrade


def already_executed_the_intent(ctx):
    vault = _funded(ctx)
    intent, sig = ctx.sign_intent(ctx.make_intent(nonce=0))  # the nonce the batch below uses
    vault.mirror(intent, sig, sender=ctx.relayer)
    return vault, vault.IntentAlreadyExecuted


def an_account_not_a_vault(ctx):
    return ctx.other_leader.address, None  # ignored: no skip event, not counted (audit finding 5)


def a_contract_not_a_vault(ctx):
    return ctx.system.registry.address, None


def bound_above_the_quote(ctx):
    vault = _funded(ctx, policy=NO_SLIPPAGE)
    return vault, ctx.system.router.BoundAboveQuote


@pytest.mark.parametrize(
    "make_odd_vault",
    [
        paused,
        copying_stopped,
        following_another_leader,
        without_the_asset,
        without_the_venue,
        fraction_above_its_policy,
        over_its_daily_trade_count,
        worst_case_over_its_loss_budget,
        loss_budget_used_by_an_earlier_trade,
        holding_nothing_to_trade,
        already_executed_the_intent,
        an_account_not_a_vault,
        a_contract_not_a_vault,
        bound_above_the_quote,
    ],
)
def test_mirror_aggregated__one_vault_cannot_take_it__skipped_with_its_reason_others_mirrored(
    make_odd_vault, ctx, good_pair, router, weth, usdc, relayer
):
    odd, error = make_odd_vault(ctx)
    odd_address = str(getattr(odd, "address", odd))
    batch = [good_pair[0], odd_address, good_pair[1]]
    is_vault = not isinstance(odd, str)
    intent, sig = ctx.sign_intent(ctx.make_intent(nonce=0))
    state_before = (odd.isIntentExecuted(intent[0], 0), odd.tradesToday()) if is_vault else None
    snap = Snapshot.take(weth, usdc, batch)

    receipt = router.mirrorAggregated(intent, sig, batch, sender=relayer)

    if error is None:
        assert skips(receipt, router) == []
        assert batch_counts(receipt, router) == (2, 0)
    else:
        assert skips(receipt, router) == [(odd_address, selector(error))]
        assert batch_counts(receipt, router) == (2, 1)
    (swap,) = receipt.decode_logs(router.AggregatedSwap)
    good_a, odd_delta, good_b = snap.deltas()
    assert odd_delta == (0, 0)  # nothing left or reached the skipped address
    if is_vault:  # not marked executed, not counted: it can take the intent later
        assert (odd.isIntentExecuted(intent[0], 0), odd.tradesToday()) == state_before
    assert good_a[0] + good_b[0] == swap.totalIn and good_a[1] + good_b[1] == swap.totalOut
    assert_same_price([good_a, good_b], swap.totalIn, swap.totalOut)
    assert_router_clean(router, [weth, usdc], [ctx.system.venue])
