"""Suspected 1-wei rounding in the aggregated mode (audit point 6): proved real, then fixed.

The router admits a vault when its bound is within its share of the venue's quote for everything
pulled, `quotedShare = quotedOut * amountIn / pulled` (rounded down). When another vault is then
left out, the batch shrinks and an AMM's price only improves, but the floors do not follow: the
actual output of the smaller batch is at least `quotedOut * remaining / pulled` less one wei, so
a vault's share can be one wei below the `quotedShare` it was admitted on, and a vault whose
bound sits exactly there reverted the whole batch (InsufficientOutput). Admitting only bounds
strictly below the quoted share fixes it: then share ≥ quotedShare - 1 ≥ minOut for every subset
of vaults that stays.

A model of the router's arithmetic (Uniswap V2's integer formula, the router's floors and its
remainder) shows both with Hypothesis: it finds a shortfall under the old rule and none under
the new. A batch built on the session's real pool shows the same on-chain."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from tests.contracts.router.aggregated_helpers import batch_counts, skips
from tests.utils.reverts import selector

EXACT_BOUND = (10_000, 9_999, 3_600, 10, 0)  # bound = the leader's limit price (oracle bound ~0)
ORACLE_BOUND = (10_000, 0, 3_600, 10, 0)  # bound = the oracle's value: above any pool quote


def _amm_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Venue's output (Uniswap V2's formula, 0.3 % fee, rounded down)."""
    return 997 * amount_in * reserve_out // (1000 * reserve_in + 997 * amount_in)


def _shares(amounts, min_outs, reserve_in, reserve_out, *, strict: bool):
    """(minOut, share) of each vault the router keeps: its admission at the quote for all that was
    pulled (`<=` before the fix, `<` after), then floor(out * a / total) plus one wei of the
    remainder to each of the first vaults."""
    pulled = sum(amounts)
    quoted = _amm_out(pulled, reserve_in, reserve_out)
    kept = [
        a if (m < quoted * a // pulled if strict else m <= quoted * a // pulled) else 0
        for a, m in zip(amounts, min_outs, strict=True)
    ]
    total = sum(kept)
    if total == 0:
        return []
    out = _amm_out(total, reserve_in, reserve_out)
    remainder = out - sum(out * a // total for a in kept)
    result = []
    for a, m in zip(kept, min_outs, strict=True):
        if a:
            result.append((m, out * a // total + (1 if remainder else 0)))
            remainder -= 1 if remainder else 0
    return result


# Amounts, and each vault's bound relative to its quoted share (one wei below, at, or above it).
batches = st.tuples(
    st.lists(st.integers(1, 10**16), min_size=2, max_size=6),
    st.lists(st.integers(-1, 1), min_size=6, max_size=6),
    st.integers(10**18, 10**24),
    st.integers(10**6, 10**13),
)


def _short(batch, *, strict: bool) -> bool:
    amounts, offsets, reserve_in, reserve_out = batch
    pulled = sum(amounts)
    quoted = _amm_out(pulled, reserve_in, reserve_out)
    min_outs = [max(0, quoted * a // pulled + d) for a, d in zip(amounts, offsets, strict=False)]
    return any(
        share < m for m, share in _shares(amounts, min_outs, reserve_in, reserve_out, strict=strict)
    )


def test_aggregated_rounding__model_of_the_old_admission__a_vault_can_get_one_wei_below_its_bound():
    """Proof that the suspicion is real: Hypothesis finds a batch where a vault admitted at its
    quoted share receives one wei less after another vault is left out."""
    found = find(
        batches,
        lambda b: _short(b, strict=False),
        settings=settings(max_examples=20_000, database=None),
    )
    assert _short(found, strict=False)


@settings(max_examples=3_000, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches)
def test_aggregated_rounding__model_of_the_strict_admission__every_kept_vault_gets_its_bound(batch):
    assert not _short(batch, strict=True)


def _case_for_pool(reserve_in: int, reserve_out: int, oracle_price: int) -> dict:
    """Three dust-sized vaults (k, i, j) and a leader price on this pool where, under the old
    rule, j is left out at the quote (its bound is the oracle value), k and i are admitted with
    i's bound exactly its quoted share, and i then receives one wei less. Searched with a fixed
    seed: a few hundred draws at most on the session's pool."""
    rng = random.Random(6)
    for _ in range(200_000):
        a_k, a_i, a_j = (
            rng.randrange(10**11, 10**14),
            rng.randrange(10**11, 10**14),
            rng.randrange(10**11, 10**15),
        )
        pulled = a_k + a_i + a_j
        quoted = _amm_out(pulled, reserve_in, reserve_out)
        q_k, q_i, q_j = (quoted * a // pulled for a in (a_k, a_i, a_j))
        # The lowest leader limit that makes i's bound ceil(a_i * price / 1e18) exactly q_i.
        price = (q_i - 1) * 10**18 // a_i + 1
        # i's bound is exactly its quoted share; k's strictly below its own (kept by either rule).
        if -(-a_i * price // 10**18) != q_i or -(-a_k * price // 10**18) >= q_k:
            continue
        bound_j = a_j * oracle_price // 10**18  # its oracle value, slippage 0
        if bound_j <= q_j + 1:
            continue
        bound_k = -(-a_k * price // 10**18)
        kept = _shares(
            [a_k, a_i, a_j], [bound_k, q_i, bound_j], reserve_in, reserve_out, strict=False
        )
        if len(kept) == 2 and kept[1][1] < q_i and kept[0][1] >= bound_k:
            return {
                "amounts": (a_k, a_i, a_j),
                "price": price,
                "bound_i": q_i,
                "share_i": kept[1][1],
            }
    raise AssertionError("no case found on this pool")


def test_mirror_aggregated__bound_at_quoted_share_and_another_left_out__left_out_batch_goes_on(
    create_vault, system, router, make_intent, sign_intent, relayer, deployer
):
    """On-chain: vault i's bound equals its quoted share and vault j is left out at the quote. The
    old router admitted i and the batch reverted with InsufficientOutput(share_i, bound_i), one
    wei short; now i is left out (BoundAboveQuote) with j, and k trades."""
    weth, usdc = system.weth, system.usdc
    for feed in system.feeds.values():  # earlier modules' time travel may have aged them
        feed.setAnswer(feed.answer(), sender=deployer)
    pair = system.uniswap.factory.getPair(weth, usdc)
    reserve_weth, reserve_usdc = weth.balanceOf(pair), usdc.balanceOf(pair)
    case = _case_for_pool(reserve_weth, reserve_usdc, 3_000 * 10**6)
    vault_k, vault_i = create_vault(policy=EXACT_BOUND), create_vault(policy=EXACT_BOUND)
    vault_j = create_vault(policy=ORACLE_BOUND)
    for vault, amount in zip((vault_k, vault_i, vault_j), case["amounts"], strict=True):
        weth.mint(vault, amount, sender=deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=10_000, min_price=case["price"]))

    receipt = router.mirrorAggregated(intent, sig, [vault_k, vault_i, vault_j], sender=relayer)

    reason = selector(router.BoundAboveQuote)
    assert skips(receipt, router) == [(vault_i.address, reason), (vault_j.address, reason)]
    assert batch_counts(receipt, router) == (1, 2)
    (trade,) = receipt.decode_logs(vault_k.Mirrored)
    assert trade.contract_address == vault_k.address
