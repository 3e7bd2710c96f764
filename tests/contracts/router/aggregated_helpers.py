"""Helpers for the aggregated-mode router tests (test_aggregated_*.py).

Plain functions, not fixtures: the folder is shared with the sequential-mode tests, so it has no
conftest of its own.

Why `assert_reverts` and not `ape.reverts` for calls through the router: Ape decodes a revert only
with the ABI of the contract called. An error raised by a vault, the registry or a token and
bubbled up by the router is not in the router's ABI, so Ape raises a plain ContractLogicError and
`ape.reverts(vault.InsufficientOutput)` accepts *any* revert (checked: `ape.reverts(
router.EmptyBatch)` passed on an InsufficientOutput). For such errors Ape also walks the whole
struct-log trace, 30-60 s per revert of an aggregated batch on this machine. `assert_reverts` runs
the call as an `eth_call` and checks the revert data with tests/utils/reverts.py (exact selector,
decoded arguments), in milliseconds. (That module's `reverts` is the same check on a sent
transaction, with Ape's cost.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi import decode

from backend.chain import eip712
from tests.utils.reverts import check_revert_data

# ----------------------------------------------------------------------------- errors and reverts


def _eth_call(method, args, sender) -> tuple[bool, bytes]:
    """(succeeded, return or revert data) of `method(*args)` from `sender`, on the latest state."""
    contract = method.contract
    tx = {
        "from": str(getattr(sender, "address", sender)),
        "to": str(contract.address),
        "data": "0x" + bytes(method.encode_input(*args)).hex(),
    }
    response = contract.provider.web3.provider.make_request("eth_call", [tx, "latest"])
    if "error" in response:
        return False, bytes.fromhex((response["error"].get("data") or "0x")[2:])
    return True, bytes.fromhex(response["result"][2:])


def revert_data(method, *args, sender) -> bytes:
    """Revert data of `method(*args)`; fails the test if the call succeeds."""
    succeeded, data = _eth_call(method, args, sender)
    assert not succeeded, f"{method.abis[0].name} did not revert"
    return data


def call_or_revert(method, *args, sender, output_types: Sequence[str]) -> tuple[bool, object]:
    """(True, decoded outputs) if `method(*args)` succeeds, else (False, the revert's selector)."""
    succeeded, data = _eth_call(method, args, sender)
    return (True, decode(list(output_types), data)) if succeeded else (False, data[:4])


def assert_reverts(error, method, *args, sender, **expected_inputs) -> dict:
    """Assert that `method(*args)` reverts with exactly `error` (and the given argument values).
    Returns the decoded arguments."""
    return check_revert_data(revert_data(method, *args, sender=sender), error, **expected_inputs)


def pull_preview(vault, intent, signature, router) -> tuple[int, int]:
    """(amountIn, minOut) that `vault.pullAggregated` returns to the router right now: the pull
    simulated from the router's address as an `eth_call`, so nothing is marked, counted or moved.
    (The vault's quote view, quoteAggregated, is gone: the pull runs every check itself.) Fails the
    test if the vault would refuse."""
    ok, result = call_or_revert(
        vault.pullAggregated, intent, signature, sender=router, output_types=["uint256", "uint256"]
    )
    assert ok, f"{vault.address} refuses the pull: 0x{bytes(result).hex()}"
    return tuple(result)


def op_nonce(vault) -> int:
    """A vault's operation nonce. Ape's `vault.nonce` is the account nonce (an int) and shadows the
    contract's `nonce()` view, so tests/conftest.py's `vault.nonce()` fails with a TypeError."""
    return vault.call_view_method("nonce")


def skips(receipt, router) -> list[tuple[str, bytes]]:
    """(vault, reason selector) of every MirrorSkipped event, in emission order."""
    return [(str(e.vault), bytes(e.reason)) for e in receipt.decode_logs(router.MirrorSkipped)]


def batch_counts(receipt, router) -> tuple[int, int]:
    (event,) = receipt.decode_logs(router.BatchMirrored)
    return event.mirrored, event.skipped


# ----------------------------------------------------------------------------- intents and balances


def intent_for(
    system,
    leader,
    chain,
    *,
    token_in=None,
    token_out=None,
    venue=None,
    fraction_bps=1_000,
    min_price=0,
    nonce=0,
) -> eip712.TradeIntent:
    """A TradeIntent (WETH to USDC through the Uniswap venue by default)."""
    return eip712.TradeIntent(
        leader=str(leader.address),
        venue=str((venue or system.venue).address),
        token_in=str((token_in or system.weth).address),
        token_out=str((token_out or system.usdc).address),
        fraction_bps=fraction_bps,
        min_price=min_price,
        nonce=nonce,
        deadline=chain.pending_timestamp + 3_600,
    )


@dataclass
class Snapshot:
    """tokenIn/tokenOut balances of a list of vaults at one moment."""

    token_in: object
    token_out: object
    vaults: list
    ins: list[int]
    outs: list[int]

    @classmethod
    def take(cls, token_in, token_out, vaults) -> Snapshot:
        vaults = list(vaults)
        return cls(
            token_in,
            token_out,
            vaults,
            [token_in.balanceOf(v) for v in vaults],
            [token_out.balanceOf(v) for v in vaults],
        )

    def deltas(self) -> list[tuple[int, int]]:
        """(tokenIn sold, tokenOut received) per vault since the snapshot."""
        return [
            (before_in - self.token_in.balanceOf(v), self.token_out.balanceOf(v) - before_out)
            for v, before_in, before_out in zip(self.vaults, self.ins, self.outs, strict=True)
        ]


def expected_shares(amounts_in: Sequence[int], total_out: int) -> list[int]:
    """The router's documented split: floor(totalOut * in_i / totalIn), then the remainder one wei
    each to the first vaults that take part (amount 0 = skipped, gets nothing)."""
    total_in = sum(amounts_in)
    shares = [total_out * a // total_in for a in amounts_in]
    remainder = total_out - sum(shares)
    for i, a in enumerate(amounts_in):
        if remainder == 0:
            break
        if a:
            shares[i] += 1
            remainder -= 1
    return shares


def assert_same_price(trades: Sequence[tuple[int, int]], total_in: int, total_out: int) -> None:
    """Every (in, out) trade got totalOut/totalIn to within one wei of rounding."""
    for amount_in, amount_out in trades:
        exact = total_out * amount_in // total_in
        assert exact <= amount_out <= exact + 1, (amount_in, amount_out, total_in, total_out)


def price_gt(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Trade a = (in, out) got a strictly better price (out per in) than b, compared exactly."""
    return a[1] * b[0] > b[1] * a[0]


def assert_router_clean(router, tokens, spenders) -> None:
    """Invariant 5: the router holds no token and has granted no allowance."""
    for token in tokens:
        assert token.balanceOf(router) == 0, f"router holds {token.symbol()}"
        for spender in spenders:
            assert token.allowance(router, spender) == 0, f"router allowance of {token.symbol()}"


def deploy_runtime(contract, deployer, runtime: bytes) -> str:
    """Deploy `runtime` as a contract's code, straight from bytes (for hostile stand-ins that
    contracts/test/ does not have), through `contract`'s node. Returns the address."""
    assert len(runtime) < 256
    initcode = bytes.fromhex(f"60{len(runtime):02x}80600b6000396000f3") + runtime  # copy, return
    web3 = contract.provider.web3
    tx_hash = web3.eth.send_transaction({"from": str(deployer.address), "data": initcode.hex()})
    address = web3.eth.wait_for_transaction_receipt(tx_hash)["contractAddress"]
    assert bytes(web3.eth.get_code(address)) == runtime
    return address


def sell_into_pool(venue, token_in, token_out, amount: int, trader) -> None:
    """Move the Uniswap pool: `trader` sells `amount` of `token_in` through the venue."""
    token_in.mint(trader, amount, sender=trader)
    token_in.transfer(venue.inputRecipient(token_in, token_out), amount, sender=trader)
    venue.swap(token_in, token_out, amount, trader, sender=trader)
