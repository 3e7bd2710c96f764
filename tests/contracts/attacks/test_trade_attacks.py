"""Trades that would drain a vault: scam tokens, rogue venues, dumped pools, bad oracles, liars.

Invariant 1 (docs/protocol.md §1.5): a mirrored trade returns at least the bound (leader's limit and
the owners' slippage under the oracle) to the same vault, measured on the vault's own balances.
"""

from __future__ import annotations

import pytest

from tests.conftest import HOUR, fund
from tests.contracts.attacks.helpers import USDC, WETH, Watch, blocked
from tests.utils.deploy import DEFAULT_POLICY

# The default vault sells 10 % of 10 WETH at $3,000: the oracle values it at 3,000 USDC and the
# owners' 1 % slippage bound asks for at least 2,970 USDC.
ORACLE_OUT = 3_000 * USDC
BOUND = 2_970 * USDC


@pytest.fixture
def trade_watch(watch):
    return lambda *intents, **more: watch.also(intents=intents, **more)


@pytest.fixture
def scam_token(project, deployer, list_token):
    """A fresh token with its own Uniswap pair and oracle feed, on no vault's allowlist."""
    token = deployer.deploy(project.TestToken, "Totally Legit", "SCAM", 18)
    list_token(token, price_usd=3_000)
    return token


@pytest.fixture
def lying_venue_per_test(
    project, deployer, vault_under_attack, factory, admin, signers, execute_config, usdc
):
    """A venue that keeps the input, allowed by the owners and the platform (both fooled)."""
    venue = deployer.deploy(project.LyingVenue)
    execute_config(
        vault_under_attack, signers, vault_under_attack.setVenueAllowed.encode_input(venue, True)
    )
    factory.setVenueAllowed(venue, True, sender=admin)
    usdc.mint(venue, 10_000 * USDC, sender=deployer)
    return venue


def test_mirror__scam_token_out_with_pair_and_feed__reverts_asset_not_allowed(
    vault_under_attack, scam_token, make_intent, sign_intent, trade_watch, relayer
):
    intent, sig = sign_intent(make_intent(token_out=scam_token.address))
    watch = trade_watch(intent, tokens=[scam_token])
    with blocked(vault_under_attack.AssetNotAllowed, watch, asset=scam_token):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__scam_token_in__reverts_asset_not_allowed(
    vault_under_attack, scam_token, weth, make_intent, sign_intent, trade_watch, relayer, deployer
):
    # Airdropped junk that a leader wants the vault to sell.
    scam_token.mint(vault_under_attack, 10 * WETH, sender=deployer)
    intent, sig = sign_intent(make_intent(token_in=scam_token.address, token_out=weth.address))
    watch = trade_watch(intent, tokens=[scam_token])
    with blocked(vault_under_attack.AssetNotAllowed, watch, asset=scam_token):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__same_token_in_and_out__reverts_identical_tokens(
    vault_under_attack, weth, make_intent, sign_intent, trade_watch, relayer
):
    intent, sig = sign_intent(make_intent(token_out=weth.address))
    with blocked(vault_under_attack.IdenticalTokens, trade_watch(intent), token=weth):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__unlisted_venue__reverts_venue_not_allowed(
    vault_under_attack, second_venue, make_intent, sign_intent, trade_watch, relayer
):
    intent, sig = sign_intent(make_intent(venue=second_venue.address))
    with blocked(vault_under_attack.VenueNotAllowed, trade_watch(intent), venue=second_venue):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__venue_allowed_by_vault_but_disallowed_globally__reverts_venue_not_allowed(
    vault_under_attack,
    second_venue,
    signers,
    execute_config,
    make_intent,
    sign_intent,
    trade_watch,
    relayer,
):
    execute_config(
        vault_under_attack,
        signers,
        vault_under_attack.setVenueAllowed.encode_input(second_venue, True),
    )
    assert vault_under_attack.isVenueAllowed(second_venue)

    intent, sig = sign_intent(make_intent(venue=second_venue.address))
    with blocked(vault_under_attack.VenueNotAllowed, trade_watch(intent), venue=second_venue):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__venue_globally_revoked_after_vault_allowed_it__reverts_venue_not_allowed(
    vault_under_attack, venue, factory, admin, make_intent, sign_intent, trade_watch, relayer
):
    # The platform's emergency brake on a compromised venue works for every vault at once.
    factory.setVenueAllowed(venue, False, sender=admin)
    intent, sig = sign_intent(make_intent())
    with blocked(vault_under_attack.VenueNotAllowed, trade_watch(intent), venue=venue):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__pool_dumped_far_below_oracle__reverts_insufficient_output(
    vault_under_attack,
    weth,
    usdc,
    weth_usdc_pair,
    venue,
    attacker,
    make_intent,
    sign_intent,
    trade_watch,
    relayer,
):
    # The attacker sells 1,000 WETH straight into the real pair: the pool price falls to a quarter.
    dump = 1_000 * WETH
    out = venue.quote(weth, usdc, dump)
    weth.mint(weth_usdc_pair, dump, sender=attacker)
    weth_is_token0 = weth_usdc_pair.token0() == weth.address
    weth_usdc_pair.swap(
        0 if weth_is_token0 else out, out if weth_is_token0 else 0, attacker, b"", sender=attacker
    )
    assert venue.quote(weth, usdc, WETH) < ORACLE_OUT // 3

    intent, sig = sign_intent(make_intent())
    watch = trade_watch(intent, holders=[weth_usdc_pair])
    with blocked(vault_under_attack.InsufficientOutput, watch, minimum=BOUND):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__leader_limit_above_market__reverts_insufficient_output(
    vault_under_attack, make_intent, sign_intent, trade_watch, relayer
):
    # minPrice 3,500 USDC per WETH (1e18-scaled raw units) is above both the pool and the oracle.
    intent, sig = sign_intent(make_intent(min_price=3_500 * USDC))
    with blocked(vault_under_attack.InsufficientOutput, trade_watch(intent), minimum=3_500 * USDC):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__stale_oracle_answer__reverts_stale_oracle_price(
    vault_under_attack, system, oracle, make_intent, sign_intent, trade_watch, relayer, chain
):
    feed = system.feeds["WETH"]
    feed.setUpdatedAt(chain.pending_timestamp - DEFAULT_POLICY[2] - 60, sender=relayer)
    intent, sig = sign_intent(make_intent())
    watch = trade_watch(intent)
    with blocked(oracle.StaleOraclePrice, watch, feed=feed, maxAge=DEFAULT_POLICY[2]):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__oracle_answer_from_the_future__reverts_stale_oracle_price(
    vault_under_attack, system, oracle, make_intent, sign_intent, trade_watch, relayer, chain
):
    feed = system.feeds["USDC"]
    feed.setUpdatedAt(chain.pending_timestamp + HOUR, sender=relayer)
    intent, sig = sign_intent(make_intent())
    with blocked(oracle.StaleOraclePrice, trade_watch(intent), feed=feed):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__zero_oracle_answer__reverts_invalid_oracle_price(
    vault_under_attack, system, oracle, make_intent, sign_intent, trade_watch, relayer
):
    feed = system.feeds["WETH"]
    feed.setAnswer(0, sender=relayer)
    intent, sig = sign_intent(make_intent())
    with blocked(oracle.InvalidOraclePrice, trade_watch(intent), feed=feed, answer=0):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__negative_oracle_answer__reverts_invalid_oracle_price(
    vault_under_attack, system, oracle, make_intent, sign_intent, trade_watch, relayer
):
    feed = system.feeds["USDC"]
    feed.setAnswer(-1, sender=relayer)
    intent, sig = sign_intent(make_intent())
    with blocked(oracle.InvalidOraclePrice, trade_watch(intent), feed=feed, answer=-1):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__fraction_above_policy__reverts_fraction_too_large(
    vault_under_attack, make_intent, sign_intent, trade_watch, relayer
):
    max_fraction = DEFAULT_POLICY[0]
    intent, sig = sign_intent(make_intent(fraction_bps=max_fraction + 1))
    with blocked(
        vault_under_attack.FractionTooLarge,
        trade_watch(intent),
        fractionBps=max_fraction + 1,
        maxFractionBps=max_fraction,
    ):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__second_trade_on_one_trade_per_day_policy__reverts_daily_trade_limit_reached(
    create_vault, weth, usdc, deployer, make_intent, sign_intent, relayer, chain
):
    vault = create_vault(policy=(*DEFAULT_POLICY[:3], 1, 0))
    fund(vault, weth, 10 * WETH, deployer)
    first, first_sig = sign_intent(make_intent())
    vault.mirror(first, first_sig, sender=relayer)
    assert vault.tradesToday() == 1

    second, sig = sign_intent(make_intent())
    day = chain.pending_timestamp // 86_400
    watch = Watch([vault], [weth, usdc], intents=[second])
    with blocked(vault.DailyTradeLimitReached, watch, day=day, maxTradesPerDay=1):
        vault.mirror(second, sig, sender=relayer)


