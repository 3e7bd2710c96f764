"""The role matrix: every privileged endpoint called by every role, and by callers that must be
refused whatever their role (no session, no/wrong/reused step-up code, an expired session, a
locked or disabled account), on both stores. Each answer (status and code) is checked against
one declared matrix, and so is the effect: the row, flag or chain state changed exactly when the
call was allowed, and one operator-actions row was written exactly then.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.db.operator_models import DenyListEntry, Operator, OperatorAction, RelayerControl
from backend.db.relay_models import Intent
from backend.services.deny_list import is_denied
from backend.services.operator_actions import PERMISSIONS
from tests.backend.operators.helpers import SESSION_SECONDS, Op, OpsEnv, error_code

ROLES = ("admin", "risk", "compliance", "support", "auditor")
# Callers refused whatever the endpoint: (status, code). They use a role the endpoint allows, so
# that the refusal comes from the check under test, not from the role.
REFUSED = {
    "no_session": (401, "operator_session_required"),
    "no_totp": (401, "step_up_required"),
    "wrong_totp": (401, "totp_invalid"),
    "reused_totp": (401, "totp_reused"),
    "expired_session": (401, "operator_session_invalid"),
    "signed_out": (401, "operator_session_invalid"),
    "disabled_operator": (401, "operator_session_invalid"),
    "locked_account": (423, "operator_locked"),
}
CALLERS = ROLES + tuple(REFUSED)


@dataclass
class Call:
    method: str
    path: str
    body: dict[str, Any] | None
    observe: Callable[[], Any]  # the state the call changes when allowed


def _intent(w: OpsEnv, status: str) -> str:
    digest = "0x" + secrets.token_hex(32)
    now = datetime.now(UTC)
    address = "0x" + "11" * 20
    with w.session() as s:
        s.add(
            Intent(
                chain_id=w.chain.deployment.chain_id,
                digest=digest,
                leader=address,
                signer=address,
                venue=address,
                token_in=address,
                token_out="0x" + "22" * 20,
                fraction_bps=5_000,
                min_price=1,
                nonce=secrets.randbelow(2**64),
                deadline=2**40,
                signature="0x" + "00" * 65,
                status=status,
                plan_due=status == "accepted",
                received_at=now,
                updated_at=now,
            )
        )
        s.commit()
    return digest


def _intent_status(w: OpsEnv, digest: str) -> Callable[[], str]:
    def observe() -> str:
        with w.session() as s:
            return s.scalar(select(Intent.status).where(Intent.digest == digest))

    return observe


def _set_paused(w: OpsEnv, paused: bool) -> Callable[[], bool]:
    chain_id = w.chain.deployment.chain_id
    with w.session() as s:
        row = s.get(RelayerControl, chain_id)
        if row is None:
            row = RelayerControl(chain_id=chain_id, changed_at=datetime.now(UTC))
            s.add(row)
        row.paused = paused
        s.commit()

    def observe() -> bool:
        with w.session() as s:
            return s.get(RelayerControl, chain_id).paused

    return observe


def _operator_field(w: OpsEnv, username: str, field: str) -> Callable[[], Any]:
    return lambda: getattr(w.operator_row(username), field)


def _denied(w: OpsEnv, address: str) -> Callable[[], list[str]]:
    def observe() -> list[str]:
        with w.session() as s:
            return is_denied(s, w.chain.deployment.chain_id, [address])

    return observe


def _guardian_vault(w: OpsEnv) -> Call:
    a = w.chain.actions
    vault = a.create_vault(
        [w.chain.owners[0]], leader=w.chain.leader.address, salt=secrets.randbelow(2**64)
    )
    w.api.index()
    return Call(
        "POST",
        f"/v1/operator/vaults/{vault}/guardian-pause",
        {"reason": "oracle manipulation on the vault's venue"},
        lambda: a.view(a.vault_abi, vault, "paused"),
    )


def _create(w: OpsEnv) -> Call:
    name = f"new-{secrets.token_hex(4)}"

    def observe() -> bool:
        with w.session() as s:
            return s.scalar(select(Operator.id).where(Operator.username == name)) is not None

    return Call("POST", "/v1/operator/operators", {"username": name, "role": "support"}, observe)


def _role(w: OpsEnv) -> Call:
    target = w.make_operator("support", prefix="target")
    return Call(
        "PUT",
        f"/v1/operator/operators/{target.username}/role",
        {"role": "compliance"},
        _operator_field(w, target.username, "role"),
    )


def _disable(w: OpsEnv) -> Call:
    target = w.make_operator("support", prefix="target")
    return Call(
        "POST",
        f"/v1/operator/operators/{target.username}/disable",
        {"reason": "left the company"},
        _operator_field(w, target.username, "status"),
    )


def _pause(w: OpsEnv) -> Call:
    return Call("POST", "/v1/operator/relayer/pause", {"reason": "incident"}, _set_paused(w, False))


def _resume(w: OpsEnv) -> Call:
    return Call("POST", "/v1/operator/relayer/resume", {"reason": "resolved"}, _set_paused(w, True))


def _hold(w: OpsEnv) -> Call:
    digest = _intent(w, "accepted")
    return Call(
        "POST",
        f"/v1/operator/intents/{digest}/hold",
        {"reason": "review"},
        _intent_status(w, digest),
    )


def _release(w: OpsEnv) -> Call:
    digest = _intent(w, "held")
    return Call(
        "POST",
        f"/v1/operator/intents/{digest}/release",
        {"reason": "ok"},
        _intent_status(w, digest),
    )


def _reject(w: OpsEnv) -> Call:
    digest = _intent(w, "held")
    return Call(
        "POST",
        f"/v1/operator/intents/{digest}/reject",
        {"reason": "fraud"},
        _intent_status(w, digest),
    )


def _deny(w: OpsEnv) -> Call:
    address = "0x" + secrets.token_hex(20)
    return Call(
        "PUT", f"/v1/operator/deny-list/{address}", {"reason": "sanctioned"}, _denied(w, address)
    )


def _undeny(w: OpsEnv) -> Call:
    address = "0x" + secrets.token_hex(20)
    with w.session() as s:
        s.add(
            DenyListEntry(
                chain_id=w.chain.deployment.chain_id,
                address=address,
                reason="sanctioned",
                added_by="compliance-officer",
                added_at=datetime.now(UTC),
            )
        )
        s.commit()
    return Call(
        "POST",
        f"/v1/operator/deny-list/{address}/remove",
        {"reason": "delisted"},
        _denied(w, address),
    )


# endpoint -> (permission, status when allowed, set-up making a fresh target, (before, after)).
ENDPOINTS: dict[str, tuple[str, int, Callable[[OpsEnv], Call], tuple[Any, Any]]] = {
    "create_operator": ("operators.manage", 201, _create, (False, True)),
    "change_role": ("operators.manage", 200, _role, ("support", "compliance")),
    "disable_operator": ("operators.manage", 200, _disable, ("active", "disabled")),
    "relayer_pause": ("relayer.pause", 200, _pause, (False, True)),
    "relayer_resume": ("relayer.resume", 200, _resume, (True, False)),
    "guardian_pause": ("guardian.pause", 200, _guardian_vault, (False, True)),
    "intent_hold": ("intents.hold", 200, _hold, ("accepted", "held")),
    "intent_release": ("intents.hold", 200, _release, ("held", "accepted")),
    "intent_reject": ("intents.hold", 200, _reject, ("held", "rejected")),
    "deny_add": ("deny_list.edit", 200, _deny, ([], "denied")),
    "deny_remove": ("deny_list.edit", 204, _undeny, ("denied", [])),
}

# The declared role table (docs/security-model.md shows the same): who may do what.
ROLE_TABLE = {
    "operators.manage": {"admin"},
    "relayer.pause": {"admin", "risk"},
    "relayer.resume": {"admin"},
    "guardian.pause": {"risk"},
    "intents.hold": {"risk"},
    "deny_list.edit": {"compliance"},
}


def expected(endpoint: str, caller: str) -> tuple[int, str | None]:
    permission, success, _, _ = ENDPOINTS[endpoint]
    if caller in REFUSED:
        return REFUSED[caller]
    if caller in ROLE_TABLE[permission]:
        return success, None
    return 403, "role_forbidden"


def test_role_table__the_code_enforces_the_declared_table():
    assert {p: set(r) for p, r in PERMISSIONS.items() if p in ROLE_TABLE} == ROLE_TABLE
    for roles in PERMISSIONS.values():
        assert roles <= set(ROLES)
    # Support and auditors never act.
    assert not any({"support", "auditor"} & ROLE_TABLE[p] for p in ROLE_TABLE)


def _caller(
    w: OpsEnv, caller: str, allowed_role: str, call: Call
) -> tuple[Op | None, str | None | bool]:
    """The operator making the call and the step-up code it sends (True: a fresh one)."""
    if caller == "no_session":
        return None, True
    role = caller if caller in ROLES else allowed_role
    op = w.signed_in(role)
    if caller == "no_totp":
        return op, None
    if caller == "wrong_totp":
        code = op.code(w.clock)
        return op, f"{(int(code) + 1) % 10**6:06d}"
    if caller == "reused_totp":
        w.clock.tick()
        code = op.code(w.clock)
        again = w.sign_in(op, code=code)  # the code is used once, to sign in
        assert again.status_code == 200, again.text
        return op, code
    if caller == "expired_session":
        w.clock.advance(SESSION_SECONDS + 1)
    elif caller == "signed_out":
        assert w.call("POST", "/v1/operator/sign-out", op, totp=None).status_code == 204
    elif caller == "disabled_operator":
        with w.session() as s:
            s.execute(
                Operator.__table__.update()
                .where(Operator.username == op.username)
                .values(status="disabled")
            )
            s.commit()
    elif caller == "locked_account":
        # As an attacker holding the session but not the authenticator: wrong codes until locked.
        for i in range(w.settings.operator_max_failures):
            wrong = f"{i:06d}" if f"{i:06d}" != op.code(w.clock) else "999999"
            refused = w.call(call.method, call.path, op, totp=wrong, json=call.body)
            assert refused.status_code == (
                423 if i == w.settings.operator_max_failures - 1 else 401
            )
    return op, True


def _actions(w: OpsEnv) -> int:
    with w.session() as s:
        return s.scalar(select(func.count()).select_from(OperatorAction))


def _normalise(value: Any) -> Any:
    return "denied" if isinstance(value, list) and value else value


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_role_matrix__every_endpoint_every_caller__answer_and_effect_match(
    world: OpsEnv, endpoint: str, caller: str
):
    permission, _success, setup, (before, after) = ENDPOINTS[endpoint]
    allowed_role = sorted(ROLE_TABLE[permission])[0]
    call = setup(world)
    op, totp = _caller(world, caller, allowed_role, call)
    assert _normalise(call.observe()) == before
    actions_before = _actions(world)

    response = world.call(call.method, call.path, op, totp=totp, json=call.body)

    status, code = expected(endpoint, caller)
    assert (response.status_code, error_code(response)) == (status, code), response.text
    allowed = code is None
    assert _normalise(call.observe()) == (after if allowed else before)
    assert _actions(world) - actions_before == (1 if allowed else 0)
    if allowed:
        with world.session() as s:
            row = s.scalar(select(OperatorAction).order_by(OperatorAction.id.desc()).limit(1))
        assert (row.username, row.role) == (op.username, op.role)
        assert row.client_address == "testclient"


READS = {
    "/v1/operator/operators": "state.read",
    "/v1/operator/relayer": "state.read",
    "/v1/operator/intents/held": "state.read",
    "/v1/operator/deny-list": "state.read",
    "/v1/operator/actions": "records.read",
    "/v1/operator/sign-ins": "records.read",
}
READ_TABLE = {
    "state.read": {"admin", "risk", "compliance", "support"},
    "records.read": {"admin", "auditor"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", list(READS))
def test_role_matrix__reads__only_the_declared_roles_read(world: OpsEnv, path: str, role: str):
    assert {p: set(PERMISSIONS[p]) for p in READ_TABLE} == READ_TABLE
    op = world.signed_in(role)
    response = world.call("GET", path, op, totp=None)
    if role in READ_TABLE[READS[path]]:
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list | dict)
    else:
        assert (response.status_code, error_code(response)) == (403, "role_forbidden")
    # Reads need no step-up and no session is refused.
    anonymous = world.call("GET", path, None, totp=None)
    assert (anonymous.status_code, error_code(anonymous)) == (401, "operator_session_required")
