"""Fixtures for PriceOracle tests: a fresh oracle, and tokens of 6 and 18 decimals priced by 8- and
18-decimal feeds at deliberately awkward prices (so every rounding is visible).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

SHAPES = [(6, 8), (6, 18), (18, 8), (18, 18)]  # (token decimals, feed decimals)
SHAPE_IDS = [f"token{t}-feed{f}" for t, f in SHAPES]
IN_PRICE_USD = (3_123_456_789_01, 10**8)  # $3,123.45678901 as (numerator, denominator)
OUT_PRICE_USD = (99_987_654, 10**8)  # $0.99987654


@dataclass(frozen=True)
class Priced:
    token: Any
    feed: Any
    decimals: int
    feed_decimals: int
    answer: int


def expected_quote(amount_in: int, a: Priced, b: Priced) -> int:
    """amountIn × priceIn / priceOut, rescaled between the tokens' and feeds' decimals, rounded
    down.
    """
    return (
        amount_in
        * a.answer
        * 10 ** (b.decimals + b.feed_decimals)
        // (b.answer * 10 ** (a.decimals + a.feed_decimals))
    )


def answer_for(price: tuple[int, int], feed_decimals: int) -> int:
    numerator, denominator = price
    return numerator * 10**feed_decimals // denominator


@pytest.fixture(scope="session")
def price_oracle(project, deployer, admin):
    """A fresh PriceOracle administered by `admin` (FEED_ADMIN_ROLE), separate from the system's."""
    return deployer.deploy(project.PriceOracle, admin)


@pytest.fixture(scope="session")
def priced(project, deployer, admin, price_oracle):
    """{("in"|"out", token decimals, feed decimals): Priced}, each token's feed set on
    `price_oracle`.
    """
    out = {}
    for side, price in (("in", IN_PRICE_USD), ("out", OUT_PRICE_USD)):
        for decimals, feed_decimals in SHAPES:
            token = deployer.deploy(
                project.TestToken, f"{side}{decimals}", f"T{decimals}", decimals
            )
            answer = answer_for(price, feed_decimals)
            feed = deployer.deploy(project.MockAggregator, feed_decimals, answer)
            price_oracle.setFeed(token, feed, sender=admin)
            out[(side, decimals, feed_decimals)] = Priced(
                token, feed, decimals, feed_decimals, answer
            )
    return out


@pytest.fixture
def feed_pair(priced):
    """A default (in, out) pair: an 18-decimal token on an 8-decimal feed into a 6-decimal one."""
    return priced[("in", 18, 8)], priced[("out", 6, 8)]


@pytest.fixture
def token(project, deployer):
    """A token with no feed yet."""
    return deployer.deploy(project.TestToken, "Unpriced", "UNP", 18)


@pytest.fixture
def feed(project, deployer):
    return deployer.deploy(project.MockAggregator, 8, 2 * 10**8)


@pytest.fixture(scope="session")
def feed_admin(admin):
    return admin
