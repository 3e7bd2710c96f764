"""CopyRouter.mirrorAggregated against hostile venues, tokens and oracles: a venue that pays less
than it quoted, tokens that call back during transfers, a fee-on-transfer output that breaks a bound
after the quote, and a vault's own oracle with side effects. Each vault checks its own balances when
it settles, and every pending vault refuses other business, so these attacks end in a reverted
call or in skips: nothing moves."""

from __future__ import annotations

import pytest

from tests.contracts.router.aggregated_helpers import (
    Snapshot,
    assert_reverts,
    assert_router_clean,
    batch_counts,
    call_or_revert,
    deploy_runtime,
    expected_shares,
    pull_preview,
    skips,
)
from tests.utils.deploy import FEED_DECIMALS
from tests.utils.reverts import selector

WETH = 10**18
USDC_PER_WETH = 3_000 * 10**6
LOOSE = (5_000, 500, 3_600, 10, 0)  # accepts 5 % under the oracle


def _dollar_token(project, system, deployer, admin, contract, *args):
    """Deploy a test token (18 decimals) and give it a $1 oracle feed."""
    token = deployer.deploy(contract, *args)
    feed = deployer.deploy(project.MockAggregator, FEED_DECIMALS, 10**FEED_DECIMALS)
    system.oracle.setFeed(token, feed, sender=admin)
    return token


@pytest.fixture(scope="module")
def lying_venue(project, factory, admin, deployer):
    venue = deployer.deploy(project.LyingVenue)
    factory.setVenueAllowed(
        venue, True, sender=admin
    )  # allowed globally, as a careless admin might
    return venue


@pytest.fixture(scope="module")
def rtoken(project, system, deployer, admin):
    """A $1 token that calls a chosen contract during every transfer, with a USDC pair at $1."""
    token = _dollar_token(project, system, deployer, admin, project.ReentrantToken)
    system.uniswap.add_liquidity(token, system.usdc, 3_000_000 * WETH, 3_000_000 * 10**6, deployer)
    return token


@pytest.fixture(scope="module")
def fot(project, system, deployer, admin):
    """A $1 token that burns 1 % of every transfer, with a WETH pair at the oracle price."""
    token = _dollar_token(project, system, deployer, admin, project.FeeOnTransferToken, 100)
    system.uniswap.add_liquidity(system.weth, token, 1_000 * WETH, 3_000_000 * WETH, deployer)
    return token


@pytest.fixture(scope="module")
def followers(create_vault, system, router, lying_venue, rtoken, fot, attacker, deployer):
    """Two vaults allowing every token and venue here, holding WETH and the reentrant token (minted
    straight to them: a vault trades its balance, however it arrived). (`attacker` is requested
    here so that the session fixture is not first set up inside a test's snapshot.)"""
    assets = [system.weth.address, system.usdc.address, rtoken.address, fot.address]
    venues = [system.venue.address, lying_venue.address]
    vaults = [create_vault(assets=assets, venues=venues) for _ in range(2)]
    # The session's WETH and USDC feeds were posted when the session began; earlier modules' time
    # travel can leave them older than the vaults' maxOracleAge, and a stale feed would make every
    # pull here skip (so no hook could fire). Re-post them now, for this module's tests.
    for feed in system.feeds.values():
        feed.setAnswer(feed.answer(), sender=deployer)
    for vault, amount in zip(vaults, (2 * WETH + 1, 6 * WETH + 5), strict=True):
        system.weth.mint(vault, amount, sender=deployer)
        rtoken.mint(vault, 1_000 * amount, sender=deployer)
    return vaults


def _balances(tokens, vaults):
    return {(str(t.address), str(v.address)): t.balanceOf(v) for t in tokens for v in vaults}


# ----------------------------------------------------------------------- a lying venue


