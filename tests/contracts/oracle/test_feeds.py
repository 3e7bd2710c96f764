"""PriceOracle.setFeed / removeFeed: FEED_ADMIN_ROLE only, with FeedSet events and cached
decimals.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.utils.reverts import reverts

from .conftest import expected_quote

ZERO_ADDRESS = "0x" + "00" * 20


def test_set_feed__by_feed_admin__emits_and_caches_decimals(price_oracle, token, feed, feed_admin):
    receipt = price_oracle.setFeed(token, feed, sender=feed_admin)

    event = receipt.decode_logs(price_oracle.FeedSet)[0]
    assert (event.token, event.feed, event.tokenDecimals, event.feedDecimals) == (
        token.address,
        feed.address,
        18,
        8,
    )
    assert tuple(price_oracle.feedOf(token)) == (feed.address, 18, 8)


def test_set_feed__replacing_a_feed__quotes_use_the_new_one(
    price_oracle, feed_pair, project, deployer, feed_admin
):
    a, b = feed_pair
    answer = (
        a.answer * 2 * 10**10
    )  # twice the price, on an 18-decimal feed instead of an 8-decimal one
    doubled = deployer.deploy(project.MockAggregator, 18, answer)
    assert price_oracle.quote(a.token, b.token, 10**18, 2**64) == expected_quote(10**18, a, b)

    price_oracle.setFeed(a.token, doubled, sender=feed_admin)

    assert tuple(price_oracle.feedOf(a.token)) == (doubled.address, 18, 18)
    new_a = dataclasses.replace(a, feed=doubled, feed_decimals=18, answer=answer)
    assert price_oracle.quote(a.token, b.token, 10**18, 2**64) == expected_quote(10**18, new_a, b)


def test_set_feed__by_granted_feed_admin__is_accepted(price_oracle, token, feed, admin, accounts):
    grantee = accounts[13]
    price_oracle.grantRole(price_oracle.FEED_ADMIN_ROLE(), grantee, sender=admin)
    price_oracle.setFeed(token, feed, sender=grantee)
    assert price_oracle.feedOf(token)[0] == feed.address


def test_set_feed__by_stranger__reverts_unauthorized(price_oracle, token, feed, attacker):
    with reverts(
        price_oracle.AccessControlUnauthorizedAccount,
        account=attacker,
        neededRole=price_oracle.FEED_ADMIN_ROLE(),
    ):
        price_oracle.setFeed(token, feed, sender=attacker)
    assert price_oracle.feedOf(token)[0] == ZERO_ADDRESS


def test_set_feed__default_admin_without_feed_role__reverts_unauthorized(
    price_oracle, token, feed, admin
):
    """DEFAULT_ADMIN_ROLE administers roles; setting feeds takes FEED_ADMIN_ROLE itself."""
    role = price_oracle.FEED_ADMIN_ROLE()
    price_oracle.renounceRole(role, admin, sender=admin)
    assert price_oracle.hasRole(price_oracle.DEFAULT_ADMIN_ROLE(), admin)
    with reverts(price_oracle.AccessControlUnauthorizedAccount, account=admin, neededRole=role):
        price_oracle.setFeed(token, feed, sender=admin)


@pytest.mark.parametrize("which", ["token", "feed"])
def test_set_feed__zero_address__reverts_zero_address(price_oracle, token, feed, feed_admin, which):
    args = (ZERO_ADDRESS, feed) if which == "token" else (token, ZERO_ADDRESS)
    with reverts(price_oracle.ZeroAddress):
        price_oracle.setFeed(*args, sender=feed_admin)


def test_remove_feed__by_feed_admin__emits_zero_feed_and_quotes_revert(
    price_oracle, feed_pair, feed_admin
):
    a, b = feed_pair

    receipt = price_oracle.removeFeed(a.token, sender=feed_admin)

    event = receipt.decode_logs(price_oracle.FeedSet)[0]
    assert (event.token, event.feed, event.tokenDecimals, event.feedDecimals) == (
        a.token.address,
        ZERO_ADDRESS,
        0,
        0,
    )
    assert tuple(price_oracle.feedOf(a.token)) == (ZERO_ADDRESS, 0, 0)
    with reverts(price_oracle.FeedNotSet, token=a.token):
        price_oracle.quote(a.token, b.token, 10**18, 2**64)


def test_remove_feed__not_set__reverts_feed_not_set(price_oracle, token, feed_admin):
    with reverts(price_oracle.FeedNotSet, token=token):
        price_oracle.removeFeed(token, sender=feed_admin)


def test_remove_feed__by_stranger__reverts_unauthorized_and_keeps_feed(
    price_oracle, feed_pair, attacker
):
    a, _ = feed_pair
    with reverts(
        price_oracle.AccessControlUnauthorizedAccount,
        account=attacker,
        neededRole=price_oracle.FEED_ADMIN_ROLE(),
    ):
        price_oracle.removeFeed(a.token, sender=attacker)
    assert price_oracle.feedOf(a.token)[0] == a.feed.address
