"""Fixtures for UniswapV2Venue tests, against the real Uniswap V2 factory and pair bytecode from
npm.
"""

from __future__ import annotations

import pytest

from tests.utils.deploy import npm_container


@pytest.fixture(scope="session")
def uniswap(system):
    return system.uniswap


@pytest.fixture(scope="session")
def pair(uniswap, weth, usdc):
    """The seeded WETH/USDC pair (1,000 WETH : 3,000,000 USDC)."""
    return npm_container("UniswapV2Pair").at(uniswap.factory.getPair(weth, usdc))


@pytest.fixture(scope="session")
def uniswap_router(deployer, uniswap, weth):
    """Uniswap's own Router02 from npm: its getAmountOut is UniswapV2Library's formula, run on
    chain.
    """
    return deployer.deploy(npm_container("UniswapV2Router02"), uniswap.factory, weth)


@pytest.fixture(scope="session")
def trader(accounts):
    """Whoever pays a venue: in production a vault, here an account that holds the input."""
    return accounts[15]


@pytest.fixture(scope="session")
def fee_token(project, deployer, uniswap, usdc):
    """A token burning 1 % of every transfer, paired with USDC (1,000 FEE : 3,000,000 USDC)."""
    token = deployer.deploy(project.FeeOnTransferToken, 100)
    uniswap.add_liquidity(token, usdc, 1_000 * 10**18, 3_000_000 * 10**6, deployer)
    return token


@pytest.fixture(scope="session")
def fee_pair(uniswap, fee_token, usdc):
    return npm_container("UniswapV2Pair").at(uniswap.factory.getPair(fee_token, usdc))


def reserves(pair, token_in) -> tuple[int, int]:
    """(reserveIn, reserveOut) of `pair` for a trade selling `token_in`."""
    reserve0, reserve1, _ = pair.getReserves()
    return (reserve0, reserve1) if pair.token0() == token_in.address else (reserve1, reserve0)


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: 0.3 % fee on the input, rounded down."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1_000 + with_fee)
