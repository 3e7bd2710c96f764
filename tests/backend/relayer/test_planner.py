"""Batch planning and fee bumps as pure functions: a simulated router where some vaults revert any
batch holding them and each vault costs fixed gas, so every rule can be checked exactly (and
fuzzed: no vault is lost or duplicated, no batch over the limits, no good vault left out)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.relayer.fees import Fees, bumped
from backend.relayer.planner import (
    ROUTER_RESERVE_GAS,
    balanced_chunks,
    gas_limit_for,
    plan_batches,
)
from backend.relayer.simulate import Simulation

PER_VAULT_GAS = 100_000
BAD = bytes.fromhex("deadbeef") + b"\x00" * 32
OUT_OF_GAS = bytes.fromhex("0badf00d")


class FakeRouter:
    def __init__(self, bad: set[str]):
        self.bad = bad
        self.calls: list[list[str]] = []

    def __call__(self, chunk, budget):
        self.calls.append(list(chunk))
        culprit = next((v for v in chunk if v in self.bad), None)
        if culprit is not None:
            return Simulation(ok=False, gas_used=0, revert_data=BAD, reason=f"Bad({culprit})")
        gas = PER_VAULT_GAS * len(chunk)
        if gas > budget:
            return Simulation(ok=False, gas_used=budget, revert_data=OUT_OF_GAS, reason="OOG")
        return Simulation(ok=True, gas_used=gas, mirrored=len(chunk))


VAULTS = [f"v{i:03}" for i in range(40)]


def test_balanced_chunks__fewest_and_sizes_differ_by_at_most_one():
    assert [len(c) for c in balanced_chunks(VAULTS[:7], 3)] == [3, 2, 2]
    assert [len(c) for c in balanced_chunks(VAULTS[:6], 3)] == [3, 3]
    assert balanced_chunks([], 3) == []


def test_plan__all_good__balanced_batches_with_gas_limits():
    batches, left_out = plan_batches(VAULTS[:7], FakeRouter(set()), max_batch=3, budget=10**7)
    assert [b.vaults for b in batches] == [VAULTS[0:3], VAULTS[3:5], VAULTS[5:7]]
    assert left_out == []
    gas = 3 * PER_VAULT_GAS
    assert batches[0].gas_limit == gas * 5 // 4 + ROUTER_RESERVE_GAS


def test_plan__bad_vault__left_out_with_its_reason_survivors_together_again():
    router = FakeRouter({"v005"})
    batches, left_out = plan_batches(VAULTS[:8], router, max_batch=8, budget=10**7)
    assert [(e.vault, e.reason, e.selector) for e in left_out] == [
        ("v005", "Bad(v005)", "0xdeadbeef")
    ]
    assert [b.vaults for b in batches] == [[v for v in VAULTS[:8] if v != "v005"]]


def test_plan__over_the_budget__halved_until_it_fits():
    batches, left_out = plan_batches(VAULTS[:8], FakeRouter(set()), max_batch=8, budget=350_000)
    assert left_out == []
    assert [len(b.vaults) for b in batches] == [2, 2, 2, 2]
    assert all(b.gas_limit <= 350_000 for b in batches)


def test_gas_limit__never_above_the_budget():
    assert gas_limit_for(14_000_000, 2**24) == 2**24
    assert gas_limit_for(0, 2**24) == ROUTER_RESERVE_GAS


@given(
    count=st.integers(0, 40),
    bad=st.sets(st.integers(0, 39), max_size=6),
    max_batch=st.integers(1, 12),
    budget=st.integers(PER_VAULT_GAS, 15 * PER_VAULT_GAS),
)
def test_plan__fuzzed__every_vault_once_bad_out_good_in_limits_kept(count, bad, max_batch, budget):
    vaults = VAULTS[:count]
    bad_vaults = {VAULTS[i] for i in bad if i < count}
    batches, left_out = plan_batches(
        vaults, FakeRouter(bad_vaults), max_batch=max_batch, budget=budget
    )
    planned = [v for b in batches for v in b.vaults]
    assert sorted(planned + [e.vault for e in left_out]) == sorted(vaults)  # none lost, none twice
    assert {e.vault for e in left_out} == bad_vaults
    assert all(len(b.vaults) <= max_batch for b in batches)
    assert all(PER_VAULT_GAS * len(b.vaults) <= budget and b.gas_limit <= budget for b in batches)
    assert planned == [v for v in vaults if v in set(planned)]  # vault order kept


def test_bump__raises_both_fees_by_the_percentage():
    assert bumped(Fees(100, 10), Fees(50, 5), percent=25, cap=10**9) == Fees(125, 13)


def test_bump__follows_the_market_when_it_rose_more():
    assert bumped(Fees(100, 10), Fees(300, 30), percent=25, cap=10**9) == Fees(300, 30)


def test_bump__capped__and_none_when_the_cap_leaves_no_valid_bump():
    assert bumped(Fees(100, 10), Fees(50, 5), percent=25, cap=115) == Fees(115, 13)
    assert bumped(Fees(100, 10), Fees(50, 5), percent=25, cap=105) is None