@pytest.mark.parametrize("payout_bps", [0, 9_000])  # pays nothing; pays 90 % of the oracle value
def test_mirror_aggregated__venue_pays_less_than_it_quoted__reverts_insufficient_output(
    payout_bps, followers, lying_venue, system, router, make_intent, sign_intent, relayer, deployer
):
    intent, sig = sign_intent(make_intent(venue=lying_venue.address, fraction_bps=1_000))
    quotes = [pull_preview(v, intent, sig, router) for v in followers]
    oracle_value = sum(q[0] for q in quotes) * USDC_PER_WETH // WETH
    payout = oracle_value * payout_bps // 10_000
    system.usdc.mint(lying_venue, payout + 1, sender=deployer)
    lying_venue.configure(payout, 10 * oracle_value, sender=deployer)  # quotes 10x the value

    # The first vault to settle finds less than its bound on its own balance: the call reverts.
    share = expected_shares([q[0] for q in quotes], payout)[0]
    assert_reverts(
        followers[0].InsufficientOutput, router.mirrorAggregated, intent, sig, followers,
        sender=relayer, received=share, minimum=quotes[0][1],
    )  # fmt: skip


# ----------------------------------------------------------------------- tokens that call back


def test_mirror_aggregated__input_token_reenters_the_router__all_skipped_nothing_moves(
    followers, rtoken, system, router, make_intent, sign_intent, relayer
):
    usdc = system.usdc
    intent, sig = sign_intent(make_intent(token_in=rtoken.address, fraction_bps=1_000))
    # Each vault's transfer to the router (its pull) calls the router again, which refuses; the pull
    # reverts with that error and the router skips the vault.
    rtoken.arm(router, router.mirrorAggregated.encode_input(intent, sig, followers), sender=relayer)
    before = _balances([rtoken, usdc], followers)

    receipt = router.mirrorAggregated(intent, sig, followers, sender=relayer)

    reason = selector(router.ReentrancyGuardReentrantCall)
    assert skips(receipt, router) == [(v.address, reason) for v in followers]
    assert batch_counts(receipt, router) == (0, 2)
    assert _balances([rtoken, usdc], followers) == before
    assert not any(v.isIntentExecuted(intent[0], intent[6]) for v in followers)
    assert_router_clean(router, [rtoken, usdc], [system.venue])


def test_mirror_aggregated__input_token_hook_swaps_at_each_pull__every_vault_skipped_nothing_moves(
    followers, rtoken, system, router, make_intent, sign_intent, attacker, relayer
):
    """Each vault pulls its input into the router, not to the pair: a token hook that swaps
    whatever input sits at the pair out to the attacker finds nothing there during a pull, and the
    venue's refusal makes that vault's pull revert. Every vault is skipped; nothing moves."""
    venue, usdc = system.venue, system.usdc
    intent, sig = sign_intent(make_intent(token_in=rtoken.address, fraction_bps=1_000))
    rtoken.arm(venue, venue.swap.encode_input(rtoken, usdc, 0, attacker), sender=relayer)
    holders = [*followers, attacker]
    before = _balances([rtoken, usdc], holders)

    receipt = router.mirrorAggregated(intent, sig, followers, sender=relayer)

    assert skips(receipt, router) == [(v.address, selector(venue.NoInput)) for v in followers]
    assert batch_counts(receipt, router) == (0, 2)
    assert receipt.decode_logs(router.AggregatedSwap) == []
    assert _balances([rtoken, usdc], holders) == before
    assert not any(v.isIntentExecuted(intent[0], intent[6]) for v in followers)
    assert [v.tradesToday() for v in followers] == [0, 0]
    assert_router_clean(router, [rtoken, usdc], [system.venue])


