"""Audit point 7: each feed has its own age limit (its heartbeat plus a margin: 1 h for ETH / USD,
24 h for a stablecoin), applied together with the caller's `maxAge` (the shorter wins), and on an
L2 the documented Chainlink sequencer-uptime check can be switched on: while the sequencer is down,
or back up for less than the grace period, every quote reverts."""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

HOUR, DAY = 3_600, 86_400
LONG = 2 * DAY  # a caller that leaves the age to each feed
GRACE = HOUR


@pytest.fixture
def heartbeats(price_oracle, feed_pair, admin):
    """The `in` token's feed takes answers up to 1 h old, the `out` token's (a stablecoin) 24 h."""
    a, b = feed_pair
    price_oracle.setFeedMaxAge(a.token, HOUR, sender=admin)
    price_oracle.setFeedMaxAge(b.token, DAY, sender=admin)
    return a, b


def test_set_feed_max_age__feed_admin__stored_and_emitted(price_oracle, feed_pair, admin):
    a, _ = feed_pair

    receipt = price_oracle.setFeedMaxAge(a.token, HOUR, sender=admin)

    assert price_oracle.maxAgeOf(a.token) == HOUR
    (event,) = receipt.decode_logs(price_oracle.FeedMaxAgeSet)
    assert (event.token, event.maxAge) == (a.token.address, HOUR)


def test_set_feed_max_age__stranger__reverts_unauthorized(price_oracle, feed_pair, attacker):
    a, _ = feed_pair
    with reverts(price_oracle.AccessControlUnauthorizedAccount, account=attacker.address):
        price_oracle.setFeedMaxAge(a.token, 1, sender=attacker)
    assert price_oracle.maxAgeOf(a.token) == 0


def test_set_feed_max_age__token_without_feed__reverts_feed_not_set(price_oracle, token, admin):
    with reverts(price_oracle.FeedNotSet, token=token.address):
        price_oracle.setFeedMaxAge(token, HOUR, sender=admin)


def test_quote__stablecoin_answer_20_hours_old__accepted_within_its_own_24_hour_limit(
    price_oracle, heartbeats, chain, deployer, relayer
):
    """One age for both feeds could not serve this: 1 h refuses the stablecoin between its daily
    updates, 24 h lets an ETH price a day stale through. Per feed, both hold."""
    a, b = heartbeats
    now = chain.pending_timestamp
    a.feed.setUpdatedAt(now + 20 * HOUR - 60, sender=deployer)
    b.feed.setUpdatedAt(now, sender=deployer)
    chain.pending_timestamp = now + 20 * HOUR

    receipt = price_oracle.quote.transact(a.token, b.token, 10**18, LONG, sender=relayer)

    assert receipt.return_value > 0


@pytest.mark.parametrize("method", ["quote", "quoteCached"])
def test_quote__eth_answer_older_than_its_own_hour__reverts_stale_with_the_feeds_limit(
    method, price_oracle, heartbeats, chain, deployer, relayer
):
    a, b = heartbeats
    now = chain.pending_timestamp
    a.feed.setUpdatedAt(now, sender=deployer)
    b.feed.setUpdatedAt(now, sender=deployer)
    chain.pending_timestamp = now + HOUR + 1

    with reverts(price_oracle.StaleOraclePrice, feed=a.feed.address, updatedAt=now, maxAge=HOUR):
        _quote(price_oracle, method, a.token, b.token, 10**18, LONG, sender=relayer)


def test_quote__caller_limit_shorter_than_the_feeds__the_callers_applies(
    price_oracle, heartbeats, chain, deployer, relayer
):
    a, b = heartbeats
    now = chain.pending_timestamp
    a.feed.setUpdatedAt(now, sender=deployer)
    b.feed.setUpdatedAt(now, sender=deployer)
    chain.pending_timestamp = now + 601

    with reverts(price_oracle.StaleOraclePrice, feed=a.feed.address, updatedAt=now, maxAge=600):
        price_oracle.quote.transact(a.token, b.token, 10**18, 600, sender=relayer)


