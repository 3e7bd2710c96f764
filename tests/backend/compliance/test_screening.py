"""Screening: depositors, new vaults' owners and registered leaders from the index, against the
loaded sanctions list (OFAC SDN.XML fixture) and the factory's on-chain sanctions oracle
(MockSanctionsList through eth_call); a match opens a case; a compliance operator clears or
confirms it with two-factor, recorded; a confirmed address is refused by intake. Both stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.chain.abi import ContractAbi
from backend.chain.tx import created_address
from backend.cli import cli
from backend.db.audit_models import AuditEntry
from backend.db.compliance_models import ScreeningCase
from backend.db.operator_models import DenyListEntry, OperatorAction
from backend.services import screening
from backend.services.deny_list import is_denied
from backend.services.sanctions_list import load_list
from tests.backend.api.conftest import read_chain  # noqa: F401  (a module-scoped chain)
from tests.backend.compliance.conftest import FIXTURES, ComplianceEnv, compliance_env
from tests.backend.conftest import BACKENDS
from tests.backend.operators.helpers import error_code


@pytest.fixture(scope="module")
def oracle_chain(read_chain):  # noqa: F811
    """The scenario's chain, with a sanctions oracle that names one vault owner, set on the
    factory (what CopyVault.deposit consults)."""
    chain, _scenario = read_chain
    a = chain.actions
    abi = ContractAbi(a.artifacts.get("MockSanctionsList"))
    oracle = created_address(a.sender(chain.deployer).send(None, abi.deploy_data()))
    a.sender(chain.deployer).send(
        oracle, abi.call_data("setSanctioned", chain.owners[1].address, True)
    )
    a.sender(chain.deployer).send(
        chain.deployment.factory, a.factory_abi.call_data("setSanctionsList", oracle)
    )
    return chain


@pytest.fixture(scope="module", params=BACKENDS)
def screened(request, oracle_chain, tmp_path_factory):
    """Both lists in force and one screening run: (the env, the run's report)."""
    with compliance_env(request, oracle_chain, tmp_path_factory, request.param) as env:
        env.ops.api.index()
        with env.ops.session() as s:
            load_list(s, FIXTURES / "sdn_sample.xml", datetime.now(UTC))
            report = screening.screen(
                s, chain_id=_chain_id(env), client=oracle_chain.client, now=datetime.now(UTC)
            )
        yield env, report


def _chain_id(env: ComplianceEnv) -> int:
    return env.chain.deployment.chain_id


def _case(env: ComplianceEnv, address: str, subject: str) -> ScreeningCase:
    with env.ops.session() as s:
        case = s.scalar(
            select(ScreeningCase).where(
                ScreeningCase.address == address.lower(), ScreeningCase.subject == subject
            )
        )
        assert case is not None, (address, subject)
        return case


def _audit(env: ComplianceEnv, action: str) -> list[AuditEntry]:
    with env.ops.session() as s:
        query = (
            select(AuditEntry)
            .where(AuditEntry.category == "compliance", AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return list(s.scalars(query))


def _actions(env: ComplianceEnv, action: str) -> list[OperatorAction]:
    with env.ops.session() as s:
        return list(s.scalars(select(OperatorAction).where(OperatorAction.action == action)))


def test_screen__list_and_oracle_matches__one_open_case_each(screened):
    env, report = screened
    chain = env.chain
    with env.ops.session() as s:
        cases = s.scalars(select(ScreeningCase).order_by(ScreeningCase.id)).all()
    found = {(c.address, c.subject, c.sources, c.list_uid, c.status) for c in cases}
    assert found == {
        (chain.depositor.address.lower(), "depositor", "sanctions_list", "990001", "open"),
        (chain.leader.address.lower(), "leader", "sanctions_list", "990002", "open"),
        (chain.owners[1].address.lower(), "owner", "oracle", None, "open"),
    }
    assert sorted(report.opened) == sorted(c.id for c in cases)
    deposit_case = _case(env, chain.depositor.address, "depositor")
    assert deposit_case.vault is not None and deposit_case.block_number > 0


def test_screen__again__nothing_new_is_screened_and_a_reloaded_list_opens_no_duplicate(screened):
    env, report = screened
    with env.ops.session() as s:
        again = screening.screen(
            s, chain_id=_chain_id(env), client=env.chain.client, now=datetime.now(UTC)
        )
        assert again.opened == [] and again.addresses == 0
        assert again.from_block == report.to_block
        load_list(s, FIXTURES / "sdn_sample.csv", datetime.now(UTC))  # resets the cursor
        rescreen = screening.screen(
            s, chain_id=_chain_id(env), client=env.chain.client, now=datetime.now(UTC)
        )
        assert rescreen.addresses == report.addresses and rescreen.opened == []
        assert len(s.scalars(select(ScreeningCase)).all()) == 3


def test_screen__each_case_opened__is_in_the_audit_trail(screened):
    env, report = screened
    opened = _audit(env, "screening.case_opened")
    assert sorted(e.after["case"] for e in opened) == sorted(report.opened)
    assert {e.actor for e in opened} == {"system:screening"}
    assert {e.after["role"] for e in opened} == {"depositor", "owner", "leader"}


def test_cases__listed_for_compliance_newest_first__filtered_by_status(screened):
    env, _ = screened
    response = env.call("GET", "/cases?status=open", totp=None)
    assert response.status_code == 200, response.text
    ids = [case["id"] for case in response.json()]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 1
    assert all(case["status"] == "open" for case in response.json())
    support = env.ops.signed_in("support")
    assert error_code(env.call("GET", "/cases", support, totp=None)) == "role_forbidden"


def test_clear__false_match__closed_recorded_address_not_denied(screened):
    env, _ = screened
    owner = env.chain.owners[1].address
    case = _case(env, owner, "owner")
    response = env.call("POST", f"/cases/{case.id}/clear", json={"reason": "oracle false hit"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cleared" and body["decided_by"] == env.officer.username
    assert body["sources"] == ["oracle"]
    with env.ops.session() as s:
        assert is_denied(s, _chain_id(env), [owner]) == []
    recorded = [r for r in _actions(env, "screening.clear") if r.after["case"] == case.id]
    assert len(recorded) == 1 and recorded[0].reason == "oracle false hit"
    assert recorded[0].target == owner
    audited = _audit(env, "screening.clear")
    assert [(e.subject, e.after["status"], e.reason) for e in audited] == [
        (owner, "cleared", "oracle false hit")
    ]
    assert audited[0].actor == f"operator:{env.officer.username}"
    again = env.call("POST", f"/cases/{case.id}/confirm", json={"reason": "changed my mind"})
    assert again.status_code == 409 and error_code(again) == "screening_case_decided"


def test_confirm__true_match__leader_denied_and_intake_refuses_it(screened):
    env, _ = screened
    leader = env.chain.leader.address
    case = _case(env, leader, "leader")
    response = env.call("POST", f"/cases/{case.id}/confirm", json={"reason": "SDN 990002"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    with env.ops.session() as s:
        assert is_denied(s, _chain_id(env), [leader]) == [leader]
        entry = s.get(DenyListEntry, (_chain_id(env), leader.lower()))
        assert entry is not None and f"screening case {case.id} confirmed" in entry.reason
    assert len(_actions(env, "screening.confirm")) == 1
    assert [e.subject for e in _audit(env, "screening.confirm")] == [leader]
    intake = env.intake
    refused = intake.post(intake.body(intake.message(nonce=77)))
    assert refused.status_code == 403 and error_code(refused) == "address_denied"


@pytest.mark.parametrize(
    ("caller", "totp", "status", "code"),
    [
        ("risk", True, 403, "role_forbidden"),
        ("admin", True, 403, "role_forbidden"),
        ("compliance", None, 401, "step_up_required"),
        ("compliance", "000000", 401, "totp_invalid"),
    ],
)
def test_decide__wrong_role_or_no_second_factor__refused_case_stays_open(
    screened, caller, totp, status, code
):
    env, _ = screened
    case = _case(env, env.chain.depositor.address, "depositor")
    op = env.ops.signed_in(caller)
    response = env.call("POST", f"/cases/{case.id}/confirm", op, totp=totp, json={"reason": "x"})
    assert (response.status_code, error_code(response)) == (status, code)
    assert _case(env, env.chain.depositor.address, "depositor").status == "open"


def test_decide__unknown_case_or_decision__404_or_422(screened):
    env, _ = screened
    response = env.call("POST", "/cases/999999/clear", json={"reason": "x"})
    assert response.status_code == 404 and error_code(response) == "screening_case_not_found"
    unknown = env.call("POST", "/cases/1/approve", json={"reason": "x"})
    assert unknown.status_code == 422 and "path.decision" in unknown.text


def test_cli_screen__reports_the_blocks_and_cases(screened, monkeypatch):
    env, report = screened
    settings = env.ops.settings
    monkeypatch.setenv("COPYVAULT_DATABASE_URL", settings.sqlalchemy_url)
    monkeypatch.setenv("COPYVAULT_RPC_URL", settings.rpc_url)
    monkeypatch.setenv("COPYVAULT_DEPLOYMENT_FILE", str(settings.deployment_file))
    env.chain.mine(2)
    env.ops.api.index()
    result = CliRunner().invoke(cli, ["compliance", "screen"])
    assert result.exit_code == 0, result.output
    assert f"screened blocks {report.to_block + 1}..{env.chain.head()}" in result.output
    assert "0 cases opened" in result.output