def test_mirror_aggregated__input_token_hook_swaps_pooled_input_for_attacker__call_reverts(
    followers, rtoken, system, router, make_intent, sign_intent, attacker, relayer
):
    """Aggregated mode pools the batch's input in the router and sends it to the pair in one
    transfer just before its one swap. A token hook that swaps the input at the pair out to the
    attacker fires on that transfer and leaves the router's swap nothing to trade: the call reverts,
    and with it the attacker's swaps. (The attacker first leaves some input at the pair, so that the
    hook also succeeds on the first vault's pull and that vault is not skipped.)"""
    venue, usdc = system.venue, system.usdc
    intent, sig = sign_intent(make_intent(token_in=rtoken.address, fraction_bps=1_000))
    rtoken.mint(attacker, WETH, sender=attacker)
    rtoken.transfer(venue.pairFor(rtoken, usdc), WETH, sender=attacker)  # before arming the hook
    rtoken.arm(venue, venue.swap.encode_input(rtoken, usdc, 0, attacker), sender=relayer)

    # Pull failures are caught and skipped, so a whole-call NoInput comes from the router's swap.
    assert_reverts(venue.NoInput, router.mirrorAggregated, intent, sig, followers, sender=relayer)

    # Without the hook the same batch goes through: the revert above is the hook's doing.
    rtoken.disarm(sender=relayer)
    receipt = router.mirrorAggregated(intent, sig, followers, sender=relayer)
    assert batch_counts(receipt, router) == (2, 0)
    assert_router_clean(router, [rtoken, usdc], [system.venue])


def _callback(reentry, router, vault, intent, sig, other, other_sig, batch, weth):
    """(target, calldata, expected error) of the callback the output token makes."""
    return {
        "router.mirrorBatch": (
            router, router.mirrorBatch.encode_input(intent, sig, batch),
            router.ReentrancyGuardReentrantCall,
        ),
        "router.mirrorAggregated": (
            router, router.mirrorAggregated.encode_input(intent, sig, batch),
            router.ReentrancyGuardReentrantCall,
        ),
        "pending_vault.deposit": (vault, vault.deposit.encode_input(weth, 1), vault.TradePending),
        "pending_vault.mirror": (
            vault, vault.mirror.encode_input(other, other_sig), vault.TradePending,
        ),
    }[reentry]  # fmt: skip


@pytest.mark.parametrize(
    "reentry",
    [
        "router.mirrorBatch",
        "router.mirrorAggregated",
        "pending_vault.deposit",
        "pending_vault.mirror",
    ],
)
def test_mirror_aggregated__output_token_calls_back_during_the_swap__whole_call_reverts(
    reentry, followers, rtoken, lying_venue, system, router, make_intent, sign_intent, relayer,
    deployer,
):  # fmt: skip
    """While the batch's tokenOut is paid out every vault is pending: a callback into the router,
    or into a pending vault to deposit or mirror, is refused, and the refusal reverts the call."""
    weth = system.weth
    intent, sig = sign_intent(make_intent(token_out=rtoken.address, venue=lying_venue.address))
    other, other_sig = sign_intent(make_intent(token_out=rtoken.address))
    honest = sum(pull_preview(v, intent, sig, router)[0] for v in followers) * 3_000  # oracle price
    rtoken.mint(lying_venue, honest, sender=deployer)
    lying_venue.configure(honest, honest, sender=deployer)
    target, payload, error = _callback(
        reentry, router, followers[0], intent, sig, other, other_sig, followers, weth
    )
    rtoken.arm(target, payload, sender=relayer)

    assert_reverts(error, router.mirrorAggregated, intent, sig, followers, sender=relayer)

    # Control: the same batch with the callback disarmed goes through.
    rtoken.disarm(sender=relayer)
    snap = Snapshot.take(weth, rtoken, followers)
    receipt = router.mirrorAggregated(intent, sig, followers, sender=relayer)
    assert batch_counts(receipt, router) == (2, 0)
    assert sum(t[1] for t in snap.deltas()) == honest
    assert_router_clean(router, [weth, rtoken], [lying_venue])


# ------------------------------------------------------------------ realised price below a bound


