"""Invariant-test fixtures: a vault with a policy fit for long random runs, the actors around
it, and a fast "must revert, exactly so, and change nothing" check.

Why not `ape.reverts` here: a random run expects hundreds of reverts, and on each one Ape (with
ape-foundry) fetches and prints a call trace; and `ape.reverts(Error)` passes on any revert Ape
could not decode into a custom error (as with errors of nested contracts in an eth_call), so it
can pass vacuously. `RawChain.expect_revert` instead
1. runs the call as `eth_call` and checks the revert data with tests/utils/reverts.py (the
   expected error's selector and ABI-decoded inputs), whichever contract raised it (the vault,
   the registry or a token); then
2. mines the same call as a real transaction (anvil holds the test keys) and asserts it failed,
   so the state checks that follow every step see the chain after a reverted transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import to_checksum_address
from web3.exceptions import ContractLogicError as Web3ContractLogicError

from tests.conftest import fund
from tests.utils.deploy import npm_container
from tests.utils.reverts import check_revert_data

HOUR = 3_600
DAY = 86_400
BPS = 10_000
# maxFractionBps 5 %, maxSlippageBps 1 %, maxOracleAge ~136 years (runs travel in time and the
# mock feeds are never refreshed), maxTradesPerDay 3 (so the cap is reached), lossBudgetBps off.
INVARIANT_POLICY = (500, 100, 2**32 - 1, 3, 0)


def address_of(x) -> str:
    return to_checksum_address(str(x.address if hasattr(x, "address") else x))


def op_nonce(contract) -> int:
    """The vault's `nonce()` view (Ape's `contract.nonce` is the account nonce: it shadows the
    ABI method)."""
    return contract.call_view_method("nonce")


@dataclass
class RawChain:
    """Expected failures through the node's JSON-RPC directly (see the module docstring)."""

    web3: Any

    def revert_data(self, handler, *args, by) -> bytes | None:
        """The revert data of `handler(*args)` sent by `by` as eth_call, or None if it succeeds."""
        tx = {
            "from": address_of(by),
            "to": address_of(handler.contract),
            "data": handler.encode_input(*args),
        }
        try:
            self.web3.eth.call(tx)
        except Web3ContractLogicError as exc:
            data = exc.data if isinstance(exc.data, str) else "0x"
            return bytes.fromhex(data.removeprefix("0x"))
        return None

    def expect_revert(self, handler, *args, by, error, **inputs) -> None:
        """Assert `handler(*args)` from `by` reverts with the custom `error` (an Ape error class
        of any contract) and the given `inputs` (a subset, by name); then mine it and assert the
        transaction failed."""
        data = self.revert_data(handler, *args, by=by)
        assert data is not None, (
            f"{handler.abis[0].name} did not revert; expected {error.abi.selector}"
        )
        check_revert_data(data, error, **inputs)
        tx = {
            "from": address_of(by),
            "to": address_of(handler.contract),
            "data": handler.encode_input(*args),
            "gas": 3_000_000,  # fixed, so the node does not refuse the tx at gas estimation
        }
        receipt = self.web3.eth.wait_for_transaction_receipt(self.web3.eth.send_transaction(tx))
        assert receipt.status == 0, (
            f"{error.abi.selector} expected, but the mined transaction succeeded"
        )


@pytest.fixture(scope="session")
def raw_chain(chain) -> RawChain:
    return RawChain(chain.provider.web3)


@pytest.fixture(scope="session")
def depositor(accounts):
    return accounts[15]


@pytest.fixture(scope="session")
def recipient(accounts):
    return accounts[16]


@pytest.fixture(scope="session")
def pair(system):
    return npm_container("UniswapV2Pair").at(
        system.uniswap.factory.getPair(system.weth, system.usdc)
    )


@pytest.fixture
def invariant_vault(create_vault, owners, weth, usdc, depositor):
    """A 2-of-3 vault of owners[0:3] under INVARIANT_POLICY, holding 10 WETH and 30,000 USDC."""
    vault = create_vault(owners_=owners[:3], threshold=2, policy=INVARIANT_POLICY, sender=owners[0])
    fund(vault, weth, 10 * 10**18, depositor)
    fund(vault, usdc, 30_000 * 10**6, depositor)
    return vault


@pytest.fixture
def shaped_vault(request, create_vault, owners, weth, depositor):
    """An N-owner, M-threshold vault (indirectly parametrised with (N, M)), holding 10 WETH."""
    n, m = request.param
    vault = create_vault(owners_=owners[:n], threshold=m, sender=owners[0])
    fund(vault, weth, 10 * 10**18, depositor)
    return vault
