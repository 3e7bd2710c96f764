"""Attacks on the aggregated mode, where the router moves vault tokens between `pullAggregated` and
`settleAggregated` (or `cancelAggregated`, which returns them) in one transaction.

Only the factory's router may pull; each vault re-checks its own balances at settlement; while a
vault's trade is pending it refuses deposits and other mirrors, so a token callback in the middle of
the batch cannot feed or replay it.
"""

from __future__ import annotations

import pytest

from tests.conftest import fund
from tests.contracts.attacks.helpers import USDC, WETH, Watch, blocked
from tests.contracts.router.aggregated_helpers import assert_reverts
from tests.utils.reverts import selector


@pytest.fixture
def lying_venue_everywhere(project, deployer, factory, admin, signers, execute_config):
    """A LyingVenue allowed globally; `allow(vault)` has the vault's owners allow it too."""
    venue = deployer.deploy(project.LyingVenue)
    factory.setVenueAllowed(venue, True, sender=admin)

    def allow(vault):
        execute_config(vault, signers, vault.setVenueAllowed.encode_input(venue, True))

    venue.allow = allow
    return venue


def test_pull_aggregated__called_by_attacker_with_valid_intent__reverts_not_router(
    vault_under_attack, watch, attacker, make_intent, sign_intent
):
    intent, sig = sign_intent(make_intent())
    with blocked(vault_under_attack.NotRouter, watch.also(intents=[intent]), caller=attacker):
        vault_under_attack.pullAggregated(intent, sig, sender=attacker)


def test_pull_aggregated__called_by_platform_role__reverts_not_router(
    platform_role, vault_under_attack, watch, make_intent, sign_intent
):
    intent, sig = sign_intent(make_intent())
    with blocked(vault_under_attack.NotRouter, watch.also(intents=[intent]), caller=platform_role):
        vault_under_attack.pullAggregated(intent, sig, sender=platform_role)


def test_settle_aggregated__called_by_attacker__reverts_not_router(
    vault_under_attack, watch, attacker, make_intent, sign_intent
):
    intent, _ = sign_intent(make_intent())
    with blocked(vault_under_attack.NotRouter, watch, caller=attacker):
        vault_under_attack.settleAggregated(intent, sender=attacker)


def test_cancel_aggregated__attacker_undoing_an_executed_intent__reverts_not_router(
    vault_under_attack, watch, router, attacker, make_intent, sign_intent, relayer
):
    """cancelAggregated clears a pull's executed flag and trade count. An attacker calling it on a
    vault that executed an intent, to have the intent run there again, is refused; so is the
    router's own address outside a batch, since no trade is pending then."""
    intent, sig = sign_intent(make_intent())
    router.mirrorAggregated(intent, sig, [vault_under_attack], sender=relayer)
    assert vault_under_attack.isIntentExecuted(intent[0], intent[6])
    assert vault_under_attack.tradesToday() == 1

    with blocked(vault_under_attack.NotRouter, watch.also(intents=[intent]), caller=attacker):
        vault_under_attack.cancelAggregated(intent, sender=attacker)
    no_pending = vault_under_attack.NoPendingTrade
    assert_reverts(no_pending, vault_under_attack.cancelAggregated, intent, sender=router)

    replay = router.mirrorAggregated(intent, sig, [vault_under_attack], sender=relayer)
    (skip,) = replay.decode_logs(router.MirrorSkipped)
    assert bytes(skip.reason) == selector(vault_under_attack.IntentAlreadyExecuted)
    assert vault_under_attack.tradesToday() == 1


def test_mirror_aggregated__same_vault_listed_twice__trades_once_and_skips_the_repeat(
    vault_under_attack, router, weth, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))
    weth_before = weth.balanceOf(vault_under_attack)

    receipt = router.mirrorAggregated(
        intent, sig, [vault_under_attack, vault_under_attack], sender=relayer
    )

    skipped = receipt.decode_logs(router.MirrorSkipped)
    assert [(s.vault, bytes(s.reason)) for s in skipped] == [
        (vault_under_attack.address, selector(vault_under_attack.TradePending))
    ]
    assert weth.balanceOf(vault_under_attack) == weth_before - weth_before // 10
    assert weth.balanceOf(router) == 0


def test_mirror_aggregated__lying_venue_short_pays_the_batch__reverts_insufficient_output(
    vault_under_attack,
    create_vault,
    lying_venue_everywhere,
    router,
    weth,
    usdc,
    deployer,
    make_intent,
    sign_intent,
    relayer,
):
    other = create_vault()
    fund(other, weth, 10 * WETH, deployer)
    venue = lying_venue_everywhere
    for vault in (vault_under_attack, other):
        venue.allow(vault)
    # Claims enough to pass the router's quote filter, pays a third of the bound.
    venue.configure(2_000 * USDC, 10**30, sender=relayer)
    usdc.mint(venue, 10_000 * USDC, sender=deployer)
    intent, sig = sign_intent(make_intent(venue=venue.address))

    watch = Watch(
        [vault_under_attack, other], [weth, usdc], holders=[venue, router], intents=[intent]
    )
    with blocked(vault_under_attack.InsufficientOutput, watch, minimum=2_970 * USDC):
        router.mirrorAggregated(intent, sig, [vault_under_attack, other], sender=relayer)


@pytest.mark.parametrize("reentry", ["deposit", "mirror"])
def test_mirror_aggregated__token_hook_reenters_pending_vault__reverts_trade_pending(
    reentry,
    reentrant_vault,
    reentrant_token,
    lying_venue_everywhere,
    router,
    usdc,
    deployer,
    attacker,
    make_intent,
    sign_intent,
    relayer,
):
    # The venue pays in a token whose transfer calls back into the vault while its trade is pending
    # (pulled, not yet settled): the vault's reentrancy guard is not held then, the pending flag is.
    vault, token, venue = reentrant_vault, reentrant_token, lying_venue_everywhere
    venue.allow(vault)
    venue.configure(WETH, 10**30, sender=relayer)  # 1 REENT for 3,000 USDC: the honest price
    token.mint(venue, 10 * WETH, sender=deployer)
    intent, sig = sign_intent(
        make_intent(venue=venue.address, token_in=usdc.address, token_out=token.address)
    )
    payload = {
        "deposit": vault.deposit.encode_input(usdc, 1),
        "mirror": vault.mirror.encode_input(intent, sig),
    }[reentry]
    token.arm(vault, payload, sender=attacker)

    watch = Watch([vault], [usdc, token], holders=[venue, router], intents=[intent])
    with blocked(vault.TradePending, watch):
        router.mirrorAggregated(intent, sig, [vault], sender=relayer)
