"""UniswapV2Venue: prices and trades exactly as the real Uniswap V2 pair, holding nothing
(docs/protocol.md §1.4).
"""

from __future__ import annotations

import pytest
from eth_utils import keccak

from backend.chain import npm_artifacts
from tests.utils.reverts import reverts

from .conftest import get_amount_out, reserves

DIRECTIONS = {
    "weth-to-usdc": ("weth", "usdc", 10**18),
    "usdc-to-weth": ("usdc", "weth", 3_000 * 10**6),
}


@pytest.fixture(params=DIRECTIONS, ids=list(DIRECTIONS))
def direction(request, weth, usdc):
    """(tokenIn, tokenOut, amountIn) for each way through the WETH/USDC pair."""
    tokens = {"weth": weth, "usdc": usdc}
    token_in, token_out, amount = DIRECTIONS[request.param]
    return tokens[token_in], tokens[token_out], amount


def _pay(token, to, amount, trader):
    token.mint(trader, amount, sender=trader)
    token.transfer(to, amount, sender=trader)


# ----------------------------------------------------------------------------- pair derivation


def test_pair_for__either_order__equals_the_uniswap_factorys_pair(venue, uniswap, pair, weth, usdc):
    assert (
        venue.pairFor(weth, usdc)
        == venue.pairFor(usdc, weth)
        == uniswap.factory.getPair(weth, usdc)
    )
    assert venue.inputRecipient(weth, usdc) == venue.inputRecipient(usdc, weth) == pair.address


def test_pair_for__a_pair_created_later__is_derived_too(venue, uniswap, fee_token, usdc):
    assert venue.pairFor(fee_token, usdc) == uniswap.factory.getPair(fee_token, usdc)


def test_pair_init_code_hash__is_the_npm_pairs(venue):
    expected = keccak(npm_artifacts.load("UniswapV2Pair").bytecode)
    assert venue.pairInitCodeHash() == expected


def test_pair_for__no_such_pair__reverts_pair_not_found(venue, weth, project, deployer):
    unpaired = deployer.deploy(project.TestToken, "Unpaired", "UNP", 18)
    with reverts(venue.PairNotFound, tokenIn=weth, tokenOut=unpaired):
        venue.pairFor(weth, unpaired)
    with reverts(venue.PairNotFound, tokenIn=unpaired, tokenOut=weth):
        venue.quote(unpaired, weth, 10**18)


def test_swap__no_such_pair__reverts_pair_not_found(venue, weth, project, deployer, trader):
    unpaired = deployer.deploy(project.TestToken, "Unpaired", "UNP", 18)
    with reverts(venue.PairNotFound, tokenIn=weth, tokenOut=unpaired):
        venue.swap(weth, unpaired, 10**18, trader, sender=trader)


# ----------------------------------------------------------------------------- quote


@pytest.mark.parametrize("scale", [1, 10**3, 10**6, 10**9])
def test_quote__any_size__equals_uniswap_library_get_amount_out(
    venue, pair, uniswap_router, direction, scale
):
    token_in, token_out, unit = direction
    amount_in = unit * scale // 10**6 or 1  # from a millionth of a unit up to 1,000 units
    reserve_in, reserve_out = reserves(pair, token_in)

    quoted = venue.quote(token_in, token_out, amount_in)

    assert quoted == get_amount_out(amount_in, reserve_in, reserve_out)
    assert quoted == uniswap_router.getAmountOut(amount_in, reserve_in, reserve_out)


# ----------------------------------------------------------------------------- swap


def test_swap__input_sent_to_the_pair__pays_the_recipient_exactly_the_quote(
    venue, pair, direction, trader, follower
):
    token_in, token_out, amount_in = direction
    quoted = venue.quote(token_in, token_out, amount_in)
    reserve_in, reserve_out = reserves(pair, token_in)
    received_before = token_out.balanceOf(follower)
    _pay(token_in, venue.inputRecipient(token_in, token_out), amount_in, trader)

    receipt = venue.swap(token_in, token_out, amount_in, follower, sender=trader)

    assert receipt.return_value == quoted
    assert token_out.balanceOf(follower) - received_before == quoted
    assert reserves(pair, token_in) == (reserve_in + amount_in, reserve_out - quoted)


def test_swap__after_a_trade__venue_holds_no_tokens_and_no_allowance(
    venue, pair, direction, trader, follower
):
    token_in, token_out, amount_in = direction
    _pay(token_in, pair, amount_in, trader)

    venue.swap(token_in, token_out, amount_in, follower, sender=trader)

    for token in (token_in, token_out):
        assert token.balanceOf(venue) == 0
        assert token.allowance(venue, pair) == 0
        assert token.allowance(trader, venue) == 0


def test_swap__nothing_sent__reverts_no_input(venue, weth, usdc, trader, follower):
    with reverts(venue.NoInput):
        venue.swap(weth, usdc, 10**18, follower, sender=trader)


def test_swap__amount_argument_larger_than_sent__trades_only_what_arrived(
    venue, pair, weth, usdc, trader, follower
):
    reserve_in, reserve_out = reserves(pair, weth)
    _pay(weth, pair, 10**17, trader)

    receipt = venue.swap(weth, usdc, 10**18, follower, sender=trader)

    assert receipt.return_value == get_amount_out(10**17, reserve_in, reserve_out)
    assert usdc.balanceOf(follower) == receipt.return_value


def test_swap__fee_on_transfer_input__is_priced_on_what_arrived(
    venue, fee_token, fee_pair, usdc, trader, follower
):
    sent = 10 * 10**18
    arrived = sent * 99 // 100  # the token burns 1 % on transfer
    reserve_in, reserve_out = reserves(fee_pair, fee_token)
    fee_token.mint(trader, sent, sender=trader)
    fee_token.transfer(fee_pair, sent, sender=trader)
    assert fee_token.balanceOf(fee_pair) - reserve_in == arrived

    receipt = venue.swap(fee_token, usdc, sent, follower, sender=trader)

    expected = get_amount_out(arrived, reserve_in, reserve_out)
    assert usdc.balanceOf(follower) == receipt.return_value == expected
    assert expected < get_amount_out(
        sent, reserve_in, reserve_out
    )  # pricing what was sent overpays
    assert reserves(fee_pair, fee_token) == (reserve_in + arrived, reserve_out - expected)
    assert fee_token.balanceOf(venue) == usdc.balanceOf(venue) == 0