def test_mirror_aggregated__fee_on_transfer_output_breaks_a_bound_after_quote__call_reverts(
    create_vault, fot, system, router, make_intent, sign_intent, relayer, deployer
):
    weth = system.weth
    assets = [weth.address, fot.address]
    loose = create_vault(assets=assets, policy=LOOSE)  # 5 % under the oracle
    tight = create_vault(assets=assets)  # 1 %
    for vault in (loose, tight):
        weth.mint(vault, 5 * WETH, sender=deployer)
    intent, sig = sign_intent(make_intent(token_out=fot.address, fraction_bps=1_000))
    loose_min_out = pull_preview(loose, intent, sig, router)[1]
    tight_min_out = pull_preview(tight, intent, sig, router)[1]
    # The venue's quote for the batch (2 x 0.5 WETH) knows nothing of the fee: both bounds hold.
    assert system.venue.quote(weth, fot, WETH) // 2 >= tight_min_out

    # Two transfers (pair to router, router to vault) burn 2 %: the tight vault's bound breaks.
    decoded = assert_reverts(
        tight.InsufficientOutput, router.mirrorAggregated, intent, sig, [loose, tight],
        sender=relayer, minimum=tight_min_out,
    )  # fmt: skip
    assert decoded["received"] < tight_min_out

    # Control: the loose vault alone goes through, at a fee-reduced price inside its 5 % bound.
    snap = Snapshot.take(weth, fot, [loose])
    receipt = router.mirrorAggregated(intent, sig, [loose], sender=relayer)
    assert batch_counts(receipt, router) == (1, 0)
    ((sold, received),) = snap.deltas()
    assert loose_min_out <= received < sold * 3_000 * 98 // 100
    assert_router_clean(router, [weth, fot], [system.venue])


# ------------------------------------------------------------ an owners' oracle with side effects


def _oracle_paying_one_wei(token, victim) -> bytes:
    """Code that answers any call with uint256(1) after paying 1 wei of `token` (which it holds)
    to `victim`: an "oracle" a vault's owners may set, since the vault accepts any address."""
    return bytes.fromhex(
        "63a9059cbb60e01b600052"  # mem[0:4] = transfer(address,uint256)
        f"73{str(victim)[2:]}600452"  # mem[4:36] = victim
        "6001602452"  # mem[36:68] = 1
        f"6000600060446000600073{str(token)[2:]}5af150"  # call(gas, token, 0, mem[0:68]); pop
        "600160005260206000f3"  # return uint256(1)
    )


def test_mirror_aggregated__a_vaults_oracle_pays_an_earlier_vault_mid_batch__others_still_mirrored(
    followers, create_vault, system, router, owners, execute_config, make_intent, sign_intent,
    relayer, deployer,
):  # fmt: skip
    """A vault once asked its owners' oracle through quoteCached, a CALL that may write, where the
    view `quote` it replaced was a STATICCALL (reported, since fixed: only the platform oracle is
    called statefully, any other as a view). This oracle pays 1 wei of tokenIn to the vault pulled
    just before: under a CALL that vault's tokenIn fell by 1 wei less than its amountIn and the
    batch could revert. One follower's choice of oracle must not stop the others' trades: they are
    mirrored whatever becomes of the odd vault."""
    weth = system.weth
    victim, other = followers
    odd = create_vault(assets=[weth.address, system.usdc.address])
    weth.mint(odd, 3 * WETH, sender=deployer)
    oracle = deploy_runtime(router, deployer, _oracle_paying_one_wei(weth.address, victim.address))
    weth.mint(oracle, 10, sender=deployer)
    execute_config(odd, owners[:2], odd.setOracle.encode_input(oracle))
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))
    batch = [victim, odd, other]

    ok, result = call_or_revert(
        router.mirrorAggregated, intent, sig, batch, sender=relayer, output_types=["uint256"] * 3
    )

    assert ok, (
        f"the batch reverts: 0x{bytes(result).hex()} "
        f"(the victim's InputMismatch is 0x{selector(victim.InputMismatch).hex()})"
    )
    receipt = router.mirrorAggregated(intent, sig, batch, sender=relayer)
    mirrored = {e.contract_address for e in receipt.decode_logs(victim.Mirrored)}
    assert {victim.address, other.address} <= mirrored
    assert_router_clean(router, [weth, system.usdc], [system.venue])
