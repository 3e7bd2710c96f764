"""Fixtures for CopyVault unit tests: tokens of each decimals with feeds and a Uniswap pair,
vaults of each owner shape, approvals, and the market moves (time, feeds, pool prices)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from ape_ethereum.trace import Trace

from backend.chain import eip712
from tests.conftest import fund
from tests.utils.deploy import FEED_DECIMALS, WETH_PRICE_USD, npm_container
from tests.utils.signing import sign_approvals, vault_domain

from .helpers import DAY, DECIMALS, HOUR, SHAPE_IDS, SHAPES, vault_nonce

# Prices of the extra tokens, in feed units ($1.50 and $4.20): a 2.8 ratio, so quotes round.
EXTRA_PRICES = {6: 150_000_000, 18: 420_000_000}
EXTRA_POOL_UNITS = {6: 2_800_000, 18: 1_000_000}  # whole tokens in their pair, at the oracle price


@dataclass(frozen=True)
class Asset:
    """A token with its USD feed: what the oracle needs to quote it."""

    token: Any
    feed: Any
    decimals: int
    price: int
    feed_decimals: int = FEED_DECIMALS

    def units(self, amount: int | float) -> int:
        return int(amount * 10**self.decimals)


class ShapedVault(NamedTuple):
    vault: Any
    owners: list
    threshold: int

    @property
    def signers(self) -> list:
        """Exactly the threshold of owners (the last ones: not only the creator signs)."""
        return self.owners[-self.threshold :]


# ----------------------------------------------------------------------------- test speed


@pytest.fixture(autouse=True)
def _no_call_trace_printout_on_revert(monkeypatch):
    """ape-foundry prints an enriched call trace on every revert. Enriching it checks each address
    in the trace against every test account, re-deriving their keys in pure Python (coincurve is
    not installed): 1-14 s per expected revert. The decoded error is unaffected. Set
    COPYVAULT_REVERT_TRACES=1 to get the printout back when debugging."""
    if not os.environ.get("COPYVAULT_REVERT_TRACES"):
        monkeypatch.setattr(Trace, "show", lambda self, *args, **kwargs: None)


# ----------------------------------------------------------------------------- actors


@pytest.fixture(scope="session")
def other_leader(accounts):
    """A leader the test vaults do not follow."""
    return accounts[11]


@pytest.fixture(scope="session")
def recipient(accounts):
    """Where owners send a withdrawal."""
    return accounts[12]


@pytest.fixture(scope="session")
def trader(accounts):
    """Someone trading on Uniswap directly, moving the pool price."""
    return accounts[13]


@pytest.fixture(scope="session")
def sanctioned(accounts):
    """A depositor on the platform's sanctions list."""
    return accounts[14]


# ----------------------------------------------------------------------------- tokens and market


@pytest.fixture(scope="session")
def assets(project, system, deployer, admin) -> dict[int, Asset]:
    """One extra token per decimals (6 and 18), each with a feed in the oracle, and their Uniswap
    pair seeded at the oracle price."""
    out = {}
    for decimals in DECIMALS:
        token = deployer.deploy(project.TestToken, f"Test {decimals}", f"T{decimals}", decimals)
        feed = deployer.deploy(project.MockAggregator, FEED_DECIMALS, EXTRA_PRICES[decimals])
        system.oracle.setFeed(token, feed, sender=admin)
        out[decimals] = Asset(token, feed, decimals, EXTRA_PRICES[decimals])
    system.uniswap.add_liquidity(
        out[6].token,
        out[18].token,
        out[6].units(EXTRA_POOL_UNITS[6]),
        out[18].units(EXTRA_POOL_UNITS[18]),
        deployer,
    )
    return out


@pytest.fixture(scope="session")
def priced(system, assets) -> dict[str, Asset]:
    """Every priced token (WETH, USDC and the extra ones) by address."""
    weth = Asset(system.weth, system.feeds["WETH"], 18, WETH_PRICE_USD * 10**FEED_DECIMALS)
    usdc = Asset(system.usdc, system.feeds["USDC"], 6, 10**FEED_DECIMALS)
    return {a.token.address: a for a in [weth, usdc, *assets.values()]}


@pytest.fixture
def refresh_feeds(priced, deployer):
    """Re-post every feed's answer now (after time travel, answers are older than maxOracleAge)."""

    def _refresh():
        for asset in priced.values():
            asset.feed.setAnswer(asset.feed.answer(), sender=deployer)

    return _refresh


