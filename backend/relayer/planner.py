"""Splitting an intent's vaults into mirrorAggregated batches that fit the gas budget and do not
revert.

`plan_batches` starts from balanced chunks of at most `max_batch` vaults and simulates each at the
full budget. A chunk that succeeds becomes a batch; one that reverts is halved and each half
simulated again, so a vault that makes every batch holding it revert ends up alone and is left out
with the error it causes, while the others go ahead. `BatchOutOfGas` is handled the same way:
halves until the chunks fit. Vaults the router would merely skip (paused, over a limit) stay in:
the chain records their reason in `MirrorSkipped`, where anyone can read it.

The gas limit of a batch covers what its simulation used plus the router's fixed per-vault call gas,
so the router never runs short before the last vault (see `gas_limit_for`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from backend.relayer.simulate import Simulation

# What CopyRouter requires left before each vault's pull: PULL_CALL_GAS * 64 / 63 plus the gas it
# keeps for itself after the call (AFTER_CALL_GAS), rounded up with room to spare.
ROUTER_RESERVE_GAS: Final = 600_000
# Refunds (EIP-3529) lower the gas a transaction is charged by at most a fifth of it: the peak
# use during execution is at most 5/4 of the gas used.
PEAK_NUMERATOR: Final = 5
PEAK_DENOMINATOR: Final = 4


@dataclass(frozen=True)
class PlannedBatch:
    vaults: list[str]
    gas_limit: int
    simulation: Simulation


@dataclass(frozen=True)
class LeftOut:
    vault: str
    reason: str
    selector: str


def gas_limit_for(gas_used: int, budget: int) -> int:
    """A limit at which the simulated execution runs unchanged: peak use plus the router's reserve.
    The simulation ran at `budget`, so `budget` itself is always safe."""
    peak = math.ceil(gas_used * PEAK_NUMERATOR / PEAK_DENOMINATOR)
    return min(budget, peak + ROUTER_RESERVE_GAS)


def balanced_chunks(vaults: Sequence[str], max_batch: int) -> list[list[str]]:
    """The fewest chunks of at most `max_batch`, as equal in size as possible."""
    if not vaults:
        return []
    count = math.ceil(len(vaults) / max_batch)
    base, extra = divmod(len(vaults), count)
    chunks, start = [], 0
    for i in range(count):
        size = base + (1 if i < extra else 0)
        chunks.append(list(vaults[start : start + size]))
        start += size
    return chunks


def plan_batches(
    vaults: Sequence[str],
    simulate: Callable[[Sequence[str], int], Simulation],
    *,
    max_batch: int,
    budget: int,
) -> tuple[list[PlannedBatch], list[LeftOut]]:
    """Batches in vault order, and the vaults left out with the error they would cause.

    Halving leaves the survivors in small pieces; once the culprits are known, the survivors are
    planned again as balanced chunks (so a bad vault costs no extra transactions). Every pass
    leaves out at least one more vault or ends the loop."""
    remaining, left_out = list(vaults), []
    while True:
        batches, dropped = _halving_pass(remaining, simulate, max_batch=max_batch, budget=budget)
        left_out.extend(dropped)
        if not dropped:
            return batches, left_out
        gone = {entry.vault for entry in dropped}
        remaining = [vault for vault in remaining if vault not in gone]


def _halving_pass(
    vaults: Sequence[str],
    simulate: Callable[[Sequence[str], int], Simulation],
    *,
    max_batch: int,
    budget: int,
) -> tuple[list[PlannedBatch], list[LeftOut]]:
    batches: list[PlannedBatch] = []
    left_out: list[LeftOut] = []
    queue = deque(balanced_chunks(vaults, max_batch))
    while queue:
        chunk = queue.popleft()
        result = simulate(chunk, budget)
        if result.ok:
            batches.append(PlannedBatch(chunk, gas_limit_for(result.gas_used, budget), result))
        elif len(chunk) == 1:
            left_out.append(LeftOut(chunk[0], result.reason, result.selector))
        else:
            middle = len(chunk) // 2
            queue.appendleft(chunk[middle:])
            queue.appendleft(chunk[:middle])
    return batches, left_out
