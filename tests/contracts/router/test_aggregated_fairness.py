"""CopyRouter.mirrorAggregated: one swap, one price for every follower (docs/protocol.md §1.3),
against the sequential mode (mirrorBatch), where the first follower gets the best price and the last
the worst."""

from __future__ import annotations

import pytest

from tests.conftest import fund
from tests.contracts.router.aggregated_helpers import (
    Snapshot,
    assert_router_clean,
    assert_same_price,
    batch_counts,
    expected_shares,
    price_gt,
    skips,
)
from tests.utils.reverts import selector

# Odd sizes (a few wei over round numbers) so that the pro-rata split has a remainder to hand out.
E18, E6 = 10**18, 10**6
SIZES = {
    "WETH": [7 * E18 // 10 + 13, 31 * E18 // 10, 12_345 * E18 // 1_000 + 7, E18 // 20 + 1, 5 * E18],
    "USDC": [2_100 * E6 + 13, 9_300 * E6, 37_035 * E6 + 7, 150 * E6 + 1, 15_000 * E6],
}


@pytest.fixture
def wallet_owner(project, deployer, co_owner):
    """A contract owner (EIP-1271 smart account) controlled by `co_owner`'s key."""
    return deployer.deploy(project.MockERC1271Wallet, co_owner)


@pytest.fixture
def mixed_fleet(create_vault, owners, leader, wallet_owner):
    """Five vaults of different owner shapes following `leader`, the leader's own vault last."""
    return [
        create_vault(owners_=owners[:1], threshold=1),
        create_vault(),  # 2-of-3
        create_vault(owners_=owners[:5], threshold=3),
        create_vault(owners_=[wallet_owner, owners[2]], threshold=2, sender=owners[2]),
        create_vault(owners_=[leader], threshold=1),
    ]


def _tokens(system, direction):
    return (system.weth, system.usdc) if direction == "WETH->USDC" else (system.usdc, system.weth)


def _fund_fleet(fleet, token, deployer):
    for vault, amount in zip(fleet, SIZES[token.symbol()], strict=True):
        fund(vault, token, amount, deployer)


@pytest.mark.parametrize("direction", ["WETH->USDC", "USDC->WETH"])  # tokenOut: 6, 18 decimals
def test_mirror_aggregated__mixed_sizes_and_owner_shapes__every_vault_gets_the_batch_price(
    direction, system, router, mixed_fleet, make_intent, sign_intent, relayer, deployer
):
    token_in, token_out = _tokens(system, direction)
    _fund_fleet(mixed_fleet, token_in, deployer)
    intent, sig = sign_intent(
        make_intent(token_in=token_in.address, token_out=token_out.address, fraction_bps=2_000)
    )
    snap = Snapshot.take(token_in, token_out, mixed_fleet)
    returned = router.mirrorAggregated.call(intent, sig, mixed_fleet)

    receipt = router.mirrorAggregated(intent, sig, mixed_fleet, sender=relayer)

    (swap,) = receipt.decode_logs(router.AggregatedSwap)
    assert tuple(returned) == (5, swap.totalIn, swap.totalOut)
    assert batch_counts(receipt, router) == (5, 0)
    trades = snap.deltas()
    ins = [t[0] for t in trades]
    assert ins == [amount * 2_000 // 10_000 for amount in SIZES[token_in.symbol()]]
    assert sum(ins) == swap.totalIn
    # Exactly the documented split: floor share, then one wei each to the first vaults, no dust.
    assert [t[1] for t in trades] == expected_shares(ins, swap.totalOut)
    assert_same_price(trades, swap.totalIn, swap.totalOut)
    assert_router_clean(
        router, [token_in, token_out], [system.venue, system.venue.pairFor(token_in, token_out)]
    )


def test_mirror_batch__same_vaults_one_swap_each__first_best_last_worst_aggregated_one_price(
    system, chain, router, mixed_fleet, make_intent, sign_intent, relayer, deployer
):
    weth, usdc = system.weth, system.usdc
    _fund_fleet(mixed_fleet, weth, deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))  # within every sequential bound
    snapshot_id = chain.snapshot()

    snap = Snapshot.take(weth, usdc, mixed_fleet)
    aggregated = router.mirrorAggregated(intent, sig, mixed_fleet, sender=relayer)
    (swap,) = aggregated.decode_logs(router.AggregatedSwap)
    aggregated_trades = snap.deltas()

    chain.restore(snapshot_id)  # the same vaults and pool, before either mode traded
    snap = Snapshot.take(weth, usdc, mixed_fleet)
    sequential = router.mirrorBatch(intent, sig, mixed_fleet, sender=relayer)
    sequential_trades = snap.deltas()

    assert batch_counts(sequential, router) == (5, 0)
    assert [t[0] for t in sequential_trades] == [t[0] for t in aggregated_trades]  # same sizes
    # Sequential: each swap moves the pool against the next follower, so prices strictly decrease.
    for earlier, later in zip(sequential_trades, sequential_trades[1:], strict=False):
        assert price_gt(earlier, later)
    # Aggregated: one price for all, worse than the first follower's, better than the last one's.
    assert_same_price(aggregated_trades, swap.totalIn, swap.totalOut)
    batch_price = (swap.totalIn, swap.totalOut)
    assert price_gt(sequential_trades[0], batch_price)
    assert price_gt(batch_price, sequential_trades[-1])


def test_mirror_batch__earlier_swaps_push_price_past_the_last_bound__last_follower_skipped(
    system, router, mixed_fleet, make_intent, sign_intent, relayer, deployer
):
    """The same 20 % trade that the aggregated mode mirrors into all five vaults (first test):
    sequentially, four swaps move the pool so far that the last follower's 1 % bound breaks."""
    _fund_fleet(mixed_fleet, system.weth, deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=2_000))
    last = mixed_fleet[-1]
    before = system.weth.balanceOf(last), system.usdc.balanceOf(last)

    receipt = router.mirrorBatch(intent, sig, mixed_fleet, sender=relayer)

    assert batch_counts(receipt, router) == (4, 1)
    assert skips(receipt, router) == [(last.address, selector(last.InsufficientOutput))]
    assert (system.weth.balanceOf(last), system.usdc.balanceOf(last)) == before