def _quote(price_oracle, method, token_in, token_out, amount, max_age, sender):
    """`quote` (a view) or `quoteCached` as a transaction at the pinned block time: its receipt."""
    if method == "quote":
        return price_oracle.quote.transact(token_in, token_out, amount, max_age, sender=sender)
    return price_oracle.quoteCached(token_in, token_out, amount, max_age, sender=sender)


# ----------------------------------------------------------------------------- L2 sequencer


@pytest.fixture
def sequencer(project, price_oracle, admin, deployer):
    """A sequencer uptime feed (0 decimals as Chainlink's; answer 0: up, 1: down; startedAt: when
    the status last changed), configured with a one-hour grace period; up since its deployment."""
    feed = deployer.deploy(project.MockAggregator, 0, 0)
    price_oracle.setSequencerUptimeFeed(feed, GRACE, sender=admin)
    return feed


def test_set_sequencer_uptime_feed__feed_admin__stored_and_emitted(
    project, price_oracle, admin, deployer
):
    feed = deployer.deploy(project.MockAggregator, 0, 0)

    receipt = price_oracle.setSequencerUptimeFeed(feed, GRACE, sender=admin)

    assert tuple(price_oracle.sequencerUptimeFeed()) == (feed.address, GRACE)
    (event,) = receipt.decode_logs(price_oracle.SequencerUptimeFeedSet)
    assert (event.feed, event.gracePeriod) == (feed.address, GRACE)


def test_set_sequencer_uptime_feed__stranger__reverts_unauthorized(price_oracle, attacker):
    with reverts(price_oracle.AccessControlUnauthorizedAccount, account=attacker.address):
        price_oracle.setSequencerUptimeFeed(attacker, GRACE, sender=attacker)


@pytest.mark.parametrize("method", ["quote", "quoteCached"])
def test_quote__sequencer_down__reverts_sequencer_down(
    method, price_oracle, feed_pair, sequencer, deployer, relayer
):
    a, b = feed_pair
    sequencer.setAnswer(1, sender=deployer)

    with reverts(price_oracle.SequencerDown):
        _quote(price_oracle, method, a.token, b.token, 10**18, LONG, sender=relayer)


@pytest.mark.parametrize("method", ["quote", "quoteCached"])
def test_quote__sequencer_back_up_within_the_grace_period__reverts_then_quotes_after_it(
    method, price_oracle, feed_pair, sequencer, chain, deployer, relayer
):
    a, b = feed_pair
    up_since = chain.pending_timestamp
    sequencer.setUpdatedAt(up_since, sender=deployer)  # status changed (back up) just now
    for priced in feed_pair:
        priced.feed.setUpdatedAt(up_since, sender=deployer)
    chain.pending_timestamp = up_since + GRACE

    with reverts(price_oracle.SequencerGracePeriodNotOver, upSince=up_since, gracePeriod=GRACE):
        _quote(price_oracle, method, a.token, b.token, 10**18, LONG, sender=relayer)

    chain.pending_timestamp = up_since + GRACE + 1
    receipt = _quote(price_oracle, method, a.token, b.token, 10**18, LONG, sender=relayer)
    assert receipt.return_value > 0


def test_quote__sequencer_feed_without_a_round__reverts_grace_period_not_over(
    price_oracle, feed_pair, sequencer, deployer
):
    a, b = feed_pair
    sequencer.setUpdatedAt(0, sender=deployer)
    with reverts(price_oracle.SequencerGracePeriodNotOver, upSince=0, gracePeriod=GRACE):
        price_oracle.quote(a.token, b.token, 10**18, LONG)


def test_quote__sequencer_check_switched_off__quotes_whatever_the_old_feed_says(
    price_oracle, feed_pair, sequencer, admin, deployer
):
    a, b = feed_pair
    for priced in feed_pair:
        priced.feed.setAnswer(priced.answer, sender=deployer)
    sequencer.setAnswer(1, sender=deployer)
    price_oracle.setSequencerUptimeFeed("0x" + "00" * 20, 0, sender=admin)

    assert price_oracle.quote(a.token, b.token, 10**18, LONG) > 0
