"""EIP-1559 fees for the relayer's transactions, and the bump a replacement needs.

A first transaction offers the node's suggested tip and a max fee of twice the latest base fee
plus the tip (room for six full blocks of base-fee growth). A replacement must raise both fees by
at least 10% for nodes to take it (geth's and anvil's price-bump rule); it raises them by the
configured percentage, or to the current offer when that is higher. Nothing ever offers more than
the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from backend.chain.client import ChainClient
from backend.exceptions import RpcError

GWEI: Final = 10**9
DEFAULT_TIP: Final = 1 * GWEI  # for nodes without eth_maxPriorityFeePerGas
MIN_BUMP_PERCENT: Final = 10


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def _ceil_percent(value: int, percent: int) -> int:
    return -(-value * (100 + percent) // 100)


def current_fees(client: ChainClient, *, cap: int) -> Fees:
    """The offer for a new transaction now, within `cap` (wei per gas)."""
    try:
        tip = int(client.request("eth_maxPriorityFeePerGas"), 16)
    except RpcError:
        tip = DEFAULT_TIP
    header = client.request("eth_getBlockByNumber", ["latest", False]) or {}
    base_fee = int(header.get("baseFeePerGas") or "0x0", 16)
    max_fee = min(cap, 2 * base_fee + tip)
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=min(tip, max_fee))


def bumped(previous: Fees, now: Fees, *, percent: int, cap: int) -> Fees | None:
    """Fees for a replacement of a transaction sent with `previous`, or None when the cap leaves
    no room for the minimum bump (the transaction then waits as it is)."""
    tip = max(
        _ceil_percent(previous.max_priority_fee_per_gas, percent), now.max_priority_fee_per_gas
    )
    max_fee = max(_ceil_percent(previous.max_fee_per_gas, percent), now.max_fee_per_gas, tip)
    max_fee = min(max_fee, cap)
    tip = min(tip, max_fee)
    if max_fee < _ceil_percent(previous.max_fee_per_gas, MIN_BUMP_PERCENT) or tip < _ceil_percent(
        previous.max_priority_fee_per_gas, MIN_BUMP_PERCENT
    ):
        return None
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip)
