"""Supported token classes (docs/tokens.md), each as the intent's input in both router modes:
standard, fee-on-transfer, share-based (stETH-like, a wei or two short per transfer), blocklisting
and pausable (USDC/USDT-like issuer powers) and hook-bearing. Audit finding 3: share-based inputs
reverted InputMismatch (sequential mode) and the whole batch (aggregated mode), because the vault
required its input to fall by exactly `amountIn` and a refund to be exact; a tolerance of
INPUT_TOLERANCE (2) wei on the input side only now supports them, and a fee-on-transfer input is
refused clearly in the aggregated mode (`UnsupportedInputToken`)."""

from __future__ import annotations

import pytest

from tests.contracts.router.aggregated_helpers import (
    assert_reverts,
    assert_router_clean,
    batch_counts,
    skips,
)
from tests.utils.deploy import FEED_DECIMALS
from tests.utils.reverts import selector

UNIT = 10**18
MODES = ["mirrorBatch", "mirrorAggregated"]
LOOSE = (5_000, 500, 3_600, 10, 0)  # 5 % under the oracle: room for a 1 % transfer fee
NO_SLIPPAGE = (5_000, 0, 3_600, 10, 0)  # a bound at the oracle value: above any pool quote
FRACTION_BPS = 2_500  # the audit's 25 % mirror
HOLDINGS = (1_000 * UNIT + 7, 3_000 * UNIT + 13)


@pytest.fixture(scope="module")
def tokens(project, system, oracle, admin, deployer):
    """One token per class, each with a $1 feed and a USDC pair at $1. The share token's pool
    holds 1.1 units per share before anyone else holds it, as stETH after its rebases."""
    shares = deployer.deploy(project.SharesToken)
    shares.mint(deployer, UNIT, sender=deployer)
    shares.rebase(11 * UNIT // 10, sender=deployer)
    made = {
        "standard": deployer.deploy(project.TestToken, "Standard", "STD", 18),
        "fee_on_transfer": deployer.deploy(project.FeeOnTransferToken, 100),
        "share_based": shares,
        "restricted": deployer.deploy(project.RestrictedToken),
        "hook": deployer.deploy(project.ReentrantToken),
    }
    for token in made.values():
        feed = deployer.deploy(project.MockAggregator, FEED_DECIMALS, 10**FEED_DECIMALS)
        oracle.setFeed(token, feed, sender=admin)
        system.uniswap.add_liquidity(
            token, system.usdc, 3_000_000 * UNIT, 3_000_000 * 10**6, deployer
        )
    return made


@pytest.fixture(scope="module")
def pair_of_vaults(tokens, create_vault, system, deployer, relayer, attacker):
    """Two vaults (5 % slippage) allowing every token here, each holding some of each. (Session
    fixtures used by the tests are requested here first, outside any test's snapshot.)"""
    assets = [system.usdc.address, *(t.address for t in tokens.values())]
    vaults = [create_vault(policy=LOOSE, assets=assets) for _ in HOLDINGS]
    for feed in system.feeds.values():  # earlier modules' time travel may have aged them
        feed.setAnswer(feed.answer(), sender=deployer)
    for vault, amount in zip(vaults, HOLDINGS, strict=True):
        for token in tokens.values():
            token.mint(vault, amount, sender=deployer)
    return vaults


def _run(router, mode, intent, sig, vaults, relayer):
    return getattr(router, mode)(intent, sig, vaults, sender=relayer)


def _assert_every_vault_skipped_nothing_moved(
    token, error, router, mode, intent, sig, vaults, relayer
):
    """The batch skips every vault with `error`'s selector and no vault's token balance moves."""
    held = [token.balanceOf(v) for v in vaults]
    receipt = _run(router, mode, intent, sig, vaults, relayer)
    assert skips(receipt, router) == [(v.address, selector(error)) for v in vaults]
    assert batch_counts(receipt, router) == (0, len(vaults))
    assert [token.balanceOf(v) for v in vaults] == held


def _mirrored(receipt, vault) -> list:
    return list(receipt.decode_logs(vault.Mirrored))


@pytest.mark.parametrize("mode", MODES)
def test_token_class__standard__every_vault_mirrored(
    mode, tokens, pair_of_vaults, router, make_intent, sign_intent, relayer
):
    token = tokens["standard"]
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=FRACTION_BPS))
    before = [token.balanceOf(v) for v in pair_of_vaults]

    receipt = _run(router, mode, intent, sig, pair_of_vaults, relayer)

    assert batch_counts(receipt, router) == (2, 0)
    assert [token.balanceOf(v) for v in pair_of_vaults] == [
        b - b * FRACTION_BPS // 10_000 for b in before
    ]


