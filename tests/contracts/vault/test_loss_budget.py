"""CopyVault loss budget (Policy.lossBudgetBps): cumulative execution loss against the oracle, in
millionths of a basis point, decaying linearly by the budget every 24 h; 0 is off
(docs/protocol.md §1.1)."""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .helpers import DAY, LOSS_UNIT, decayed, loss_of, uniswap_out

WORST_AT_1_PCT = 100 * LOSS_UNIT  # the worst case a 1 % slippage bound allows: 100 bps


def _policy(loss_budget_bps: int) -> tuple:
    return (5_000, 100, 3_600, 10, loss_budget_bps)  # 1 % slippage bound


@pytest.fixture
def budget_vault(create_vault, weth, deposit):
    """A 2-of-3 vault with 10 WETH and the given loss budget."""

    def _vault(loss_budget_bps: int):
        vault = create_vault(policy=_policy(loss_budget_bps))
        deposit(vault, weth, 10 * 10**18)
        return vault

    return _vault


@pytest.fixture
def trade(make_intent, sign_intent, relayer):
    """Mirror a 10 % WETH → USDC intent; returns the Mirrored event (with the block's timestamp)."""

    def _trade(vault, **intent_fields):
        receipt = vault.mirror(*sign_intent(make_intent(**intent_fields)), sender=relayer)
        [event] = receipt.decode_logs(vault.Mirrored)
        return event, receipt.timestamp

    return _trade


def test_loss_budget__zero__off_and_records_nothing(budget_vault, trade):
    vault = budget_vault(0)

    event, _ = trade(vault)  # its worst case (1 %) would exceed any small budget

    assert event.amountOut < event.oracleOut  # a real loss (fee and price impact)
    assert vault.lossUsed() == 0


def test_loss_budget__worst_case_above_budget__reverts_loss_budget_exceeded(
    budget_vault, make_intent, sign_intent, relayer
):
    vault = budget_vault(50)

    with reverts(vault.LossBudgetExceeded, lossAfterTrade=WORST_AT_1_PCT, budget=50 * LOSS_UNIT):
        vault.mirror(*sign_intent(make_intent()), sender=relayer)


def test_loss_budget__leader_limit_brings_worst_case_to_budget__trades_and_records_realised_loss(
    budget_vault, trade, weth, usdc, reserves
):
    vault = budget_vault(50)
    expected_out = uniswap_out(10**18, *reserves(weth, usdc))

    # Leader's limit $2,985 per WETH: worst case 0.5 % of the $3,000 oracle value, the budget.
    event, _ = trade(vault, min_price=2_985 * 10**6)

    assert (event.oracleOut, event.amountOut) == (3_000 * 10**6, expected_out)
    assert vault.lossUsed() == loss_of(3_000 * 10**6, expected_out) > 0


def test_loss_budget__recorded_loss__decays_linearly_by_budget_per_day(budget_vault, trade, chain):
    vault = budget_vault(100)
    event, traded_at = trade(vault)
    recorded = loss_of(event.oracleOut, event.amountOut)
    assert vault.lossUsed() == recorded

    for elapsed in (1, 3_600, 6 * 3_600, 30_000):
        chain.mine(timestamp=traded_at + elapsed)
        assert vault.lossUsed() == decayed(recorded, elapsed, 100) > 0

    # 100 bps a day clears the whole loss (< 100 bps) within a day.
    chain.mine(timestamp=traded_at + DAY)
    assert vault.lossUsed() == 0


def test_loss_budget__recorded_loss_plus_worst_case_above_budget__reverts_until_decayed(
    budget_vault, trade, make_intent, sign_intent, chain, refresh_feeds, relayer
):
    vault = budget_vault(100)
    event, traded_at = trade(vault)  # worst case exactly 100 bps: fits an empty budget
    recorded = loss_of(event.oracleOut, event.amountOut)

    chain.pending_timestamp = traded_at + 600
    with reverts(
        vault.LossBudgetExceeded,
        lossAfterTrade=decayed(recorded, 600, 100) + WORST_AT_1_PCT,
        budget=100 * LOSS_UNIT,
    ):
        vault.mirror(*sign_intent(make_intent()), sender=relayer)

    chain.pending_timestamp = traded_at + DAY
    refresh_feeds()
    trade(vault)


def test_loss_budget__gain_on_a_trade__does_not_offset_recorded_loss(
    budget_vault, trade, weth, usdc, move_pool
):
    vault = budget_vault(200)
    first, first_at = trade(vault)
    recorded = loss_of(first.oracleOut, first.amountOut)
    move_pool(usdc, weth, 60_000 * 10**6)  # WETH ~4 % dearer in the pool than at the oracle

    second, second_at = trade(vault)

    assert second.amountOut > second.oracleOut  # a gain against the oracle
    assert vault.lossUsed() == decayed(recorded, second_at - first_at, 200) > 0
