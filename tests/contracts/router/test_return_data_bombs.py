"""Audit finding 1 (Medium): return-data bombs. Code that a vault's owners or a token can choose
(the vault's oracle, a token, a venue) may answer a call with hundreds of kilobytes of revert or
return data. Copying it costs memory, whose price grows quadratically; copied by the router (its
former `try/catch (bytes memory reason)`), it grew with every such vault outside their fixed
call gas, so 14 bombed vaults made a batch of 2 honest ones exceed the 2^24 transaction gas cap.
Vault and router now copy at most what they need (a word of return data, the selector of a
vault's error, at most `BoundedCall.MAX_REVERT_DATA` bytes of bubbled revert data): bombed
vaults are skipped, honest ones mirrored, and the batch fits under the cap, in both modes.
"""

from __future__ import annotations

import pytest
from eth_utils import function_signature_to_4byte_selector

from tests.contracts.router.aggregated_helpers import batch_counts, revert_data, skips
from tests.utils.deploy import FEED_DECIMALS

WETH = 10**18
BOMB_SIZE = 208 * 1024  # the audit's 208 kB
TX_GAS_CAP = 2**24  # EIP-7825's per-transaction cap
MAX_REVERT_DATA = 4 + 8 * 32  # BoundedCall.MAX_REVERT_DATA
BOMBED, HONEST = 14, 2
MODES = ["mirrorBatch", "mirrorAggregated"]
NO_SELECTOR = bytes(4)


@pytest.fixture(scope="module")
def bombs(project, system, factory, oracle, admin, deployer):
    """A forwarding oracle, token and venue that bomb their victims (zero-sized until armed); the
    token has a $1 feed and a USDC pair at $1; the venue is allowed platform-wide."""
    bomb_oracle = deployer.deploy(project.BombOracle, oracle)
    token = deployer.deploy(project.BombToken)
    oracle.setFeed(
        token,
        deployer.deploy(project.MockAggregator, FEED_DECIMALS, 10**FEED_DECIMALS),
        sender=admin,
    )
    system.uniswap.add_liquidity(token, system.usdc, 3_000_000 * WETH, 3_000_000 * 10**6, deployer)
    venue = deployer.deploy(project.BombVenue, system.venue)
    factory.setVenueAllowed(venue, True, sender=admin)
    return {"oracle": bomb_oracle, "token": token, "venue": venue}


@pytest.fixture(scope="module")
def batch(bombs, create_vault, system, factory, admin, deployer, relayer, attacker):
    """16 vaults using the bomb oracle (a vault's owners may choose any oracle), allowing WETH,
    USDC, the bomb token and both venues, each holding WETH and the bomb token: the first 14 are
    the bombs' victims, the last 2 honest. (Session fixtures are requested here first.)"""
    factory.setDefaultOracle(bombs["oracle"], sender=admin)
    assets = [system.weth.address, system.usdc.address, bombs["token"].address]
    venues = [system.venue.address, bombs["venue"].address]
    vaults = [create_vault(assets=assets, venues=venues) for _ in range(BOMBED + HONEST)]
    for feed in system.feeds.values():  # earlier modules' time travel may have aged them
        feed.setAnswer(feed.answer(), sender=deployer)
    for vault in vaults:
        system.weth.mint(vault, 2 * WETH, sender=deployer)
        bombs["token"].mint(vault, 6_000 * WETH, sender=deployer)
    for vault in vaults[:BOMBED]:
        for bomb in (bombs["oracle"], bombs["token"]):
            bomb.setVictim(vault, True, sender=deployer)
    return vaults


def _arm(bomb, function: str, as_revert: bool, deployer) -> None:
    """Make `bomb` answer calls of `function` concerning a victim with BOMB_SIZE bytes."""
    signature = getattr(bomb, function).abis[0].selector  # the canonical signature
    bomb.arm(function_signature_to_4byte_selector(signature), as_revert, BOMB_SIZE, sender=deployer)


def _send(router, mode, intent, sig, vaults, relayer):
    receipt = getattr(router, mode)(
        intent, sig, vaults, sender=relayer, gas=TX_GAS_CAP, raise_on_revert=False
    )
    assert not receipt.failed, (
        f"the batch did not fit in {TX_GAS_CAP} gas (used {receipt.gas_used})"
    )
    return receipt


def _mirrored(receipt, vaults) -> list[str]:
    addresses = {str(v.address) for v in vaults}
    return [
        str(log.contract_address)
        for log in receipt.events
        if log.event_name == "Mirrored" and str(log.contract_address) in addresses
    ]


# ----------------------------------------------------------------------- huge revert data


@pytest.mark.parametrize("mode", MODES)
def test_router__oracle_reverts_with_huge_data__bombed_vaults_skipped_batch_fits_under_the_cap(
    mode, batch, bombs, router, make_intent, sign_intent, relayer, deployer
):
    """The audit's case: 14 vaults whose oracle reverts with 208 kB, 2 honest vaults, one batch
    sent with 2^24 gas. Each bombed vault bubbles at most MAX_REVERT_DATA bytes, the router copies
    only the selector: the 14 are skipped (with the zero selector of the bomb's data), the 2
    mirrored."""
    _arm(bombs["oracle"], "quote", True, deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))

    receipt = _send(router, mode, intent, sig, batch, relayer)

    assert skips(receipt, router) == [(str(v.address), NO_SELECTOR) for v in batch[:BOMBED]]
    assert batch_counts(receipt, router) == (HONEST, BOMBED)
    assert _mirrored(receipt, batch) == [str(v.address) for v in batch[BOMBED:]]


