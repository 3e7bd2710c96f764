"""Amounts and prices as people write and read them, converted exactly (no floats).

A token amount is written in token units with decimals (`12.5` USDC is 12_500_000 raw units). A
price (`minPrice`, a trade's price) is on chain raw `tokenOut` units per raw `tokenIn` unit scaled
by 10^18 (docs/protocol.md, the TradeIntent fields); people read "2900 USDC per WETH".
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from typing import Final

import click

PRICE_SCALE: Final = 10**18
# uint256 has 78 decimal digits; enough precision for any amount the chain can hold.
_PRECISION: Final = 100
_DURATION_RE: Final = re.compile(r"([0-9]+)([smhd]?)", re.ASCII)
_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}


class UserError(click.ClickException):
    """A mistake the user can fix; printed as one line, exit code 1, never a traceback."""


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        raise UserError(f"{what} {text!r} is not a number (write it like 12.5)") from None
    if not value.is_finite():
        raise UserError(f"{what} {text!r} is not a finite number")
    return value


def parse_amount(text: str, decimals: int, symbol: str) -> int:
    """Raw units of `text` token units; refuses zero, negatives and digits the token cannot hold."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        raw = _decimal(text, "amount").scaleb(decimals)
    if raw <= 0:
        raise UserError(f"amount {text} must be more than zero")
    if raw != raw.to_integral_value():
        raise UserError(f"amount {text} has more decimals than {symbol}'s {decimals}")
    return int(raw)


def format_amount(raw: int, decimals: int) -> str:
    """`raw` units as token units, without trailing zeros: 12500000 with 6 decimals is "12.5"."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        text = format(Decimal(raw).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_price(text: str, decimals_in: int, decimals_out: int) -> int:
    """The on-chain price of "`text` tokenOut per tokenIn", rounded up so that a limit price is
    never looser than the one asked for."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        price = _decimal(text, "price")
        if price < 0:
            raise UserError(f"price {text} must not be negative")
        raw = price.scaleb(decimals_out - decimals_in) * PRICE_SCALE
        return int(raw.to_integral_value(rounding=ROUND_CEILING))


def format_price(raw: int, decimals_in: int, decimals_out: int) -> str:
    """A raw 1e18-scaled price as tokenOut per tokenIn (the number only; callers add the unit)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        value = (Decimal(raw) / PRICE_SCALE).scaleb(decimals_in - decimals_out)
        text = format(value.quantize(Decimal(1).scaleb(-min(decimals_out, 18))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_duration(text: str) -> int:
    """Seconds of "90", "30m", "2h" or "7d"."""
    match = _DURATION_RE.fullmatch(text.strip())
    if not match or int(match[1]) == 0:
        raise UserError(f"duration {text!r}: write a positive number with s, m, h or d (2h, 7d)")
    return int(match[1]) * _SECONDS[match[2]]


def parse_bps(text: str, what: str) -> int:
    """Basis points from "10%" or "1000" (bps)."""
    text = text.strip()
    if text.endswith("%"):
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            bps = _decimal(text[:-1], what) * 100
    else:
        bps = _decimal(text, what)
    if bps != bps.to_integral_value() or not 0 <= bps <= 10_000:
        raise UserError(f"{what} {text!r}: a whole number of basis points 0..10000, or 0%..100%")
    return int(bps)
