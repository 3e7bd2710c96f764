"""The risk engine's features and thresholds, on hand-made histories (no store, no chain).

Each test teaches a leader a habit, then shows which features an intent scores and what action
follows; the bench (bench/risk.py) runs the same code over thousands of synthetic intents."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from backend.config import load_settings
from backend.risk.engine import PRICE_SCALE, RECENT_TIMES, IntentView, RiskEngine, RiskPolicy
from backend.risk.gate import FlaggedIntent, RiskGate

WETH, USDC, DAI, FRESH = "weth", "usdc", "dai", "fresh"
VENUE, OTHER_VENUE = "uniswap", "sushi"
USD = {WETH: 3_000.0, USDC: 1.0, DAI: 1.0, FRESH: 0.05}
START = 1_800_000_000.0  # a Friday, 08:00 UTC
GAP = 600.0  # the habitual leader trades every ten minutes


def _price(token_in: str, token_out: str, discount: float) -> int:
    return int(USD[token_in] / USD[token_out] * (1 - discount) * PRICE_SCALE)


def _view(leader: str = "alice", i: int = 0, **changes) -> IntentView:
    base = IntentView(leader, VENUE, WETH, USDC, 1_000, _price(WETH, USDC, 0.01), START + i * GAP)
    return replace(base, **changes)


@pytest.fixture
def engine() -> RiskEngine:
    """Alice and Bob have 40 habitual intents each: WETH/USDC on one venue, 10 % of the vault,
    1 % price bound, every ten minutes."""
    engine = RiskEngine(RiskPolicy())
    engine.usd_per_unit = {token: usd / 10**18 for token, usd in USD.items()}
    for i in range(40):
        size = 900 + (i % 5) * 50
        for leader in ("alice", "bob"):
            token_in, token_out = (WETH, USDC) if i % 2 else (USDC, WETH)
            engine.observe(
                _view(leader, i, token_in=token_in, token_out=token_out, fraction_bps=size,
                      min_price=_price(token_in, token_out, 0.01 + (i % 3) * 0.002))
            )  # fmt: skip
    engine.observe(_view("carol", 0, token_out=DAI))  # a token the platform has seen
    return engine


def _names(assessment) -> set[str]:
    return {f.name for f in assessment.features}


def test_habitual_intent__admitted_with_nothing_to_report(engine):
    verdict = engine.assess(_view(i=41, fraction_bps=1_000))
    assert (verdict.action, verdict.score, verdict.features) == ("admit", 0, ())


def test_stolen_key__max_size_into_a_fresh_token_far_below_the_oracle__severe(engine):
    verdict = engine.assess(
        _view(i=41, token_out=FRESH, fraction_bps=10_000, min_price=_price(WETH, FRESH, 0.6))
    )
    assert verdict.action == "severe" and verdict.score == 100
    assert {"fraction", "new_token", "fresh_token", "price_vs_oracle"} <= _names(verdict)
    price = next(f for f in verdict.features if f.name == "price_vs_oracle")
    assert price.value == pytest.approx(0.6, abs=1e-6) and "below the oracle" in price.why


def test_price_just_past_the_tolerance__held_on_price_alone(engine):
    verdict = engine.assess(_view(i=41, min_price=_price(WETH, USDC, 0.08)))
    assert verdict.action == "hold" and _names(verdict) == {"price_vs_oracle"}


def test_price_within_the_tolerance__admitted(engine):
    assert engine.assess(_view(i=41, min_price=_price(WETH, USDC, 0.045))).action == "admit"


def test_habitual_min_price_zero_then_sudden_zero_of_a_declaring_leader(engine):
    """min_price 0 declares no bound: a leader who always declares one and suddenly does not is
    suspicious; a brand-new leader's 0 is left to the vaults' own oracle bound."""
    assert engine.assess(_view(i=41, min_price=0)).action == "hold"
    assert engine.assess(_view("newcomer", 0, min_price=0)).action == "admit"


def test_new_leader__only_absolute_signals_apply(engine):
    """Fewer than COPYVAULT_RISK_MIN_HISTORY intents: no baseline to compare size or novelty."""
    verdict = engine.assess(_view("newcomer", 0, fraction_bps=10_000, token_out=DAI))
    assert verdict.action == "admit"
    bad = engine.assess(_view("newcomer", 0, min_price=_price(WETH, USDC, 0.2)))
    assert bad.action == "hold" and _names(bad) == {"price_vs_oracle"}


def test_novelty__new_venue_and_new_token_weigh_but_do_not_hold_alone(engine):
    verdict = engine.assess(_view(i=41, venue=OTHER_VENUE, token_out=DAI))
    assert _names(verdict) == {"new_venue", "new_token"}
    assert verdict.action == "admit" and verdict.score == 20


def test_burst__many_intents_in_a_minute_against_a_ten_minute_pace__held(engine):
    gate = RiskGate(engine, chain_id=1)
    at = START + 41 * GAP
    actions = [gate.judge(_view(i=0, at=at + 2 * k), f"0x{k:064x}").action for k in range(12)]
    assert actions[0] == "admit" and "hold" in actions
    first_hold = actions.index("hold")
    assert first_hold <= 8, actions
    assert all(a != "admit" for a in actions[first_hold:])  # under review from then on


def test_wash__two_leaders_trading_one_pair_back_and_forth__held_by_the_third_leg(engine):
    gate = RiskGate(engine, chain_id=1)
    at = START + 41 * GAP
    legs = [
        _view("alice", 0, at=at, token_in=WETH, token_out=USDC),
        _view("bob", 0, at=at + 4, token_in=USDC, token_out=WETH),
        _view("alice", 0, at=at + 8, token_in=WETH, token_out=USDC),
        _view("bob", 0, at=at + 12, token_in=USDC, token_out=WETH),
    ]
    verdicts = [gate.judge(leg, f"0x{k:064x}") for k, leg in enumerate(legs)]
    assert verdicts[0].action == "admit"
    assert "wash" in _names(verdicts[1])
    assert verdicts[2].action == "hold" and {"wash", "frequency"} <= _names(verdicts[2])


def test_under_review__after_a_hold_the_leaders_next_intents_are_held_too(engine):
    gate = RiskGate(engine, chain_id=1)
    held = gate.judge(_view(i=41, min_price=_price(WETH, USDC, 0.3)), "0x" + "01" * 32)
    later = gate.judge(_view(i=42), "0x" + "02" * 32)
    assert held.action == "hold" and later.action == "hold"
    assert _names(later) == {"under_review"}
    # and a hold teaches nothing: the bad price did not become the leader's habit
    assert max(engine.leaders["alice"].discounts) < 0.05


def test_gate__hands_held_and_severe_verdicts_to_the_responder_only(engine):
    flagged: list[FlaggedIntent] = []
    gate = RiskGate(engine, chain_id=5, on_flagged=flagged.append)
    gate.judge(_view("bob", 41), "0x" + "0a" * 32)
    gate.judge(_view(i=41, token_out=FRESH, fraction_bps=10_000, min_price=0), "0x" + "0b" * 32)
    assert [(c.chain_id, c.leader, c.assessment.action) for c in flagged] == [
        (5, "alice", "severe")
    ]


def test_unknown_oracle_price__price_feature_waits(engine):
    engine.usd_per_unit = {}
    assert engine.assess(_view(i=41, min_price=_price(WETH, USDC, 0.5))).action == "admit"


def test_policy__thresholds_from_settings():
    settings = load_settings(risk_hold_score=30, risk_severe_score=50, risk_price_tolerance_bps=200)
    policy = RiskPolicy.from_settings(settings)
    assert (policy.hold_score, policy.severe_score, policy.price_tolerance) == (30, 50, 0.02)
    assert [policy.action(s) for s in (29, 30, 49, 50)] == ["admit", "hold", "hold", "severe"]


def test_features__stored_form_is_plain_json(engine):
    verdict = engine.assess(_view(i=41, min_price=_price(WETH, USDC, 0.3)))
    (feature,) = verdict.features_json()
    assert set(feature) == {"name", "value", "points", "why"}
    assert feature["name"] == "price_vs_oracle" and feature["points"] == 45


def test_gate__judged_from_many_threads_at_once__no_lost_or_broken_state(engine):
    """Intake runs in a thread pool: concurrent judges of one pair must not break the deques."""
    gate = RiskGate(engine, chain_id=1)
    at = START + 41 * GAP
    leaders = [f"leader{k}" for k in range(8)]

    errors: list[BaseException] = []

    def judge_many(leader: str) -> None:
        try:
            for k in range(300):
                side = (WETH, USDC) if k % 2 else (USDC, WETH)
                view = _view(leader, 0, at=at + k, token_in=side[0], token_out=side[1])
                gate.judge(view, f"0x{k:064x}")
        except BaseException as exc:  # noqa: BLE001 - reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=judge_many, args=(name,)) for name in leaders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(engine.leaders[name].recent(0) for name in leaders) == 8 * RECENT_TIMES
    assert all(not thread.is_alive() for thread in threads)


def test_intake_columns__engine_off_admit_and_hold():
    """What intake stores per verdict: nothing of the engine when it is off; the score with an
    admit; status held, not planned, and an error naming the drivers with a hold."""
    from backend.services.intents import _risk_columns

    assert _risk_columns(None) == {"status": "accepted", "plan_due": True}
    admit = _risk_columns(RiskEngine(RiskPolicy()).assess(_view()))
    assert admit == {"status": "accepted", "plan_due": True, "risk_score": 0, "risk_features": []}
    engine = RiskEngine(RiskPolicy())
    engine.usd_per_unit = {token: usd / 10**18 for token, usd in USD.items()}
    held = _risk_columns(engine.assess(_view(min_price=_price(WETH, USDC, 0.5))))
    assert (held["status"], held["plan_due"], held["risk_score"]) == ("held", False, 45)
    assert held["error"].startswith("held by the risk engine (hold, score 45: price_vs_oracle)")
