"""The risk engine and the store (SQLite and PostgreSQL): baselines rebuilt from stored intents
(the state every API process shares), and every decision appended to the audit trail."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.db.audit_models import AuditEntry
from backend.db.relay_models import Intent
from backend.risk.alerts import WebhookAlerter
from backend.risk.engine import Assessment, Feature, IntentView, RiskPolicy
from backend.risk.gate import FlaggedIntent
from backend.risk.history import rebuild
from backend.risk.responder import ACTOR, RiskResponder
from tests.backend.helpers import intent_row
from tests.backend.risk.receiver import running_receiver

CHAIN_ID = 31_337
LEADER = "0x" + "11" * 20
NOW = datetime.now(UTC).replace(microsecond=0)


def _store_history(engine, *, habitual: int, held: int) -> None:
    """`habitual` done intents ten minutes apart, then `held` intents held by the engine."""
    rows = [
        intent_row(
            CHAIN_ID,
            i,
            NOW - timedelta(minutes=10 * (habitual - i)),
            status="done",
            risk_score=0,
            risk_features=[],
        )  # fmt: skip
        for i in range(habitual)
    ]
    rows += [
        intent_row(
            CHAIN_ID,
            habitual + i,
            NOW - timedelta(minutes=1),
            status="held",
            risk_score=60,
            risk_features=[],
        )  # fmt: skip
        for i in range(held)
    ]
    with Session(engine) as session:
        session.execute(insert(Intent), rows)
        session.commit()


def test_rebuild__learns_each_leaders_habit_and_review_from_the_store(stores):
    engine = stores.engine()
    _store_history(engine, habitual=30, held=1)
    risk = rebuild(engine, RiskPolicy(), chain_id=CHAIN_ID, history=1_000)
    baseline = risk.leaders[LEADER]
    assert baseline.count == 30  # the held intent taught nothing...
    assert baseline.review_until > NOW.timestamp()  # ...but put the leader under review
    assert baseline.stats().fraction_median == 1_000
    assert baseline.stats().gap_median == 600
    assert risk.platform_tokens == {"0x" + "33" * 20, "0x" + "44" * 20}
    probe = IntentView(LEADER, "0x" + "22" * 20, "0x" + "33" * 20, "0x" + "44" * 20, 1_000, 0,
                       NOW.timestamp())  # fmt: skip
    assert risk.assess(probe).action == "hold"


def test_rebuild__reads_only_the_latest_history_intents_of_its_chain(stores):
    engine = stores.engine()
    _store_history(engine, habitual=30, held=0)
    with Session(engine) as session:
        session.execute(
            insert(Intent), [intent_row(CHAIN_ID + 1, 999, NOW, leader="0x" + "99" * 20)]
        )
        session.commit()
    risk = rebuild(engine, RiskPolicy(), chain_id=CHAIN_ID, history=10)
    assert set(risk.leaders) == {LEADER} and risk.leaders[LEADER].count == 10


def _case(action: str, score: int) -> FlaggedIntent:
    feature = Feature("price_vs_oracle", 0.6, 45, "min_price is 60.0% below the oracle's price")
    digest = "0x" + secrets.token_hex(32)
    return FlaggedIntent(CHAIN_ID, digest, LEADER, Assessment(score, action, (feature,)))


def _entries(engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.category == "risk_decision"))
        )


def test_responder__hold__one_audit_entry_with_score_and_features(stores):
    engine = stores.engine()
    responder = RiskResponder(engine, pauser=lambda: None, alerter=None)
    case = _case("hold", 45)
    responder.handle(case)
    (entry,) = _entries(engine)
    subject = f"{case.digest}@{CHAIN_ID}"
    assert (entry.actor, entry.action, entry.subject) == (ACTOR, "intent.hold", subject)
    assert entry.after["score"] == 45 and entry.after["features"][0]["name"] == "price_vs_oracle"
    assert "paused" not in entry.after


def test_responder__severe__alert_delivered_signed_and_outcomes_recorded(stores):
    engine = stores.engine()
    secret = secrets.token_bytes(32)
    with running_receiver(secret) as receiver:
        alerter = WebhookAlerter(receiver.url, secret, retries=0)
        responder = RiskResponder(engine, pauser=lambda: None, alerter=alerter)
        case = _case("severe", 100)
        responder.submit(case)
        assert responder.drain() == 1
    (got,) = receiver.received
    alert = json.loads(got.body)
    assert got.valid and alert["event"] == "risk.severe" and alert["intent"] == case.digest
    (entry,) = _entries(engine)
    assert entry.action == "intent.severe" and entry.after["alert"].startswith("sent: HTTP 204")
    assert entry.after["paused"] == []  # no vault follows this leader in this store
