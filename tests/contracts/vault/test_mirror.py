"""CopyVault.mirror: a leader's signed intent traded inside the owners' limits
(docs/protocol.md §1.3)."""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .helpers import calldata, min_out, oracle_quote, uniswap_out


def test_mirror__valid_intent__sells_fraction_and_receives_at_least_bound(
    funded_vault, weth, usdc, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))
    weth_before, usdc_before = weth.balanceOf(funded_vault), usdc.balanceOf(funded_vault)

    receipt = funded_vault.mirror(intent, sig, sender=relayer)

    event = receipt.decode_logs(funded_vault.Mirrored)[0]
    assert event.amountIn == weth_before // 10
    assert weth.balanceOf(funded_vault) == weth_before - event.amountIn
    assert usdc.balanceOf(funded_vault) == usdc_before + event.amountOut
    # 1 WETH into a 1,000 WETH pool at $3,000: 0.3 % fee and ~0.1 % impact, inside the 1 % bound.
    assert event.oracleOut == 3_000 * 10**6
    assert event.oracleOut * 99 // 100 <= event.amountOut < event.oracleOut
    assert funded_vault.isIntentExecuted(intent[0], intent[6])


def test_mirror__same_intent_twice__reverts_already_executed(
    funded_vault, leader, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(nonce=300))
    funded_vault.mirror(intent, sig, sender=relayer)
    with reverts(funded_vault.IntentAlreadyExecuted, leader=leader.address, nonce=300):
        funded_vault.mirror(intent, sig, sender=relayer)


# ----------------------------------------------------------------------------- exact values


@pytest.mark.parametrize(
    ("dec_in", "dec_out", "oracle_out"),
    [(6, 18, 89_285_714_285_714_285_714), (18, 6, 700_000_000)],
    ids=["6-to-18", "18-to-6"],
)
def test_mirror__decimals_pair__trades_exact_fraction_at_oracle_and_pool_values(
    asset_vault,
    assets,
    deposit,
    make_intent,
    sign_intent,
    registry,
    reserves,
    relayer,
    dec_in,
    dec_out,
    oracle_out,
):
    a_in, a_out = assets[dec_in], assets[dec_out]
    deposit(asset_vault, a_in.token, a_in.units(1_000))
    reserve_in, reserve_out = reserves(a_in.token, a_out.token)
    intent, sig = sign_intent(
        make_intent(token_in=a_in.token.address, token_out=a_out.token.address, fraction_bps=2_500)
    )

    receipt = asset_vault.mirror(intent, sig, sender=relayer)

    amount_in = a_in.units(250)  # 25 % of 1,000, $375 at $1.50 or $1,050 at $4.20
    assert oracle_quote(amount_in, a_in, a_out) == oracle_out  # the helper, anchored by hand
    amount_out = uniswap_out(amount_in, reserve_in, reserve_out)
    assert amount_out >= min_out(oracle_out, amount_in, 0, 100)  # inside the 1 % bound
    [event] = receipt.decode_logs(asset_vault.Mirrored)
    assert dict(event.event_arguments) == {
        "leader": intent[0],
        "nonce": intent[6],
        "digest": registry.intentDigest(intent),
        "venue": intent[1],
        "tokenIn": a_in.token.address,
        "tokenOut": a_out.token.address,
        "amountIn": amount_in,
        "amountOut": amount_out,
        "oracleOut": oracle_out,
    }
    assert a_in.token.balanceOf(asset_vault) == a_in.units(750)
    assert a_out.token.balanceOf(asset_vault) == amount_out
    assert asset_vault.tradesToday() == 1


def test_mirror__after_trade__no_allowance_or_tokens_left_with_venue_or_pair(
    funded_vault, weth, usdc, venue, pair_of, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent())
    funded_vault.mirror(intent, sig, sender=relayer)

    pair = pair_of(weth, usdc)
    for token in (weth, usdc):
        assert token.allowance(funded_vault, venue) == 0
        assert token.allowance(funded_vault, pair) == 0
        assert token.balanceOf(venue) == 0


# --------------------------------------------------------------- docs/protocol.md §1.3 checks