@pytest.mark.parametrize("function", ["balanceOf", "transfer"])
@pytest.mark.parametrize("mode", MODES)
def test_router__token_reverts_with_huge_data_for_some_vaults__those_skipped_batch_fits(
    mode, function, batch, bombs, router, make_intent, sign_intent, relayer, deployer
):
    """The input token reverts with 208 kB in `balanceOf` of, or `transfer` from, 14 of the 16
    vaults: those are skipped, the other 2 mirrored, under the cap."""
    token = bombs["token"]
    _arm(token, function, True, deployer)
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=1_000))

    receipt = _send(router, mode, intent, sig, batch, relayer)

    assert skips(receipt, router) == [(str(v.address), NO_SELECTOR) for v in batch[:BOMBED]]
    assert batch_counts(receipt, router) == (HONEST, BOMBED)


@pytest.mark.parametrize("function", ["inputRecipient", "swap"])
def test_mirror_batch__venue_reverts_with_huge_data_for_some_vaults__those_skipped_batch_fits(
    function, batch, bombs, router, make_intent, sign_intent, relayer, deployer
):
    """In the sequential mode each vault calls the venue itself: a venue that reverts with 208 kB
    for 14 of them gets those skipped and the other 2 mirrored, under the cap."""
    venue = bombs["venue"]
    for vault in batch[:BOMBED]:
        venue.setVictim(vault, True, sender=deployer)
    _arm(venue, function, True, deployer)
    intent, sig = sign_intent(make_intent(venue=venue.address, fraction_bps=1_000))

    receipt = _send(router, "mirrorBatch", intent, sig, batch, relayer)

    assert skips(receipt, router) == [(str(v.address), NO_SELECTOR) for v in batch[:BOMBED]]
    assert batch_counts(receipt, router) == (HONEST, BOMBED)


@pytest.mark.parametrize("function", ["quote", "inputRecipient", "swap"])
def test_mirror_aggregated__venue_reverts_with_huge_data__batch_reverts_with_bounded_data(
    function, batch, bombs, router, make_intent, sign_intent, relayer, deployer
):
    """In the aggregated mode the router calls the venue once for the batch: a venue that fails
    fails the batch (nothing to skip), and the router passes on at most MAX_REVERT_DATA bytes of
    its 208 kB."""
    venue = bombs["venue"]
    venue.setVictim(router, True, sender=deployer)
    _arm(venue, function, True, deployer)
    intent, sig = sign_intent(make_intent(venue=venue.address, fraction_bps=1_000))

    data = revert_data(router.mirrorAggregated, intent, sig, batch, sender=relayer)

    assert data == bytes(MAX_REVERT_DATA)


# ----------------------------------------------------------------------- huge return data


@pytest.mark.parametrize("mode", MODES)
def test_router__oracle_returns_right_answer_with_huge_data__every_vault_mirrored_batch_fits(
    mode, batch, bombs, router, make_intent, sign_intent, relayer, deployer
):
    """The oracle answers the right quote followed by 208 kB: only the first word is copied, so
    all 16 vaults mirror under the cap."""
    _arm(bombs["oracle"], "quote", False, deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))

    receipt = _send(router, mode, intent, sig, batch, relayer)

    assert skips(receipt, router) == []
    assert batch_counts(receipt, router) == (BOMBED + HONEST, 0)


@pytest.mark.parametrize("function", ["balanceOf", "transfer"])
@pytest.mark.parametrize("mode", MODES)
def test_router__token_returns_right_answer_with_huge_data__every_vault_mirrored_batch_fits(
    mode, function, batch, bombs, router, make_intent, sign_intent, relayer, deployer
):
    token = bombs["token"]
    _arm(token, function, False, deployer)
    intent, sig = sign_intent(make_intent(token_in=token.address, fraction_bps=1_000))

    receipt = _send(router, mode, intent, sig, batch, relayer)

    assert skips(receipt, router) == []
    assert batch_counts(receipt, router) == (BOMBED + HONEST, 0)


@pytest.mark.parametrize("function", ["quote", "inputRecipient", "swap"])
@pytest.mark.parametrize("mode", MODES)
def test_router__venue_returns_right_answer_with_huge_data__every_vault_mirrored_batch_fits(
    mode, function, batch, bombs, router, make_intent, sign_intent, relayer, deployer
):
    """Victims: every vault (sequential mode) and the router (aggregated mode)."""
    venue = bombs["venue"]
    for account in [*batch, router]:
        venue.setVictim(account, True, sender=deployer)
    _arm(venue, function, False, deployer)
    intent, sig = sign_intent(make_intent(venue=venue.address, fraction_bps=1_000))

    receipt = _send(router, mode, intent, sig, batch, relayer)

    assert skips(receipt, router) == []
    assert batch_counts(receipt, router) == (BOMBED + HONEST, 0)
