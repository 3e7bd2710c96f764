"""CopyVault.mirror applies its checks in the order docs/protocol.md §1.3 lists them: an intent
that breaks two of them fails with the earlier one's error, whatever the later one is."""

from __future__ import annotations

from tests.utils.reverts import reverts

from .helpers import calldata


def test_check_order__expired_intent_into_a_paused_vault__registry_intent_expired_first(
    funded_vault, registry, follower, make_intent, sign_intent, relayer, chain
):
    deadline = chain.pending_timestamp + 60
    intent, sig = sign_intent(make_intent(deadline=deadline))
    funded_vault.pause(sender=follower)
    chain.pending_timestamp += 120

    with reverts(registry.IntentExpired, deadline=deadline):
        funded_vault.mirror(intent, sig, sender=relayer)


def test_check_order__another_leaders_intent_into_a_paused_vault__not_following_leader_first(
    funded_vault, follower, other_leader, make_intent, sign_intent, relayer
):
    funded_vault.pause(sender=follower)
    intent = make_intent(leader=other_leader.address)

    with reverts(funded_vault.NotFollowingLeader, intentLeader=other_leader.address):
        funded_vault.mirror(*sign_intent(intent, signer=other_leader), sender=relayer)


def test_check_order__paused_and_copying_stopped__vault_paused_first(
    funded_vault, follower, make_intent, sign_intent, relayer
):
    funded_vault.stopCopying(sender=follower)
    funded_vault.pause(sender=follower)

    with reverts(funded_vault.VaultPaused):
        funded_vault.mirror(*sign_intent(make_intent()), sender=relayer)


def test_check_order__copying_stopped_and_identical_tokens__copying_stopped_first(
    funded_vault, follower, weth, make_intent, sign_intent, relayer
):
    funded_vault.stopCopying(sender=follower)
    intent = make_intent(token_in=weth.address, token_out=weth.address)

    with reverts(funded_vault.CopyingStoppedError):
        funded_vault.mirror(*sign_intent(intent), sender=relayer)


def test_check_order__identical_tokens_off_the_allowlist__identical_tokens_first(
    funded_vault, attacker, make_intent, sign_intent, relayer
):
    token = attacker.address  # not on the vault's asset list, and not even a token
    intent = make_intent(token_in=token, token_out=token)

    with reverts(funded_vault.IdenticalTokens, token=token):
        funded_vault.mirror(*sign_intent(intent), sender=relayer)


def test_check_order__token_out_off_the_list_venue_off_the_platform_fraction_too_large__asset_first(
    funded_vault, owners, usdc, venue, factory, admin, execute_config, make_intent, sign_intent,
    relayer,
):  # fmt: skip
    execute_config(
        funded_vault, owners[:2], calldata(funded_vault, "setAssetAllowed", usdc.address, False)
    )
    factory.setVenueAllowed(venue, False, sender=admin)
    intent = make_intent(fraction_bps=10_000)  # the default policy allows 5,000

    with reverts(funded_vault.AssetNotAllowed, asset=usdc.address):
        funded_vault.mirror(*sign_intent(intent), sender=relayer)


def test_check_order__venue_off_the_platform_and_fraction_too_large__venue_not_allowed_first(
    funded_vault, venue, factory, admin, make_intent, sign_intent, relayer
):
    factory.setVenueAllowed(venue, False, sender=admin)
    intent = make_intent(fraction_bps=10_000)

    with reverts(funded_vault.VenueNotAllowed, venue=venue.address):
        funded_vault.mirror(*sign_intent(intent), sender=relayer)


def test_check_order__fraction_too_large_on_an_executed_nonce__fraction_too_large_first(
    funded_vault, make_intent, sign_intent, relayer
):
    funded_vault.mirror(*sign_intent(make_intent(nonce=7)), sender=relayer)
    intent = make_intent(nonce=7, fraction_bps=10_000)

    with reverts(funded_vault.FractionTooLarge, fractionBps=10_000, maxFractionBps=5_000):
        funded_vault.mirror(*sign_intent(intent), sender=relayer)


def test_check_order__executed_nonce_with_the_daily_cap_reached__already_executed_first(
    create_vault, weth, deposit, next_day, leader, make_intent, sign_intent, relayer
):
    vault = create_vault(policy=(5_000, 100, 3_600, 1, 0))
    deposit(vault, weth, 10 * 10**18)
    next_day()
    intent, sig = sign_intent(make_intent(nonce=3))
    vault.mirror(intent, sig, sender=relayer)

    with reverts(vault.IntentAlreadyExecuted, leader=leader.address, nonce=3):
        vault.mirror(intent, sig, sender=relayer)


def test_check_order__daily_cap_reached_with_nothing_left_to_sell__daily_limit_first(
    create_vault, weth, deposit, next_day, make_intent, sign_intent, relayer
):
    vault = create_vault(policy=(10_000, 500, 3_600, 1, 0))
    deposit(vault, weth, 10 * 10**18)
    day = next_day()
    vault.mirror(*sign_intent(make_intent(fraction_bps=10_000)), sender=relayer)
    assert weth.balanceOf(vault) == 0

    with reverts(vault.DailyTradeLimitReached, day=day, maxTradesPerDay=1):
        vault.mirror(*sign_intent(make_intent()), sender=relayer)
