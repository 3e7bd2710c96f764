"""Amounts, prices and durations as people write them, and the rule that test accounts stay on
local chains: exact conversions, clear refusals."""

from __future__ import annotations

import pytest

from backend.cli.user.units import (
    UserError,
    format_amount,
    format_price,
    parse_amount,
    parse_bps,
    parse_duration,
    parse_price,
)
from backend.cli.user.wallet import load_wallet


@pytest.mark.parametrize(
    ("text", "decimals", "raw"),
    [("12.5", 6, 12_500_000), ("0.000001", 6, 1), ("1", 18, 10**18), ("1_000", 8, 10**11)],
)
def test_parse_amount__token_units_to_raw(text, decimals, raw):
    assert parse_amount(text, decimals, "TKN") == raw
    assert parse_amount(format_amount(raw, decimals), decimals, "TKN") == raw


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0000001", "more decimals than USDC's 6"),
        ("0", "must be more than zero"),
        ("-3", "must be more than zero"),
        ("twelve", "is not a number"),
        ("inf", "not a finite number"),
    ],
)
def test_parse_amount__refusals_name_the_problem(text, message):
    with pytest.raises(UserError, match=message):
        parse_amount(text, 6, "USDC")


def test_format_amount__no_trailing_zeros():
    assert format_amount(12_500_000, 6) == "12.5"
    assert format_amount(3 * 10**18, 18) == "3"
    assert format_amount(0, 6) == "0"


def test_price__as_read_round_trips_through_the_1e18_scale():
    # 2900 USDC (6 decimals) per WETH (18): raw USDC units per raw WETH unit x 1e18.
    assert parse_price("2900", 18, 6) == 2_900 * 10**6
    assert format_price(2_900 * 10**6, 18, 6) == "2900"
    assert format_price(parse_price("0.000345", 6, 18), 6, 18) == "0.000345"
    assert format_price(2_987_654_321, 18, 6) == "2987.654321"


def test_parse_price__rounds_up_so_a_limit_is_never_looser():
    # Half a raw unit of a 0-decimal token per whole 18-decimal token is 0.5 on the 1e18 scale.
    assert parse_price("0.5", 18, 0) == 1
    assert parse_price("1.0000000000000000001", 18, 18) == 10**18 + 1


def test_durations_and_basis_points():
    assert [parse_duration(t) for t in ("90", "30m", "2h", "7d")] == [90, 1_800, 7_200, 604_800]
    assert [parse_bps(t, "x") for t in ("10%", "1000", "0.5%", "100%")] == [
        1_000,
        1_000,
        50,
        10_000,
    ]
    for bad in ("0", "1w", "-1h"):
        with pytest.raises(UserError, match="duration"):
            parse_duration(bad)
    with pytest.raises(UserError, match="basis points"):
        parse_bps("101%", "--fraction")


def test_test_accounts__refused_off_local_chains():
    with pytest.raises(UserError, match="chain 1 is not a local network"):
        load_wallet("TEST::0", chain_id=1)
    assert load_wallet("TEST::2", chain_id=31_337).address == (
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    )