def test_mirror__lying_venue_keeps_input_and_pays_less_than_bound__reverts_insufficient_output(
    vault_under_attack, lying_venue_per_test, make_intent, sign_intent, trade_watch, relayer
):
    lying_venue_per_test.configure(1_000 * USDC, 1_000 * USDC, sender=relayer)
    intent, sig = sign_intent(make_intent(venue=lying_venue_per_test.address))
    watch = trade_watch(intent, holders=[lying_venue_per_test])
    with blocked(
        vault_under_attack.InsufficientOutput, watch, received=1_000 * USDC, minimum=BOUND
    ):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__lying_venue_pays_nothing_but_claims_a_fortune__reverts_insufficient_output(
    vault_under_attack, lying_venue_per_test, make_intent, sign_intent, trade_watch, relayer
):
    lying_venue_per_test.configure(0, 10**30, sender=relayer)
    assert lying_venue_per_test.quote(lying_venue_per_test, lying_venue_per_test, 1) == 10**30
    intent, sig = sign_intent(make_intent(venue=lying_venue_per_test.address))
    watch = trade_watch(intent, holders=[lying_venue_per_test])
    with blocked(vault_under_attack.InsufficientOutput, watch, received=0, minimum=BOUND):
        vault_under_attack.mirror(intent, sig, sender=relayer)


def test_mirror__lying_venue_paying_the_bound__is_the_worst_a_bad_venue_can_do(
    vault_under_attack, lying_venue_per_test, weth, usdc, make_intent, sign_intent, relayer
):
    # Control: the bound is the floor, not a formality. A venue paying exactly the bound gets
    # through, and the vault ends with at least 99 % of the oracle value of what it sold.
    lying_venue_per_test.configure(BOUND, 10**30, sender=relayer)
    intent, sig = sign_intent(make_intent(venue=lying_venue_per_test.address))
    weth_before, usdc_before = (
        weth.balanceOf(vault_under_attack),
        usdc.balanceOf(vault_under_attack),
    )
    receipt = vault_under_attack.mirror(intent, sig, sender=relayer)
    event = receipt.decode_logs(vault_under_attack.Mirrored)[0]
    assert (event.amountIn, event.amountOut, event.oracleOut) == (WETH, BOUND, ORACLE_OUT)
    assert weth.balanceOf(vault_under_attack) == weth_before - WETH
    assert usdc.balanceOf(vault_under_attack) == usdc_before + BOUND
