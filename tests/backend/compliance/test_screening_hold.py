"""An open screening case holds its address's intents at intake (202 `held`, recorded in the
audit trail, never planned by the relayer); a cleared case leaves them held for an operator to
release; a confirmed one rejects them and the deny list refuses new ones. A leader without a case
is unaffected. Both stores.

The chain: leader A (on the SDN list fixture, uid 990002), leader B (the depositor key, uid
990001), leader C (on no list) whose delegate D owns a vault and is on the list this module adds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from backend.api.errors import AddressDeniedError
from backend.chain.actions import HOUR, Key
from backend.config import load_settings
from backend.db.audit_models import AuditEntry
from backend.db.compliance_models import ScreeningCase
from backend.db.relay_models import Intent
from backend.relayer.worker import RelayerConfig, RelayerWorker
from backend.security.relayer_key import load_relayer_signer
from backend.services import intents, screening
from backend.services.sanctions_list import load_list
from tests.backend.compliance.conftest import FIXTURES, ComplianceEnv, compliance_env
from tests.backend.conftest import BACKENDS, Chain
from tests.backend.helpers import admit_leader, counting_statements
from tests.backend.operators.helpers import error_code
from tests.backend.relayer.conftest import _key_settings

DELEGATE_UID = "990009"


def _leaders(chain: Chain) -> tuple[Key, Key, Key]:
    """A (listed), B (listed) and C (not listed)."""
    return chain.leader, chain.depositor, chain.keys[1]


@pytest.fixture(scope="module")
def hold_chain(admitted_chain) -> Chain:
    """Leader A is admitted already; B and C are admitted here; D is C's delegate and owns a
    vault (so that screening sees it, as an owner)."""
    chain = admitted_chain
    _, b, c = _leaders(chain)
    admit_leader(chain, b, salt=901)
    admit_leader(chain, c, salt=902)
    a = chain.actions
    a.set_delegate(c, chain.delegate.address, a.timestamp() + 100 * HOUR)
    a.create_vault([chain.delegate], leader=c.address, salt=903)
    return chain


@pytest.fixture(scope="module")
def sdn_list(tmp_path_factory, hold_chain) -> str:
    """The SDN.CSV fixture plus one entry naming delegate D."""
    path = tmp_path_factory.mktemp("sdn") / "sdn.csv"
    extra = (
        f'{DELEGATE_UID},"EXAMPLE DELEGATE","-0- ","CYBER2","-0- ","-0- ","-0- ","-0- ","-0- ",'
        f'"-0- ","-0- ","Digital Currency Address - ETH {hold_chain.delegate.address}."\n'
    )
    path.write_text((FIXTURES / "sdn_sample.csv").read_text() + extra)
    return str(path)


@dataclass
class HoldEnv:
    env: ComplianceEnv
    worker: RelayerWorker

    @property
    def chain(self) -> Chain:
        return self.env.chain

    def submit(self, leader: Key, nonce: int, signer: Key | None = None, *, new=True) -> dict:
        """POST the intent; 202 when `new`, else 200 (the stored one)."""
        intake = self.env.intake
        message = intake.message(leader=leader.address, nonce=nonce)
        response = intake.post(intake.body(message, signer or leader))
        assert response.status_code == (202 if new else 200), response.text
        return response.json()

    def case(self, address: str) -> ScreeningCase:
        with self.env.ops.session() as s:
            case = s.scalar(select(ScreeningCase).where(ScreeningCase.address == address.lower()))
            assert case is not None, address
            return case

    def intent(self, digest: str) -> Intent:
        with self.env.ops.session() as s:
            intent = s.scalar(select(Intent).where(Intent.digest == digest))
            assert intent is not None, digest
            return intent

    def audit(self, action: str) -> list[AuditEntry]:
        with self.env.ops.session() as s:
            query = select(AuditEntry).where(
                AuditEntry.category == "compliance", AuditEntry.action == action
            )
            return list(s.scalars(query.order_by(AuditEntry.seq)))

    def held_entries(self, digest: str) -> list[AuditEntry]:
        """The audit entries of intake holding intent `digest` for compliance."""
        return [e for e in self.audit("screening.intent_held") if e.subject == digest]

    def plan_all(self) -> int:
        """Intents the relayer plans now (each claimed and planned once)."""
        planned = 0
        while self.worker.plan_next():
            planned += 1
        return planned


@pytest.fixture(scope="module", params=BACKENDS)
def held(request, hold_chain, sdn_list, tmp_path_factory) -> Iterator[HoldEnv]:
    """The index read, the list loaded and one screening run: cases open for A, B and D."""
    with compliance_env(request, hold_chain, tmp_path_factory, request.param) as env:
        env.ops.api.index()
        now = datetime.now(UTC)
        with env.ops.session() as s:
            load_list(s, sdn_list, now)
            chain_id = hold_chain.deployment.chain_id
            screening.screen(s, chain_id=chain_id, client=hold_chain.client, now=now)
        settings = load_settings(**_key_settings(hold_chain, tmp_path_factory.mktemp("key")))
        worker = RelayerWorker(
            env.ops.engine,
            hold_chain.client,
            hold_chain.deployment,
            load_relayer_signer(settings),
            config=RelayerConfig(),
            worker_id=f"screenhold-{request.param}",
        )
        yield HoldEnv(env, worker)


def test_hit__leaders_intent_held_naming_the_case__recorded__never_planned(held):
    a, _, _ = _leaders(held.chain)
    case = held.case(a.address)
    assert case.status == "open"
    out = held.submit(a, nonce=1)
    assert out["status"] == "held"
    assert f"screening case {case.id}" in out["error"] and a.address in out["error"]
    row = held.intent(out["digest"])
    assert (row.status, row.plan_due) == ("held", False)
    (entry,) = held.held_entries(out["digest"])
    assert entry.actor == "system:intake"
    assert (entry.after["case"], entry.after["role"]) == (case.id, "leader")
    assert held.plan_all() == 0
    assert held.intent(out["digest"]).status == "held"
    # The same intent again: answered as stored, recorded once.
    again = held.submit(a, nonce=1, new=False)
    assert (again["digest"], again["status"]) == (out["digest"], "held")
    assert len(held.held_entries(out["digest"])) == 1


def test_delegate_with_a_case__its_intent_held__leader_without_a_case_unaffected(held):
    _, _, c = _leaders(held.chain)
    delegate = held.chain.delegate
    case = held.case(delegate.address)
    by_delegate = held.submit(c, nonce=1, signer=delegate)
    assert by_delegate["status"] == "held"
    assert f"screening case {case.id}" in by_delegate["error"]
    assert "signer" in by_delegate["error"] and delegate.address in by_delegate["error"]
    (entry,) = held.held_entries(by_delegate["digest"])
    assert entry.after["role"] == "signer"
    by_leader = held.submit(c, nonce=2)
    assert (by_leader["status"], by_leader["error"]) == ("accepted", None)
    assert held.plan_all() == 1
    assert held.intent(by_leader["digest"]).status not in ("accepted", "held")
    assert held.intent(by_delegate["digest"]).status == "held"


def test_clear__held_intents_stay_held_until_an_operator_releases_them(held):
    env = held.env
    a, _, _ = _leaders(held.chain)
    case = held.case(a.address)
    digest = held.submit(a, nonce=1, new=False)["digest"]  # held by the first test
    cleared = env.call("POST", f"/cases/{case.id}/clear", json={"reason": "namesake"})
    assert cleared.status_code == 200, cleared.text
    assert held.intent(digest).status == "held"
    assert held.plan_all() == 0
    # No open case any more: the leader's new intents are accepted.
    assert held.submit(a, nonce=2)["status"] == "accepted"
    risk = env.ops.signed_in("risk")
    path = f"/v1/operator/intents/{digest}/release"
    released = env.ops.call("POST", path, risk, json={"reason": "case cleared"})
    assert released.status_code == 200, released.text
    assert held.plan_all() == 2
    assert held.intent(digest).status not in ("accepted", "held")


def test_confirm__held_intents_rejected_recorded__new_ones_denied(held):
    env = held.env
    _, b, c = _leaders(held.chain)
    case = held.case(b.address)
    digest = held.submit(b, nonce=1)["digest"]
    assert held.intent(digest).status == "held"
    confirmed = env.call("POST", f"/cases/{case.id}/confirm", json={"reason": "SDN 990001"})
    assert confirmed.status_code == 200, confirmed.text
    row = held.intent(digest)
    assert (row.status, row.plan_due) == ("rejected", False)
    assert f"screening case {case.id} confirmed" in row.error
    (entry,) = [e for e in held.audit("screening.intents_rejected") if e.after["case"] == case.id]
    assert (entry.after["intents"], entry.subject) == ([digest], b.address)
    intake = env.intake
    refused = intake.post(intake.body(intake.message(leader=b.address, nonce=2), b))
    assert refused.status_code == 403 and error_code(refused) == "address_denied"
    # The delegate's case confirmed: what it signed is rejected, and it signs nothing more.
    delegate = held.chain.delegate
    by_delegate = held.submit(c, nonce=1, signer=delegate, new=False)["digest"]  # held earlier
    delegate_case = held.case(delegate.address)
    path = f"/cases/{delegate_case.id}/confirm"
    assert env.call("POST", path, json={"reason": f"SDN {DELEGATE_UID}"}).status_code == 200
    assert held.intent(by_delegate).status == "rejected"
    signed = intake.post(intake.body(intake.message(leader=c.address, nonce=3), delegate))
    assert signed.status_code == 403 and error_code(signed) == "address_denied"
    assert held.plan_all() == 0


def test_intake__open_case_read_in_the_index_facts_select__no_extra_query(held):
    _, _, c = _leaders(held.chain)
    intake = held.env.intake
    with counting_statements(Engine) as seen:
        assert held.submit(c, nonce=4)["status"] == "accepted"
    screened = [s for s in seen if "screening_cases" in s]
    assert len(screened) == 1 and "leader_nonce_words" in screened[0]  # the one facts SELECT
    # A delegate's intent: its deny-list entry and open case in one query (D is denied by now).
    with counting_statements(Engine) as seen:
        refused = intake.post(
            intake.body(intake.message(leader=c.address, nonce=5), held.chain.delegate)
        )
    assert error_code(refused) == "address_denied"
    denied = [s for s in seen if re.search(r"\bdeny_list\b", s)]
    assert len(denied) == 2 and all("screening_cases" in s for s in denied)


def test_store_held__case_confirmed_since_the_facts_were_read__refused_nothing_stored(held):
    """The race of intake with a confirmation: the case is re-read under the audit trail's lock."""
    _, b, _ = _leaders(held.chain)
    case = held.case(b.address)  # confirmed by an earlier test
    assert case.status == "confirmed"
    row = held.intent(held.env.intake.digest(held.env.intake.message(leader=b.address, nonce=1)))
    values = {c.key: getattr(row, c.key) for c in intents._INSERTED} | {"digest": "0x" + "ab" * 32}
    hold = intents._ScreeningHold(case.id, "leader", b.address.lower())
    with pytest.raises(AddressDeniedError, match=f"leader {b.address}"):
        intents._store_screened(held.env.ops.engine, values, hold, datetime.now(UTC))
    with held.env.ops.session() as s:
        assert s.scalar(select(Intent).where(Intent.digest == values["digest"])) is None
    assert held.held_entries(values["digest"]) == []
