"""The risk engine on the real path, on chain (anvil) and both stores: intake scores an intent,
a severe one is stored held, the leader's vault is paused through the backend's guardian key, a
signed alert reaches a local receiver, the decision is in the audit trail, the vault's owner still
withdraws from the paused vault, and a risk operator sees the features and releases the intent
only with a fresh TOTP code (recorded)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from backend.api.schemas import intent_submission_body
from backend.chain import eip712
from backend.chain.actions import HOUR
from backend.db.audit_models import AuditEntry
from backend.db.operator_models import OperatorAction
from backend.db.relay_models import Intent
from backend.risk.alerts import WebhookAlerter
from backend.risk.engine import PRICE_SCALE
from tests.backend.api.helpers import withdrawal_body
from tests.backend.helpers import admit_leader
from tests.backend.operators.helpers import OpsEnv, error_code, open_ops
from tests.backend.risk.receiver import running_receiver

AMOUNT = 10**18


@pytest.fixture
def risky(anvil_chain, stores, tmp_path) -> Iterator[OpsEnv]:
    """Operators, the guardian key, and a severe threshold a price 50 % off the oracle reaches
    on its own (a fresh store has no history to score size or novelty against)."""
    with open_ops(anvil_chain, stores, tmp_path, risk_severe_score=45) as env:
        yield env


def _intent(env: OpsEnv, nonce: int, min_price: int) -> dict:
    a = env.chain.actions
    message = eip712.TradeIntent(
        leader=env.chain.leader.address, venue=a.venue, token_in=a.token("WETH"),
        token_out=a.token("USDC"), fraction_bps=1_000, min_price=min_price, nonce=nonce,
        deadline=a.timestamp() + HOUR,
    )  # fmt: skip
    domain = a.domain(env.chain.deployment.registry)
    signature = eip712.sign(env.chain.leader.private_key, domain, message)
    response = env.api.post("/v1/intents", json=intent_submission_body(message, signature))
    assert response.status_code == 202, response.text
    return response.json()


def _fair_price(env: OpsEnv) -> int:
    """USDC per WETH at the oracle, 1e18-scaled in raw units, as the engine loaded it."""
    a = env.chain.actions
    usd = env.api.app.state.copyvault.risk.gate.engine.usd_per_unit
    return int(usd[a.token("WETH").lower()] / usd[a.token("USDC").lower()] * PRICE_SCALE)


def _stored(env: OpsEnv, digest: str) -> Intent:
    with env.session() as s:
        return s.scalar(select(Intent).where(Intent.digest == digest))


def test_severe_intent__held_vault_paused_alert_signed_owner_still_withdraws(risky: OpsEnv):
    env, a = risky, risky.chain.actions
    owner = env.chain.owners[0]
    vault = admit_leader(env.chain, amount=AMOUNT)
    env.api.index()
    risk = env.api.app.state.copyvault.risk
    secret = secrets.token_bytes(32)
    with running_receiver(secret) as receiver:
        risk.responder.alerter = WebhookAlerter(receiver.url, secret, retries=1, backoff=0.01)
        fair = _fair_price(env)
        admitted = _intent(env, 1, fair * 99 // 100)  # 1 % below the oracle: ordinary
        severe = _intent(env, 2, fair // 2)  # half the oracle's price
        risk.responder.wait_idle()
    assert (admitted["status"], severe["status"]) == ("accepted", "held")
    assert _stored(env, admitted["digest"]).risk_score == 0
    row = _stored(env, severe["digest"])
    assert row.risk_score >= 45 and row.plan_due is False
    assert [f["name"] for f in row.risk_features] == ["price_vs_oracle"]
    assert "held by the risk engine (severe" in row.error

    # The vault following the leader is paused by the guardian key, and the alert went out.
    assert a.view(a.vault_abi, vault, "paused")
    with env.session() as s:
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.category == "risk_decision"))
    (paused,) = entry.after["paused"]
    assert paused["vault"].lower() == vault.lower() and "tx_hash" in paused, paused
    receipt = env.chain.rpc("eth_getTransactionReceipt", paused["tx_hash"])
    assert receipt["from"].lower() == env.guardian_address.lower()
    assert entry.after["alert"].startswith("sent: HTTP 204")
    (alert,) = receiver.received
    assert alert.valid and severe["digest"].encode() in alert.body

    # Pausing never blocks the owners: the paused vault's owner withdraws everything.
    weth = a.token("WETH")
    before = a.view(a.token_abi, weth, "balanceOf", owner.address)
    a.withdraw(vault, weth, AMOUNT, owner.address, [owner], relayer=env.chain.relayer)
    assert a.view(a.token_abi, weth, "balanceOf", owner.address) == before + AMOUNT


def test_held_intent__operator_sees_features_and_releases_only_with_totp(risky: OpsEnv):
    env = risky
    admit_leader(env.chain, amount=AMOUNT)
    env.api.index()
    held = _intent(env, 3, _fair_price(env) // 2)
    env.api.app.state.copyvault.risk.responder.wait_idle()
    risk_op = env.signed_in("risk")
    listed = env.call("GET", "/v1/operator/intents/held", risk_op, totp=None).json()
    (item,) = [i for i in listed if i["digest"] == held["digest"]]
    assert item["risk_score"] >= 45
    assert item["risk_features"][0]["name"] == "price_vs_oracle"
    assert "below the oracle" in item["risk_features"][0]["why"]

    path = f"/v1/operator/intents/{held['digest']}/release"
    refused = env.call("POST", path, risk_op, totp=None, json={"reason": "checked with leader"})
    assert (refused.status_code, error_code(refused)) == (401, "step_up_required")
    released = env.call("POST", path, risk_op, json={"reason": "checked with leader"})
    assert released.status_code == 200 and released.json()["status"] == "accepted"
    with env.session() as s:
        actions = s.scalars(
            select(OperatorAction).where(OperatorAction.target == held["digest"])
        ).all()
    assert [(r.action, r.username, r.after) for r in actions] == [
        ("intent.release", risk_op.username, {"status": "accepted"})
    ]
    with env.session() as s:
        subject = f"{held['digest']}@{env.chain.deployment.chain_id}"
        trail = s.scalars(select(AuditEntry).where(AuditEntry.subject == subject)).all()
    assert [(e.category, e.action) for e in trail] == [
        ("risk_decision", "intent.severe"),
        ("operator_action", "intent.release"),
    ]


def test_withdrawal_proposal__new_recipient_flagged_owner_not(risky: OpsEnv):
    env, a = risky, risky.chain.actions
    owner = env.chain.owners[0]
    vault = admit_leader(env.chain, amount=AMOUNT, salt=901)
    env.api.index()
    stranger = "0x" + "5a" * 20
    digests = {}
    for nonce, to in enumerate((stranger, owner.address)):
        body = withdrawal_body(
            env.chain, vault, owner, token=a.token("WETH"), amount=10**17, to=to, nonce=nonce,
            deadline=a.timestamp() + HOUR,
        )  # fmt: skip
        response = env.api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body)
        assert response.status_code == 201, response.text
        digests[to] = response.json()["digest"]
    env.api.app.state.copyvault.risk.responder.wait_idle()
    with env.session() as s:
        flags = s.scalars(select(AuditEntry).where(AuditEntry.action == "withdrawal.flag")).all()
    (flag,) = flags
    assert flag.subject == f"{digests[stranger]}@{env.chain.deployment.chain_id}"
    assert flag.after["recipient"].lower() == stranger
    assert [f["name"] for f in flag.after["features"]] == ["new_recipient"]
