"""Fixtures for LeaderRegistry tests: a delegate key and a contract leader (EIP-1271)."""

from __future__ import annotations

import pytest

HOUR = 3_600
DAY = 86_400


@pytest.fixture(scope="session")
def delegate(accounts):
    """A leader's short-lived trade-only key."""
    return accounts[11]


@pytest.fixture(scope="session")
def wallet_key(accounts):
    """The EOA behind the contract leader: signs its intents and forwards its calls."""
    return accounts[12]


@pytest.fixture(scope="session")
def contract_leader(project, deployer, wallet_key):
    """A leader that is a smart-contract account approving digests through EIP-1271."""
    return deployer.deploy(project.MockERC1271Wallet, wallet_key)


@pytest.fixture
def appoint(registry, chain):
    """`leader` appoints `delegate_` for `ttl` seconds; returns the expiry."""

    def _appoint(leader_, delegate_, ttl=HOUR):
        expiry = chain.pending_timestamp + ttl
        registry.setDelegate(delegate_, expiry, sender=leader_)
        return expiry

    return _appoint
