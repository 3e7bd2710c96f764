"""Invariant 5 (the router holds no tokens after any call), fuzzed over random aggregated batches:
vault sizes, paused vaults, vaults of another leader or without the asset, duplicates, non-vaults,
fractions, both directions and a pool moved beforehand (so that some vaults are pulled, then
refunded at the quote). After every call the router holds no token and has granted no allowance,
the vaults' tokenOut increases add up to totalOut, every mirrored vault paid totalOut/totalIn to
within one wei (exactly the documented split), and every skip carries the reason that a model of
the router's phases predicts."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.contracts.router.aggregated_helpers import (
    Snapshot,
    assert_router_clean,
    assert_same_price,
    batch_counts,
    call_or_revert,
    expected_shares,
    intent_for,
    sell_into_pool,
    skips,
)
from tests.utils.reverts import selector

WETH = 10**18
USDC_PER_WETH = 3_000 * 10**6


@pytest.fixture(scope="module")
def fleet(accounts, create_vault, system, router, owners, leader, deployer):
    """Nine vaults of different sizes, shapes and policies, holding both tokens; a non-vault."""
    weth, usdc = system.weth, system.usdc
    specs = [  # (create_vault kwargs, WETH held)
        ({}, 10 * WETH),
        ({"owners_": owners[:1], "threshold": 1}, 37 * 10**16 + 1_234),
        ({"owners_": owners[:5], "threshold": 3}, 25 * WETH + 5),
        ({"policy": (2_000, 100, 3_600, 10, 0)}, 4 * WETH),  # trades at most 20 %
        ({"policy": (5_000, 50, 3_600, 10, 0)}, 8 * WETH),  # 0.5 % bound: skipped on a moved pool
        ({"leader_": accounts[15]}, 5 * WETH),  # follows another leader
        ({"assets": [weth.address]}, 3 * WETH),  # may not hold USDC
        ({"owners_": [leader], "threshold": 1}, 1 * WETH + 7),  # the leader's own vault
        ({"policy": (5_000, 100, 3_600, 10, 150)}, 2 * WETH),  # with a loss budget
    ]
    vaults = []
    for kwargs, amount in specs:
        vault = create_vault(**kwargs)
        weth.mint(vault, amount, sender=deployer)
        usdc.mint(vault, amount * USDC_PER_WETH // WETH + 13, sender=deployer)
        vaults.append(vault)
    pausers = [leader if i == 7 else owners[0] for i in range(len(vaults))]
    return vaults, pausers, accounts[16].address


def _predict(entries, intent, sig, venue, router):
    """The router's phases replayed off-chain: per entry, (amountIn or 0, skip reason or None)."""
    amounts, min_outs, reasons = [0] * len(entries), [0] * len(entries), [None] * len(entries)
    pending = set()
    for i, entry in enumerate(entries):  # phase 1: each vault's pull, simulated from the router
        if isinstance(entry, str):  # not a vault: ignored, no skip event, not counted
            continue
        if entry.address in pending:  # listed again while its first listing's trade is pending
            reasons[i] = selector(entry.TradePending)
        else:
            ok, result = call_or_revert(
                entry.pullAggregated, intent, sig,
                sender=router, output_types=["uint256", "uint256"],
            )  # fmt: skip
            if ok:
                amounts[i], min_outs[i] = result
                pending.add(entry.address)
            else:
                reasons[i] = result
    pulled = sum(amounts)  # phase 2: the bounds against the venue's quote for everything pulled
    quoted_out = venue.quote(intent[2], intent[3], pulled) if pulled else 0
    for i, amount in enumerate(amounts):
        if amount and min_outs[i] >= quoted_out * amount // pulled:  # admitted strictly below
            amounts[i], reasons[i] = 0, selector(router.BoundAboveQuote)  # refunded, cancelled
    return amounts, reasons