@pytest.mark.parametrize("mode", MODES)
def test_token_class__share_based_input_short_by_a_wei_or_two__every_vault_mirrored(
    mode, tokens, pair_of_vaults, router, system, make_intent, sign_intent, relayer
):
    """Each vault's share-token balance falls by its amountIn or a wei or two less (the token
    rounds shares down); before the fix the vault refused that (InputMismatch: skipped in the
    sequential mode, the whole aggregated batch reverted)."""
    token = tokens["share_based"]
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=FRACTION_BPS))
    before = [token.balanceOf(v) for v in pair_of_vaults]

    receipt = _run(router, mode, intent, sig, pair_of_vaults, relayer)

    assert skips(receipt, router) == []
    assert batch_counts(receipt, router) == (2, 0)
    amounts = {str(e.contract_address): e.amountIn for e in _mirrored(receipt, pair_of_vaults[0])}
    spent = [b - token.balanceOf(v) for b, v in zip(before, pair_of_vaults, strict=True)]
    expected = [amounts[str(v.address)] for v in pair_of_vaults]
    assert all(e - 2 <= s <= e for s, e in zip(spent, expected, strict=True))
    assert spent != expected  # the rounding did happen: the class is exercised
    # The router's own transfer of a share token may leave a wei of rounding behind (documented in
    # docs/tokens.md: it stays out of later batches, which measure what arrives); nothing else.
    assert token.balanceOf(router) <= 2
    assert_router_clean(router, [system.usdc], [])


def test_mirror_aggregated__share_based_input_vault_left_out__refund_a_wei_short_accepted(
    tokens,
    pair_of_vaults,
    create_vault,
    router,
    system,
    make_intent,
    sign_intent,
    relayer,
    deployer,
):
    """cancelAggregated required an exact refund; the share token's refund can come back a wei or
    two short, which reverted the whole batch. Now the left-out vault is restored to within the
    tolerance and the others trade."""
    token = tokens["share_based"]
    assets = [system.usdc.address, token.address]
    tight = create_vault(policy=NO_SLIPPAGE, assets=assets)
    token.mint(tight, 2_000 * UNIT + 11, sender=deployer)
    before = token.balanceOf(tight)
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=FRACTION_BPS))

    receipt = router.mirrorAggregated(intent, sig, [*pair_of_vaults, tight], sender=relayer)

    assert skips(receipt, router) == [(tight.address, selector(router.BoundAboveQuote))]
    assert batch_counts(receipt, router) == (2, 1)
    assert before - 2 <= token.balanceOf(tight) <= before
    assert not tight.isIntentExecuted(intent[0], intent[6])


@pytest.mark.parametrize("mode", MODES)
def test_token_class__fee_on_transfer_input__batch_mirrors_aggregated_refused_clearly(
    mode, tokens, pair_of_vaults, router, system, make_intent, sign_intent, relayer
):
    """Sequential mode: the vault's balance falls by exactly amountIn, the venue prices what
    arrived. Aggregated mode: the pulls deliver 1 % less than reported, the router refuses the
    token with UnsupportedInputToken and nothing moves."""
    token = tokens["fee_on_transfer"]
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=FRACTION_BPS))
    if mode == "mirrorBatch":
        receipt = _run(router, mode, intent, sig, pair_of_vaults, relayer)
        assert batch_counts(receipt, router) == (2, 0)
        return
    amounts = [token.balanceOf(v) * FRACTION_BPS // 10_000 for v in pair_of_vaults]
    arrived = sum(a - a * 100 // 10_000 for a in amounts)
    assert_reverts(
        router.UnsupportedInputToken, router.mirrorAggregated, intent, sig, pair_of_vaults,
        sender=relayer, token=token.address, pulled=sum(amounts), arrived=arrived,
    )  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
def test_token_class__blocklisted_vault__that_vault_skipped_others_mirrored(
    mode, tokens, pair_of_vaults, router, make_intent, sign_intent, relayer, deployer
):
    token = tokens["restricted"]
    blocked = pair_of_vaults[0]
    token.setBlocklisted(blocked, True, sender=deployer)
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=FRACTION_BPS))
    held = token.balanceOf(blocked)

    receipt = _run(router, mode, intent, sig, pair_of_vaults, relayer)

    assert skips(receipt, router) == [(blocked.address, selector(token.Blocklisted))]
    assert batch_counts(receipt, router) == (1, 1)
    assert token.balanceOf(blocked) == held


@pytest.mark.parametrize("mode", MODES)
def test_token_class__paused_token__every_vault_skipped_nothing_moves(
    mode, tokens, pair_of_vaults, router, make_intent, sign_intent, relayer, deployer
):
    token = tokens["restricted"]
    token.setPaused(True, sender=deployer)
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=FRACTION_BPS))

    _assert_every_vault_skipped_nothing_moved(
        token, token.TokenPaused, router, mode, intent, sig, pair_of_vaults, relayer
    )


@pytest.mark.parametrize("mode", MODES)
def test_token_class__hook_reenters_the_router__every_vault_skipped_nothing_moves(
    mode, tokens, pair_of_vaults, router, make_intent, sign_intent, relayer
):
    """A hook-bearing token is refused: its callback into the router meets the re-entrancy guard,
    so every vault's transfer (to the pair, or to the router) fails and the vault is skipped."""
    token = tokens["hook"]
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=FRACTION_BPS))
    method = getattr(router, mode)
    token.arm(router, method.encode_input(intent, sig, pair_of_vaults), sender=relayer)

    _assert_every_vault_skipped_nothing_moved(
        token,
        router.ReentrancyGuardReentrantCall,
        router,
        mode,
        intent,
        sig,
        pair_of_vaults,
        relayer,
    )
