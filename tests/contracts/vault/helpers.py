"""Helpers for CopyVault unit tests: the vault's arithmetic written out in Python, so tests check
exact values computed independently of the contracts. (The strict `reverts` is
tests/utils/reverts.py's.)"""

from __future__ import annotations

BPS = 10_000
PRICE_SCALE = 10**18
LOSS_UNIT = 10**6  # the vault's loss unit: millionths of a basis point
DAY = 86_400
HOUR = 3_600

SHAPES = [(1, 1), (2, 3), (3, 5)]  # (threshold M, owners N)
SHAPE_IDS = ["1-of-1", "2-of-3", "3-of-5"]
DECIMALS = [6, 18]


def vault_nonce(vault) -> int:
    """The vault's operation nonce (`vault.nonce` is Ape's account nonce of the address instead)."""
    return vault.call_view_method("nonce")


def calldata(contract, function: str, *args) -> bytes:
    """ABI-encoded call of `function` (selector and arguments), e.g. for `executeConfig`."""
    return bytes(getattr(contract, function).encode_input(*args))


def mul_div_up(a: int, b: int, c: int) -> int:
    return -(-a * b // c)


def oracle_quote(amount_in: int, asset_in, asset_out) -> int:
    """PriceOracle.quote: `amount_in` of one asset in the other, from USD feeds, rounded down."""
    return (
        amount_in
        * asset_in.price
        * 10 ** (asset_out.decimals + asset_out.feed_decimals)
        // (asset_out.price * 10 ** (asset_in.decimals + asset_in.feed_decimals))
    )


def uniswap_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Uniswap V2's getAmountOut (0.3 % fee, rounded down)."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def min_out(oracle_out: int, amount_in: int, min_price: int, max_slippage_bps: int) -> int:
    """The vault's bound: the larger of the oracle bound and the leader's limit, both rounded up."""
    return max(
        mul_div_up(oracle_out, BPS - max_slippage_bps, BPS),
        mul_div_up(amount_in, min_price, PRICE_SCALE),
    )


def loss_of(oracle_out: int, amount_out: int) -> int:
    """Shortfall below the oracle in millionths of a basis point, rounded up; gains count as 0."""
    if amount_out >= oracle_out:
        return 0
    return mul_div_up(oracle_out - amount_out, BPS * LOSS_UNIT, oracle_out)


def decayed(loss: int, elapsed: int, budget_bps: int) -> int:
    """`loss` after `elapsed` seconds of linear decay at `budget_bps` per day."""
    return max(0, loss - elapsed * budget_bps * LOSS_UNIT // DAY)