def _set_up(fleet, system, token_in, token_out, paused, top_up, pool_shift, trader, deployer):
    """Pause some vaults, top one up, move the pool (amounts in tokenIn units)."""
    vaults, pausers, _ = fleet
    for i in paused:
        vaults[i].pause(sender=pausers[i])
    if top_up:
        token_in.mint(vaults[top_up[0]], top_up[1], sender=deployer)
    if pool_shift:
        sell_into_pool(system.venue, token_in, token_out, pool_shift, trader)


def _check(receipt, router, system, entries, amounts, reasons, snap):
    address = [str(getattr(e, "address", e)) for e in entries]
    expected_skips = [(a, r) for a, r in zip(address, reasons, strict=True) if r is not None]
    assert Counter(skips(receipt, router)) == Counter(expected_skips)
    mirrored = sum(1 for a in amounts if a)
    assert batch_counts(receipt, router) == (mirrored, len(expected_skips))
    swaps = receipt.decode_logs(router.AggregatedSwap)
    assert len(swaps) == (1 if mirrored else 0)
    total_in, total_out = (swaps[0].totalIn, swaps[0].totalOut) if mirrored else (0, 0)
    assert total_in == sum(amounts)
    # Each vault's balances moved by exactly its predicted amount and its documented share.
    shares = expected_shares(amounts, total_out) if mirrored else [0] * len(entries)
    expected = dict.fromkeys(address, (0, 0))
    for a, amount_in, share in zip(address, amounts, shares, strict=True):
        if amount_in:
            expected[a] = (amount_in, share)
    trades = snap.deltas()
    assert trades == [expected[str(getattr(v, "address", v))] for v in snap.vaults]
    assert sum(t[1] for t in trades) == total_out
    if mirrored:
        assert_same_price([t for t in trades if t[0]], total_in, total_out)
    weth, usdc, venue = system.weth, system.usdc, system.venue
    assert_router_clean(router, [weth, usdc], [venue, venue.pairFor(weth, usdc)])


# No shrinking: each step replays transactions, and a failure's raw example is already small.
# The chain is snapshot and restored around each example, so the function-scoped fixtures are safe.
@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    picks=st.lists(st.integers(0, 9), min_size=1, max_size=8),  # 9: the non-vault
    paused=st.sets(st.integers(0, 8), max_size=2),
    fraction_bps=st.integers(1, 6_000),
    weth_to_usdc=st.booleans(),
    top_up=st.none() | st.tuples(st.integers(0, 8), st.integers(1, 20 * WETH)),
    pool_shift_weth=st.sampled_from([0, 0, 0, 1, 2, 5]),  # 5: pool ~1.3 % under the oracle
)
def test_mirror_aggregated__random_batches__router_keeps_nothing_all_pay_the_batch_price(
    fleet, system, router, chain, leader, attacker, relayer, deployer, sign_intent,
    picks, paused, fraction_bps, weth_to_usdc, top_up, pool_shift_weth,
):  # fmt: skip
    weth, usdc = system.weth, system.usdc
    token_in, token_out = (weth, usdc) if weth_to_usdc else (usdc, weth)

    def in_token_in(weth_amount):  # a WETH-denominated amount, in tokenIn units
        return weth_amount if weth_to_usdc else weth_amount * USDC_PER_WETH // WETH

    top_up = top_up and (top_up[0], in_token_in(top_up[1]))
    snapshot_id = chain.snapshot()
    try:
        _set_up(fleet, system, token_in, token_out, paused, top_up,
                in_token_in(pool_shift_weth * WETH), attacker, deployer)  # fmt: skip
        vaults, _, not_a_vault = fleet
        entries = [not_a_vault if i == 9 else vaults[i] for i in picks]
        intent, sig = sign_intent(
            intent_for(system, leader, chain, token_in=token_in, token_out=token_out,
                       fraction_bps=fraction_bps)
        )  # fmt: skip
        amounts, reasons = _predict(entries, intent, sig, system.venue, router)
        snap = Snapshot.take(token_in, token_out, dict.fromkeys(entries))

        receipt = router.mirrorAggregated(intent, sig, entries, sender=relayer)

        _check(receipt, router, system, entries, amounts, reasons, snap)
    finally:
        chain.restore(snapshot_id)