@pytest.fixture
def next_day(chain, refresh_feeds):
    """Go to `offset` seconds into the next UTC day, with fresh feeds; returns the day number."""

    def _next_day(offset: int = 60) -> int:
        day = chain.blocks.head.timestamp // DAY + 1
        chain.pending_timestamp = day * DAY + offset
        refresh_feeds()
        return day

    return _next_day


@pytest.fixture
def pair_of(system):
    def _pair(token_a, token_b):
        return npm_container("UniswapV2Pair").at(system.uniswap.factory.getPair(token_a, token_b))

    return _pair


@pytest.fixture
def reserves(pair_of):
    """(reserve of token_in, reserve of token_out) in their Uniswap pair."""

    def _reserves(token_in, token_out) -> tuple[int, int]:
        r0, r1, _ = pair_of(token_in, token_out).getReserves()
        return (r0, r1) if int(token_in.address, 16) < int(token_out.address, 16) else (r1, r0)

    return _reserves


@pytest.fixture
def move_pool(system, pair_of, trader):
    """Sell `amount` of token_in into its pair directly (not through a vault): moves the price."""

    def _move(token_in, token_out, amount: int) -> None:
        token_in.mint(pair_of(token_in, token_out), amount, sender=trader)
        system.venue.swap(token_in, token_out, amount, trader, sender=trader)

    return _move


# ----------------------------------------------------------------------------- vaults


@pytest.fixture(params=SHAPES, ids=SHAPE_IDS)
def shaped_vault(request, create_vault, owners, system) -> ShapedVault:
    """A vault of each owner shape: 1-of-1, 2-of-3, 3-of-5."""
    threshold, count = request.param
    vault_owners = owners[:count]
    return ShapedVault(
        create_vault(owners_=vault_owners, threshold=threshold), vault_owners, threshold
    )


@pytest.fixture
def asset_vault(create_vault, assets, system):
    """A 2-of-3 vault allowing the 6- and 18-decimals tokens (and the Uniswap venue)."""
    return create_vault(assets=[a.token.address for a in assets.values()])


@pytest.fixture
def deposit(deployer):
    """Mint and deposit `amount` of `token` into `vault` (deployer as depositor)."""

    def _deposit(vault, token, amount: int) -> None:
        fund(vault, token, amount, deployer)

    return _deposit


@pytest.fixture
def sanctions_list(project, factory, admin, deployer):
    """A deny-list set on the factory by the compliance admin."""
    sanctions = deployer.deploy(project.MockSanctionsList)
    factory.setSanctionsList(sanctions, sender=admin)
    return sanctions


# ----------------------------------------------------------------------------- approvals

# These two override tests/conftest.py's fixtures of the same name, which read the nonce with
# `vault.nonce()`: on an Ape contract instance that attribute is the account nonce of the address
# (an int), so they fail with "'int' object is not callable" unless a nonce is passed.


@pytest.fixture
def sign_withdrawal(chain_id):
    """Approvals for `vault.withdraw` at the vault's current nonce (unless one is given)."""

    def _sign(vault, signers, token, amount, to, deadline, nonce=None, domain_chain_id=None):
        message = eip712.Withdrawal(
            token=str(getattr(token, "address", token)),
            amount=amount,
            to=str(getattr(to, "address", to)),
            nonce=vault_nonce(vault) if nonce is None else nonce,
            deadline=deadline,
        )
        return sign_approvals(vault_domain(vault, domain_chain_id or chain_id), message, signers)

    return _sign


@pytest.fixture
def sign_config(chain_id):
    """Approvals for `vault.executeConfig(data, ...)` at the vault's nonce (unless one is given)."""

    def _sign(vault, signers, data: bytes, deadline, nonce=None):
        message = eip712.ConfigChange(
            data=bytes(data),
            nonce=vault_nonce(vault) if nonce is None else nonce,
            deadline=deadline,
        )
        return sign_approvals(vault_domain(vault, chain_id), message, signers)

    return _sign


@pytest.fixture
def withdraw(sign_withdrawal, chain, relayer):
    """Withdraw with the given owners' approvals (submitted by the relayer)."""

    def _withdraw(vault, signers, token, amount: int, to):
        deadline = chain.pending_timestamp + HOUR
        addrs, sigs = sign_withdrawal(vault, signers, token, amount, to, deadline)
        return vault.withdraw(token, amount, to, deadline, addrs, sigs, sender=relayer)

    return _withdraw