def test_mirror__intent_of_another_leader__reverts_not_following_leader(
    funded_vault, other_leader, leader, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(leader=other_leader.address), signer=other_leader)

    with reverts(
        funded_vault.NotFollowingLeader,
        intentLeader=other_leader.address,
        vaultLeader=leader.address,
    ):
        funded_vault.mirror(intent, sig, sender=relayer)


def test_mirror__vault_paused__reverts_vault_paused(
    funded_vault, follower, make_intent, sign_intent, relayer
):
    funded_vault.pause(sender=follower)
    intent, sig = sign_intent(make_intent())

    with reverts(funded_vault.VaultPaused):
        funded_vault.mirror(intent, sig, sender=relayer)


def test_mirror__copying_stopped__reverts_copying_stopped(
    funded_vault, follower, make_intent, sign_intent, relayer
):
    funded_vault.stopCopying(sender=follower)
    intent, sig = sign_intent(make_intent())

    with reverts(funded_vault.CopyingStoppedError):
        funded_vault.mirror(intent, sig, sender=relayer)


@pytest.mark.parametrize("side", ["tokenIn", "tokenOut"])
def test_mirror__token_removed_from_allowlist__reverts_asset_not_allowed(
    funded_vault, owners, weth, usdc, execute_config, make_intent, sign_intent, relayer, side
):
    token = weth if side == "tokenIn" else usdc
    execute_config(
        funded_vault, owners[:2], calldata(funded_vault, "setAssetAllowed", token.address, False)
    )
    intent, sig = sign_intent(make_intent())

    with reverts(funded_vault.AssetNotAllowed, asset=token.address):
        funded_vault.mirror(intent, sig, sender=relayer)


@pytest.mark.parametrize("revoked", ["tokenIn", "tokenOut", "venue"])
def test_mirror__allowlist_change_after_a_trade_on_the_route__next_trade_checks_the_lists_again(
    funded_vault,
    owners,
    weth,
    usdc,
    venue,
    execute_config,
    make_intent,
    sign_intent,
    relayer,
    revoked,
):
    """A trade remembers its route (both tokens, either direction, and the venue) so that the next
    trade on it reads one slot instead of three allowlist slots; any allowlist change forgets it."""
    intent, sig = sign_intent(make_intent())
    funded_vault.mirror(intent, sig, sender=relayer)  # the route is now cached
    # The way back on the same route passes on the cache.
    back, back_sig = sign_intent(make_intent(token_in=usdc.address, token_out=weth.address))
    funded_vault.mirror(back, back_sig, sender=relayer)
    target = {"tokenIn": weth, "tokenOut": usdc, "venue": venue}[revoked].address
    change = "setVenueAllowed" if revoked == "venue" else "setAssetAllowed"
    execute_config(funded_vault, owners[:2], calldata(funded_vault, change, target, False))
    intent, sig = sign_intent(make_intent())

    if revoked == "venue":
        expected = reverts(funded_vault.VenueNotAllowed, venue=target)
    else:
        expected = reverts(funded_vault.AssetNotAllowed, asset=target)
    with expected:
        funded_vault.mirror(intent, sig, sender=relayer)


@pytest.mark.parametrize("allowlist", ["vault", "platform"])
def test_mirror__venue_off_an_allowlist__reverts_venue_not_allowed(
    funded_vault,
    owners,
    venue,
    factory,
    admin,
    execute_config,
    make_intent,
    sign_intent,
    relayer,
    allowlist,
):
    if allowlist == "vault":
        execute_config(
            funded_vault,
            owners[:2],
            calldata(funded_vault, "setVenueAllowed", venue.address, False),
        )
    else:
        factory.setVenueAllowed(venue, False, sender=admin)
    intent, sig = sign_intent(make_intent())

    with reverts(funded_vault.VenueNotAllowed, venue=venue.address):
        funded_vault.mirror(intent, sig, sender=relayer)


def test_mirror__fraction_above_policy__reverts_fraction_too_large(
    funded_vault, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(fraction_bps=5_001))

    with reverts(funded_vault.FractionTooLarge, fractionBps=5_001, maxFractionBps=5_000):
        funded_vault.mirror(intent, sig, sender=relayer)


