"""KYC attestations: recorded by compliance operators (two-factor) with the evidence encrypted,
read back only by them (recorded), purged after the retention period; intake with
COPYVAULT_INTAKE_REQUIRE_VERIFIED_LEADER admits only verified leaders; no personal data reaches
logs, metrics, error bodies or the records. Both stores."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from backend.cli import cli
from backend.db.audit_models import AuditEntry
from backend.db.compliance_models import KycAttestation
from backend.db.operator_models import OperatorAction
from backend.services import kyc
from tests.backend.compliance.conftest import ComplianceEnv, compliance_env
from tests.backend.operators.helpers import error_code

# Personal data the tests put in evidence: none of it may appear anywhere but the envelope.
NAME = "Marguerite Quillfeather-Osei"
DOCUMENT = "PASSPORT-ZX9081726354"
BIRTH = "1984-02-29"
EVIDENCE = {"name": NAME, "document": DOCUMENT, "birth_date": BIRTH, "checked_by": "vendor-7"}
PERSONAL = (NAME, DOCUMENT, BIRTH, "Quillfeather")
RETENTION_DAYS = 30


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request, admitted_chain, tmp_path_factory):
    with compliance_env(
        request,
        admitted_chain,
        tmp_path_factory,
        request.param,
        intake_require_verified_leader=True,
        kyc_evidence_retention_days=RETENTION_DAYS,
    ) as env:
        yield env


def _attest(env: ComplianceEnv, address: str, **body) -> dict:
    response = env.call("POST", f"/kyc/{address}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _submit(env: ComplianceEnv, nonce: int):
    intake = env.intake
    return intake.post(intake.body(intake.message(nonce=nonce)))


def test_intake__leader_not_verified__403_leader_not_verified_then_admitted_once_verified(env):
    leader = env.chain.leader.address
    refused = _submit(env, 1)
    assert refused.status_code == 403 and error_code(refused) == "leader_not_verified"
    assert leader in refused.json()["error"]["message"]
    assert env.intake.stored() == 0
    _attest(env, leader, status="verified", evidence=EVIDENCE)
    assert _submit(env, 1).status_code == 202
    # A later decision replaces it: revoked -> refused again; an expired verification too.
    _attest(env, leader, status="revoked")
    assert error_code(_submit(env, 2)) == "leader_not_verified"
    past = (env.ops.clock.now - timedelta(days=1)).isoformat()
    expired = _attest(env, leader, status="verified", expires_at=past)
    assert expired["verified"] is False and error_code(_submit(env, 2)) == "leader_not_verified"
    future = (env.ops.clock.now + timedelta(days=365)).isoformat()
    assert _attest(env, leader, status="verified", expires_at=future)["verified"] is True
    assert _submit(env, 2).status_code == 202


def test_attest__evidence_stored_encrypted_and_read_back_by_compliance_only(env):
    address = env.chain.keys[1].address
    out = _attest(env, address, status="verified", evidence=EVIDENCE)
    assert out["has_evidence"] is True and out["recorded_by"] == env.officer.username
    assert "evidence" not in out
    with env.ops.session() as s:
        row = s.get(KycAttestation, out["id"])
        assert row is not None and row.evidence["purpose"] == kyc.EVIDENCE_PURPOSE
        assert not any(p in json.dumps(row.evidence) for p in PERSONAL)
    status = env.call("GET", f"/kyc/{address}", totp=None)
    assert status.status_code == 200 and status.json()["id"] == out["id"]
    opened = env.call("POST", f"/kyc/attestations/{out['id']}/evidence")
    assert opened.status_code == 200 and opened.json()["evidence"] == EVIDENCE
    for role in ("admin", "auditor", "risk"):
        op = env.ops.signed_in(role)
        refused = env.call("POST", f"/kyc/attestations/{out['id']}/evidence", op)
        assert error_code(refused) == "role_forbidden", role
    refused = env.call("POST", f"/kyc/attestations/{out['id']}/evidence", totp=None)
    assert error_code(refused) == "step_up_required"
    with env.ops.session() as s:
        reads = s.scalars(
            select(OperatorAction).where(OperatorAction.action == "kyc.evidence_read")
        ).all()
        assert [r.target for r in reads][-1:] == [address]


def test_attest__bad_input__clear_errors(env):
    address = env.chain.keys[1].address
    too_big = {"blob": "x" * 20_000}
    response = env.call("POST", f"/kyc/{address}", json={"status": "verified", "evidence": too_big})
    assert response.status_code == 422 and "16384 bytes" in response.text
    response = env.call("POST", f"/kyc/{address}", json={"status": "approved"})
    assert response.status_code == 422
    naive = {"status": "verified", "expires_at": "2030-01-01T00:00:00"}
    assert "time zone" in env.call("POST", f"/kyc/{address}", json=naive).text
    unknown = env.call("GET", f"/kyc/{'0x' + '42' * 20}", totp=None)
    assert unknown.status_code == 404 and error_code(unknown) == "kyc_not_found"
    missing = env.call("POST", "/kyc/attestations/987654/evidence")
    assert missing.status_code == 404 and error_code(missing) == "kyc_not_found"


def test_purge_evidence__after_retention__evidence_gone_decision_kept(env):
    address = env.chain.keys[7].address
    out = _attest(env, address, status="verified", evidence=EVIDENCE)
    with env.ops.session() as s:
        at = env.ops.clock.now
        assert (
            kyc.purge_evidence(
                s, now=at + timedelta(days=RETENTION_DAYS - 1), retention_days=RETENTION_DAYS
            )
            == 0
        )
        purged = kyc.purge_evidence(
            s, now=at + timedelta(days=RETENTION_DAYS, seconds=1), retention_days=RETENTION_DAYS
        )
        assert purged >= 1
        row = s.get(KycAttestation, out["id"])
        s.refresh(row)
        assert row.evidence is None and row.evidence_purged_at is not None
        assert row.status == "verified"
        # SQL NULL, not a JSON null: the column holds nothing at all.
        count = s.execute(
            text("SELECT count(*) FROM kyc_attestations WHERE id = :id AND evidence IS NULL"),
            {"id": out["id"]},
        ).scalar()
        assert count == 1
    gone = env.call("POST", f"/kyc/attestations/{out['id']}/evidence")
    assert gone.status_code == 410 and error_code(gone) == "kyc_evidence_purged"
    status = env.call("GET", f"/kyc/{address}", totp=None).json()
    assert status["has_evidence"] is False and status["verified"] is True


def test_cli_purge_evidence__uses_the_retention_setting(env, monkeypatch):
    monkeypatch.setenv("COPYVAULT_DATABASE_URL", env.ops.settings.sqlalchemy_url)
    monkeypatch.setenv("COPYVAULT_KYC_EVIDENCE_RETENTION_DAYS", "1")
    result = CliRunner().invoke(cli, ["compliance", "purge-evidence"])
    assert result.exit_code == 0, result.output
    assert "(older than 1 days)" in result.output


def test_no_personal_data__in_logs_metrics_error_bodies_or_records(env, caplog):
    caplog.set_level(logging.DEBUG)
    address = env.chain.keys[8].address
    bodies = []
    out = _attest(env, address, status="verified", evidence=EVIDENCE)
    bodies.append(env.call("POST", f"/kyc/attestations/{out['id']}/evidence").status_code)
    # Refusals that carry the evidence in their request: none may echo it.
    oversize = EVIDENCE | {"padding": NAME * 800}
    for body in (
        {"status": "verified", "evidence": oversize},
        {"status": "maybe", "evidence": EVIDENCE},
        {"status": "verified", "evidence": EVIDENCE, "expires_at": NAME},
        {"status": "verified", "evidence": EVIDENCE, NAME: DOCUMENT},
    ):
        response = env.call("POST", f"/kyc/{address}", json=body)
        assert response.status_code == 422
        bodies.append(response.text)
    wrong_role = env.call(
        "POST",
        f"/kyc/{address}",
        env.ops.signed_in("risk"),
        json={"status": "verified", "evidence": EVIDENCE},
    )
    bodies.append(wrong_role.text)
    no_totp = env.call(
        "POST", f"/kyc/{address}", totp=None, json={"status": "verified", "evidence": EVIDENCE}
    )
    bodies.append(no_totp.text)
    metrics = env.ops.api.get("/metrics").text
    with env.ops.session() as s:
        actions = json.dumps(
            [
                (a.action, a.target, a.before, a.after, a.reason)
                for a in s.scalars(select(OperatorAction))
            ],
            default=str,
        )
        audit = json.dumps([e.body for e in s.scalars(select(AuditEntry))], default=str)
    seen = {
        "logs": caplog.text,
        "metrics": metrics,
        "error bodies": "\n".join(map(str, bodies)),
        "operator actions": actions,
        "audit trail": audit,
    }
    assert "body.(unknown field): Extra inputs are not permitted" in bodies[4]
    for where, content in seen.items():
        for personal in PERSONAL:
            assert personal not in content, f"{personal!r} appears in the {where}"
    assert "kyc.attest" in audit and "kyc.evidence_read" in audit
