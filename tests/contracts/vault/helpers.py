"""Helpers for CopyVault unit tests: a strict `reverts`, and the vault's arithmetic written out
in Python, so tests check exact values computed independently of the contracts."""

from __future__ import annotations

from contextlib import contextmanager

import ape
from ape.exceptions import CustomError
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

BPS = 10_000
PRICE_SCALE = 10**18
LOSS_UNIT = 10**6  # the vault's loss unit: millionths of a basis point
DAY = 86_400
HOUR = 3_600

SHAPES = [(1, 1), (2, 3), (3, 5)]  # (threshold M, owners N)
SHAPE_IDS = ["1-of-1", "2-of-3", "3-of-5"]
DECIMALS = [6, 18]


@contextmanager
def reverts(error, **inputs):
    """Assert the block reverts with exactly `error` (an Ape custom-error class such as
    `vault.ZeroAmount`) and that each named input has the given value.

    Stricter than `ape.reverts`, which passes on any revert it cannot decode and skips input names
    the error does not have. Errors bubbled from another contract (e.g. the oracle's, through the
    vault) are decoded with that contract's ABI from the raw revert data."""
    with ape.reverts() as info:
        yield info
    name, actual = _decode_error(info.value, error)
    assert name == error.__name__, f"expected {error.__name__}, got {info.value!r}"
    unknown = set(inputs) - set(actual)
    assert not unknown, f"{error.__name__} has no inputs named {sorted(unknown)}"
    wrong = {k: (actual[k], v) for k, v in inputs.items() if actual[k] != v}
    assert not wrong, f"{error.__name__} inputs (actual, expected): {wrong}"


def _decode_error(raised, error) -> tuple[str, dict]:
    if isinstance(raised, CustomError):
        return type(raised).__name__, dict(raised.inputs)
    data = raised.revert_message or ""
    abi = error.abi
    selector = "0x" + keccak(text=abi.selector).hex()[:8]
    if not data.startswith(selector):
        return f"undecoded revert {data!r}", {}
    types = [i.canonical_type for i in abi.inputs]
    values = decode(types, bytes.fromhex(data[10:]))
    return abi.name, {
        i.name: to_checksum_address(v) if i.type == "address" else v
        for i, v in zip(abi.inputs, values, strict=True)
    }


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
