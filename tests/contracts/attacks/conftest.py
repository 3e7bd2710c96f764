"""Fixtures of the attack suite: extra actors, the watched default vault, hostile tokens, venues."""

from __future__ import annotations

import pytest
from ape_ethereum.ecosystem import Ethereum
from ape_ethereum.trace import Trace

from tests.conftest import HOUR, fund
from tests.contracts.attacks.helpers import USDC, WETH, Watch
from tests.utils.deploy import FEED_DECIMALS, WETH_PRICE_USD, npm_container

# ----------------------------------------------------------------------------- speed


@pytest.fixture(autouse=True)
def _cheap_reverts(monkeypatch):
    """Nearly every test here reverts on purpose, and Ape spends seconds on each revert: ape-foundry
    enriches and prints the whole call tree, and for an error bubbled up from another contract Ape
    walks every struct-log frame of the trace to guess which contract raised it (up to 10 s each on
    this machine). In this folder only, both are skipped: the revert data is untouched, and
    tests/utils/reverts.py decodes it itself when Ape cannot."""
    monkeypatch.setattr(Trace, "show", lambda self, *args, **kwargs: None)
    decode = Ethereum.decode_custom_error

    def decode_from_the_called_contract_only(self, data, address, **kwargs):
        kwargs.pop("trace", None)
        kwargs.pop("txn", None)
        return decode(self, data, address, **kwargs)

    monkeypatch.setattr(Ethereum, "decode_custom_error", decode_from_the_called_contract_only)


# ----------------------------------------------------------------------------- actors


@pytest.fixture(scope="session")
def delegate(accounts):
    """A leader's trade-only key."""
    return accounts[11]


@pytest.fixture(scope="session")
def other_leader(accounts):
    return accounts[12]


@pytest.fixture(scope="session")
def depositor(accounts):
    return accounts[13]


@pytest.fixture(params=["admin", "guardian"])
def platform_role(request):
    """The admin (holding every factory and oracle role) and the guardian, in turn."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def signers(owners):
    """Two of the default 2-of-3 vault's owners: enough to approve anything."""
    return owners[:2]


# ----------------------------------------------------------------------------- vaults and watches


@pytest.fixture(scope="module")
def vault_under_attack(create_vault, weth, usdc, deployer):
    """The default 2-of-3 vault holding 10 WETH and 30,000 USDC, created once per module rather
    than per test: Ape restores the chain before every test, so each test still starts from it."""
    vault = create_vault()
    fund(vault, weth, 10 * WETH, deployer)
    fund(vault, usdc, 30_000 * USDC, deployer)
    return vault


# Ape snapshots the chain per fixture scope. A session or module fixture first requested in the
# middle of the run makes it roll back and rebuild fixtures ("InvalidIsolationWarning"), so these
# two autouse fixtures create every wider-scoped fixture the folder uses before any test starts.


@pytest.fixture(scope="session", autouse=True)
def _session_fixtures_first(
    system,
    registry,
    factory,
    router,
    oracle,
    venue,
    weth,
    usdc,
    deployer,
    admin,
    leader,
    relayer,
    guardian,
    attacker,
    owners,
    follower,
    co_owner,
    delegate,
    other_leader,
    depositor,
    signers,
    chain_id,
    create_vault,
    project,
    accounts,
    chain,
):
    pass


@pytest.fixture(scope="module", autouse=True)
def _module_fixtures_first(_session_fixtures_first, vault_under_attack):
    pass


@pytest.fixture
def deadline(chain):
    return chain.pending_timestamp + HOUR


@pytest.fixture
def watch(vault_under_attack, weth, usdc, attacker, relayer):
    """The default funded 2-of-3 vault, its tokens, and the attacker's and relayer's balances."""
    return Watch([vault_under_attack], [weth, usdc], holders=[attacker, relayer])


@pytest.fixture
def withdraw(sign_withdrawal, relayer, deadline):
    """Sign a withdrawal by `signers_` and have the relayer submit it (kwargs go to the signer)."""

    def _withdraw(vault, signers_, token, amount, to, **sign_kwargs):
        addrs, sigs = sign_withdrawal(vault, signers_, token, amount, to, deadline, **sign_kwargs)
        return vault.withdraw(token, amount, to, deadline, addrs, sigs, sender=relayer)

    return _withdraw


@pytest.fixture
def config_calls(vault_under_attack, attacker, owners, venue, weth):
    """One call of each configuration function (name → calldata on the default vault)."""
    v = vault_under_attack
    return {
        "setLeader": v.setLeader.encode_input(attacker),
        "setPolicy": v.setPolicy.encode_input((10_000, 9_999, 10**6, 1_000, 0)),
        "setAssetAllowed": v.setAssetAllowed.encode_input(weth, False),
        "setVenueAllowed": v.setVenueAllowed.encode_input(venue, False),
        "setOracle": v.setOracle.encode_input(attacker),
        "addOwner": v.addOwner.encode_input(attacker),
        "removeOwner": v.removeOwner.encode_input(owners[2]),
        "setThreshold": v.setThreshold.encode_input(1),
        "unpause": v.unpause.encode_input(),
        "startCopying": v.startCopying.encode_input(),
        "setGuardianAccepted": v.setGuardianAccepted.encode_input(False),
    }


# ----------------------------------------------------------------------- hostile tokens and venues


@pytest.fixture
def list_token(system, admin, deployer, project):
    """Give `token` a Uniswap pair against USDC and an oracle feed, both at `price_usd`."""

    def _list(token, price_usd: int = WETH_PRICE_USD, depth: int = 1_000):
        decimals = token.decimals()
        system.uniswap.add_liquidity(
            token, system.usdc, depth * 10**decimals, depth * price_usd * USDC, deployer
        )
        feed = deployer.deploy(project.MockAggregator, FEED_DECIMALS, price_usd * 10**FEED_DECIMALS)
        system.oracle.setFeed(token, feed, sender=admin)
        return feed

    return _list


@pytest.fixture
def second_venue(project, deployer, system):
    """Another genuine Uniswap V2 adapter (same pools), on no allowlist."""
    return deployer.deploy(
        project.UniswapV2Venue, system.uniswap.factory, system.uniswap.pair_init_code_hash
    )


@pytest.fixture
def weth_usdc_pair(system):
    return npm_container("UniswapV2Pair").at(
        system.uniswap.factory.getPair(system.weth, system.usdc)
    )


@pytest.fixture
def reentrant_token(project, deployer, list_token):
    token = deployer.deploy(project.ReentrantToken)
    list_token(token)
    return token


@pytest.fixture
def reentrant_vault(create_vault, reentrant_token, weth, usdc, depositor):
    """A 2-of-3 vault allowing the reentrant token, holding 10 of it and 30,000 USDC (unarmed)."""
    vault = create_vault(assets=[reentrant_token.address, weth.address, usdc.address])
    fund(vault, reentrant_token, 10 * WETH, depositor)
    fund(vault, usdc, 30_000 * USDC, depositor)
    return vault
