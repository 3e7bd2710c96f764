"""PriceOracle.quote: exact conversions across token and feed decimals; stale, future, zero,
negative and missing prices refused (docs/protocol.md §1.4).
"""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .conftest import SHAPE_IDS, SHAPES, expected_quote

NO_AGE_LIMIT = 2**64  # the quote tests are about arithmetic, not freshness
MAX_AGE = 600


@pytest.mark.parametrize("out_shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("in_shape", SHAPES, ids=SHAPE_IDS)
def test_quote__token_and_feed_decimals__equals_integer_formula_rounded_down(
    price_oracle, priced, in_shape, out_shape
):
    a, b = priced[("in", *in_shape)], priced[("out", *out_shape)]
    amounts = [1, 1_234_567 * 10**a.decimals // 1_000, 10**30, 2**128 - 1]

    quotes = [price_oracle.quote(a.token, b.token, amount, NO_AGE_LIMIT) for amount in amounts]

    assert quotes == [expected_quote(amount, a, b) for amount in amounts]
    # The awkward prices leave a remainder, so the rounding direction is really exercised.
    assert any(
        amount
        * a.answer
        * 10 ** (b.decimals + b.feed_decimals)
        % (b.answer * 10 ** (a.decimals + a.feed_decimals))
        for amount in amounts
    )


def test_quote__known_values__match_hand_computation(price_oracle, priced):
    # 1 token (18 dec) at $3,123.45678901 in a 6-decimal token at $0.99987654:
    # 3123.45678901 / 0.99987654 = 3123.8424585999… → 3,123,842,458 raw units (6 decimals, rounded
    # down).
    a, b = priced[("in", 18, 8)], priced[("out", 6, 18)]
    assert (
        price_oracle.quote(a.token, b.token, 10**18, NO_AGE_LIMIT)
        == 312345678901 * 10**6 // 99987654
    )
    assert price_oracle.quote(a.token, b.token, 10**18, NO_AGE_LIMIT) == 3_123_842_458


def test_quote__zero_amount__is_zero(price_oracle, feed_pair):
    a, b = feed_pair
    assert price_oracle.quote(a.token, b.token, 0, NO_AGE_LIMIT) == 0


def test_quote__same_token__returns_the_amount(price_oracle, feed_pair):
    a, _ = feed_pair
    assert price_oracle.quote(a.token, a.token, 123_456_789, NO_AGE_LIMIT) == 123_456_789


# ----------------------------------------------------------------------------- freshness


# Boundaries are checked in transactions at a pinned block time: anvil runs an eth_call at a time of
# its own choosing (one second past the head), too loose for a test of "exactly maxAge old".


@pytest.fixture
def updated_at(chain, feed_pair, deployer):
    """Both feeds of `feed_pair` last updated at one known second; returns it."""
    now = chain.pending_timestamp
    for priced_token in feed_pair:
        priced_token.feed.setUpdatedAt(now, sender=deployer)
    return now


def test_quote__answer_exactly_max_age_old__is_accepted(
    price_oracle, feed_pair, updated_at, chain, relayer
):
    a, b = feed_pair
    chain.pending_timestamp = updated_at + MAX_AGE
    receipt = price_oracle.quote.transact(a.token, b.token, 10**18, MAX_AGE, sender=relayer)
    assert receipt.return_value == expected_quote(10**18, a, b)


@pytest.mark.parametrize("stale_side", ["in", "out"])
def test_quote__answer_one_second_too_old__reverts_stale_oracle_price(
    price_oracle, feed_pair, updated_at, chain, relayer, deployer, stale_side
):
    a, b = feed_pair
    stale = a if stale_side == "in" else b
    fresh = b if stale_side == "in" else a
    fresh.feed.setUpdatedAt(updated_at + 1, sender=deployer)
    chain.pending_timestamp = updated_at + MAX_AGE + 1

    with reverts(
        price_oracle.StaleOraclePrice, feed=stale.feed, updatedAt=updated_at, maxAge=MAX_AGE
    ):
        price_oracle.quote.transact(a.token, b.token, 10**18, MAX_AGE, sender=relayer)


def test_quote__updated_in_the_future__reverts_stale_oracle_price(
    price_oracle, feed_pair, chain, deployer
):
    a, b = feed_pair
    future = chain.blocks.head.timestamp + 1_000
    a.feed.setUpdatedAt(future, sender=deployer)
    with reverts(price_oracle.StaleOraclePrice, feed=a.feed, updatedAt=future):
        price_oracle.quote(a.token, b.token, 10**18, NO_AGE_LIMIT)


def test_quote__never_updated__reverts_stale_oracle_price(price_oracle, feed_pair, deployer):
    a, b = feed_pair
    b.feed.setUpdatedAt(0, sender=deployer)
    with reverts(price_oracle.StaleOraclePrice, feed=b.feed, updatedAt=0):
        price_oracle.quote(a.token, b.token, 10**18, NO_AGE_LIMIT)


# --------------------------------------------------------------------------- bad or missing prices


@pytest.mark.parametrize("answer", [0, -1, -(2**255)])
@pytest.mark.parametrize("side", ["in", "out"])
def test_quote__zero_or_negative_answer__reverts_invalid_oracle_price(
    price_oracle, feed_pair, deployer, answer, side
):
    a, b = feed_pair
    bad = a if side == "in" else b
    bad.feed.setAnswer(answer, sender=deployer)
    with reverts(price_oracle.InvalidOraclePrice, feed=bad.feed, answer=answer):
        price_oracle.quote(a.token, b.token, 10**18, NO_AGE_LIMIT)


@pytest.mark.parametrize("side", ["in", "out"])
def test_quote__token_without_feed__reverts_feed_not_set(price_oracle, feed_pair, token, side):
    priced_token = feed_pair[0].token
    token_in, token_out = (token, priced_token) if side == "in" else (priced_token, token)
    with reverts(price_oracle.FeedNotSet, token=token):
        price_oracle.quote(token_in, token_out, 10**18, NO_AGE_LIMIT)
