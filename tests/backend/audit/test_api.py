"""The audit trail through the API, on both stores: operator actions, sign-ins and refused
privileged calls land in the chain; GET /v1/audit-log (admin and auditor only, paginated),
GET /v1/audit-log/anchors and the public GET /v1/intents/{digest}/inclusion-proof."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from backend.audit.anchorer import Anchorer, AnchorPolicy
from backend.audit.anchors import AnchorContract
from backend.chain.artifacts import load as load_artifacts
from backend.chain.tx import UnlockedSender
from backend.db.audit_models import AuditEntry
from tests.backend.api.conftest import read_chain  # noqa: F401  (a module-scoped chain)
from tests.backend.audit.conftest import AuditWorld, WallClock
from tests.backend.conftest import BACKENDS, StoreFactory
from tests.backend.operators.helpers import OpsEnv, error_code, open_ops


@pytest.fixture(scope="module", params=BACKENDS)
def env(request, read_chain, tmp_path_factory) -> Iterator[OpsEnv]:  # noqa: F811
    chain, _scenario = read_chain
    stores = StoreFactory(request.param, request, tmp_path_factory.mktemp("store"), [])
    try:
        with open_ops(chain, stores, tmp_path_factory.mktemp("ops")) as ops:
            yield ops
    finally:
        for cleanup in reversed(stores._cleanups):
            cleanup()


def _entries(env: OpsEnv, **where) -> list[AuditEntry]:
    with env.session() as s:
        query = select(AuditEntry).filter_by(**where).order_by(AuditEntry.seq)
        return list(s.scalars(query))


def test_operator_action__lands_in_the_chain_with_who_what_where_before_after(env):
    admin = env.signed_in("admin")
    response = env.call("POST", "/v1/operator/relayer/pause", admin, json={"reason": "incident"})
    assert response.status_code == 200, response.text

    entry = _entries(env, category="operator_action", action="relayer.pause")[-1]
    assert entry.actor == f"operator:{admin.username}/admin"
    assert entry.client == "testclient" and entry.reason == "incident"
    assert (entry.before, entry.after) == ({"paused": False}, {"paused": True})
    env.call("POST", "/v1/operator/relayer/resume", admin, json={"reason": "over"})


def test_sign_in__success_and_failure__both_recorded_without_secrets(env):
    op = env.make_operator("support")
    op_password = op.password
    op.password = "wrong password, long enough"
    assert env.sign_in(op).status_code == 401
    op.password = op_password
    assert env.sign_in(op).status_code == 200

    failed, succeeded = _entries(env, actor=f"operator:{op.username}")[-2:]
    assert (failed.action, failed.after["failure"]) == ("operator.sign_in_failed", "bad_password")
    assert (succeeded.action, succeeded.after["success"]) == ("operator.sign_in", True)
    assert op_password not in failed.body and "wrong password" not in failed.body


def test_privileged_call__refused__recorded(env):
    support = env.signed_in("support")
    response = env.call("POST", "/v1/operator/relayer/pause", support, json={"reason": "x"})
    assert error_code(response) == "role_forbidden"
    entry = _entries(env, category="privileged_call")[-1]
    assert entry.action == "relayer.pause.refused" and entry.after == {"code": "role_forbidden"}


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_audit_log__auditor_or_admin__pages_through_the_chain(env, role):
    reader = env.signed_in(role)
    seen, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = env.call("GET", f"/v1/audit-log{query}", reader, totp=False)
        assert page.status_code == 200, page.text
        seen += page.json()["entries"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(seen, seen[1:], strict=False))


@pytest.mark.parametrize("role", ["support", "risk", "compliance"])
def test_audit_log__other_roles__forbidden(env, role):
    op = env.signed_in(role)
    response = env.call("GET", "/v1/audit-log", op, totp=False)
    assert (response.status_code, error_code(response)) == (403, "role_forbidden")


def test_audit_log__without_a_session__refused(env):
    response = env.call("GET", "/v1/audit-log")
    assert response.status_code == 401


def test_audit_log__a_category__only_its_entries(env):
    auditor = env.signed_in("auditor")
    page = env.call("GET", "/v1/audit-log?category=sign_in", auditor, totp=False).json()
    assert page["entries"] and {e["category"] for e in page["entries"]} == {"sign_in"}
    bad = env.call("GET", "/v1/audit-log?category=misc", auditor, totp=False)
    assert bad.status_code == 422


# ----------------------------------------------------------------------------- anchors, proofs


@pytest.fixture
def fresh(anvil_chain, stores, tmp_path) -> Iterator[tuple[OpsEnv, AuditWorld]]:
    """The API on a chain of its own (the AuditAnchor of its deployment starts empty)."""
    with open_ops(anvil_chain, stores, tmp_path) as ops:
        contract = AnchorContract(
            anvil_chain.client, anvil_chain.deployment.audit_anchor, load_artifacts()
        )
        clock = WallClock(int(datetime.now(UTC).timestamp()) - 1_000)
        anchorer = Anchorer(
            ops.engine,
            anvil_chain.client,
            contract,
            UnlockedSender(anvil_chain.client, anvil_chain.deployer.address),
            chain_id=anvil_chain.deployment.chain_id,
            policy=AnchorPolicy(interval_seconds=600, settle_seconds=0),
            wall_clock=clock,
        )
        yield ops, AuditWorld(ops.engine, anvil_chain, contract, anchorer, clock, stores.backend)


def test_inclusion_proof__anchored_intent__public_and_verifies_on_chain(fresh):
    ops, audit_world = fresh
    digest = audit_world.intent(audit_world.clock.now - 60)
    audit_world.intent(audit_world.clock.now - 30)
    early = ops.call("GET", f"/v1/intents/{digest}/inclusion-proof")
    assert (early.status_code, error_code(early)) == (409, "intent_not_anchored")
    audit_world.anchorer.anchor_if_due()

    response = ops.call("GET", f"/v1/intents/{digest}/inclusion-proof")

    assert response.status_code == 200, response.text
    body = response.json()
    proof = [bytes.fromhex(p[2:]) for p in body["proof"]]
    assert audit_world.contract.verify_intent(
        body["anchor_index"], bytes.fromhex(digest[2:]), body["accepted_at"], proof
    )
    anchors = ops.call("GET", "/v1/audit-log/anchors").json()
    assert anchors["contract"] == audit_world.contract.address
    assert [(a["index"], a["intent_count"]) for a in anchors["anchors"]] == [(0, 2)]


def test_inclusion_proof__store_copy_of_anchors_lost_or_wrong__still_proved_from_the_chain(fresh):
    ops, audit_world = fresh
    digest = audit_world.intent(audit_world.clock.now - 60)
    audit_world.anchorer.anchor_if_due()
    audit_world.clock.now += 600
    audit_world.intent(audit_world.clock.now - 60)
    audit_world.anchorer.anchor_if_due()
    with ops.engine.begin() as conn:  # the owner empties the store's copy
        conn.execute(text("DELETE FROM audit_anchors"))
    lost = ops.call("GET", f"/v1/intents/{digest}/inclusion-proof")
    assert lost.status_code == 200, lost.text
    assert lost.json()["anchor_index"] == 0

    with ops.engine.begin() as conn:  # ...and plants a copy naming an anchor the chain lacks
        conn.execute(
            text(
                "INSERT INTO audit_anchors (chain_id, anchor_index, contract, head_seq, "
                "head_hash, intents_root, intent_count, from_time, to_time, tx_hash, "
                "block_number, anchored_at) VALUES (:chain, 7, :contract, 0, :zero, :zero, 0, "
                "0, :end, :zero, 0, :at)"
            ),
            {
                "chain": audit_world.chain.deployment.chain_id,
                "contract": audit_world.contract.address,
                "zero": "0x" + "00" * 32,
                "end": audit_world.clock.now,
                "at": datetime.now(UTC),
            },
        )
    wrong = ops.call("GET", f"/v1/intents/{digest}/inclusion-proof")
    assert wrong.status_code == 200, wrong.text
    proof = [bytes.fromhex(p[2:]) for p in wrong.json()["proof"]]
    assert wrong.json()["anchor_index"] == 0
    assert audit_world.contract.verify_intent(
        0, bytes.fromhex(digest[2:]), wrong.json()["accepted_at"], proof
    )


def test_inclusion_proof__unknown_digest__404(fresh):
    ops, _world = fresh
    response = ops.call("GET", "/v1/intents/0x" + "cd" * 32 + "/inclusion-proof")
    assert (response.status_code, error_code(response)) == (404, "intent_not_found")


def test_serve__anchorer_enabled__its_loop_publishes_the_first_anchor(
    anvil_chain, stores, tmp_path
):
    """`copyvault serve` starts the anchorer beside the indexer and relayer: its first round
    anchors at once (the first anchor covers everything before it)."""
    from backend.chain.actions import Key
    from backend.security.encryption import generate_secrets_key, parse_secrets_key
    from backend.security.relayer_key import write_encrypted_key
    from tests.backend.api.helpers import open_env

    secrets_key = generate_secrets_key()
    key_file = tmp_path / "anchorer.json"
    deployer = Key.anvil(0)  # the deployment's anchorer (deploy_system's default: the admin)
    write_encrypted_key(
        key_file, deployer.private_key, parse_secrets_key(secrets_key), purpose="anchorer-key"
    )
    contract = AnchorContract(
        anvil_chain.client, anvil_chain.deployment.audit_anchor, load_artifacts()
    )
    settings = {
        "secrets_key": secrets_key,
        "anchorer_enabled": True,
        "anchorer_key_file": key_file,
        "anchor_settle_seconds": 0,
    }
    with open_env(anvil_chain, stores, tmp_path, **settings):
        for _ in range(600):  # the loop's first round; a bound, not a timing assertion
            if contract.count():
                break
            time.sleep(0.1)
        assert contract.count() == 1 and contract.at(0).from_time == 0