def test_mirror__fraction_at_policy_maximum__trades(
    funded_vault, weth, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(fraction_bps=5_000))

    funded_vault.mirror(intent, sig, sender=relayer)

    assert weth.balanceOf(funded_vault) == 5 * 10**18


def test_mirror__daily_cap_reached__reverts_then_resets_next_utc_day(
    create_vault, weth, deposit, next_day, make_intent, sign_intent, relayer
):
    vault = create_vault(policy=(5_000, 100, 3_600, 2, 0))
    deposit(vault, weth, 10 * 10**18)
    day = next_day()
    for nonce in (0, 1):
        vault.mirror(*sign_intent(make_intent(nonce=nonce)), sender=relayer)
    assert vault.tradesToday() == 2

    with reverts(vault.DailyTradeLimitReached, day=day, maxTradesPerDay=2):
        vault.mirror(*sign_intent(make_intent(nonce=2)), sender=relayer)

    next_day(offset=0)  # the first second of the next UTC day
    assert vault.tradesToday() == 0
    vault.mirror(*sign_intent(make_intent(nonce=2)), sender=relayer)
    assert vault.tradesToday() == 1


def test_mirror__fraction_of_balance_rounds_to_zero__reverts_nothing_to_trade(
    create_vault, weth, deposit, make_intent, sign_intent, relayer
):
    vault = create_vault()
    deposit(vault, weth, 9)  # 10 % of 9 wei rounds down to 0

    with reverts(vault.NothingToTrade, tokenIn=weth.address):
        vault.mirror(*sign_intent(make_intent(fraction_bps=1_000)), sender=relayer)


def test_mirror__leader_limit_above_market__reverts_insufficient_output(
    funded_vault, weth, usdc, reserves, make_intent, sign_intent, relayer
):
    received = uniswap_out(10**18, *reserves(weth, usdc))
    min_price = 3_001 * 10**6  # USDC units per 1e18 WETH units: $3,001, above the pool's price
    intent, sig = sign_intent(make_intent(min_price=min_price))

    with reverts(funded_vault.InsufficientOutput, received=received, minimum=3_001 * 10**6):
        funded_vault.mirror(intent, sig, sender=relayer)

    assert weth.balanceOf(funded_vault) == 10 * 10**18


def test_mirror__pool_price_moved_beyond_slippage_from_oracle__reverts_insufficient_output(
    funded_vault, weth, usdc, reserves, move_pool, make_intent, sign_intent, relayer
):
    move_pool(weth, usdc, 50 * 10**18)  # ~10 % down in the pool; the oracle still says $3,000
    received = uniswap_out(10**18, *reserves(weth, usdc))
    intent, sig = sign_intent(make_intent())  # no leader limit: only the oracle bound applies

    with reverts(funded_vault.InsufficientOutput, received=received, minimum=2_970 * 10**6):
        funded_vault.mirror(intent, sig, sender=relayer)


def test_mirror__pool_price_moved_inside_slippage__trades(
    funded_vault, weth, usdc, reserves, move_pool, make_intent, sign_intent, relayer
):
    unmoved = uniswap_out(10**18, *reserves(weth, usdc))
    move_pool(weth, usdc, 2 * 10**18)  # ~0.4 % down: with the fee, still inside the 1 % bound
    received = uniswap_out(10**18, *reserves(weth, usdc))
    assert 2_970 * 10**6 <= received < unmoved

    funded_vault.mirror(*sign_intent(make_intent()), sender=relayer)

    assert usdc.balanceOf(funded_vault) == 30_000 * 10**6 + received


def test_mirror__same_token_in_and_out__reverts_identical_tokens(
    funded_vault, weth, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(token_out=weth.address))

    with reverts(funded_vault.IdenticalTokens, token=weth.address):
        funded_vault.mirror(intent, sig, sender=relayer)


def test_mirror__oracle_answer_older_than_policy_allows__reverts_stale_oracle_price(
    funded_vault, oracle, chain, make_intent, sign_intent, relayer
):
    chain.pending_timestamp += 3_601  # maxOracleAge is 3,600 s; the feeds were not updated
    intent, sig = sign_intent(make_intent())

    with reverts(oracle.StaleOraclePrice, maxAge=3_600):
        funded_vault.mirror(intent, sig, sender=relayer)
