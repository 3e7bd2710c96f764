"""Schemathesis over the operator endpoints as signed-in operators: every generated request
carries a live session of a role the operation allows and a fresh step-up code, so generated
bodies, paths and queries reach the services and the store (the anonymous fuzz in
tests/backend/api stops at the 401). None may answer a 5xx or leave the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.python import asgi

from backend.services.operator_actions import PERMISSIONS
from tests.backend.api.test_openapi_fuzz import CHECKS
from tests.backend.operators.helpers import Op, OpsEnv

EXAMPLES = 15
ROLE_OF = {  # path (and method) -> a role allowed to call it
    "/v1/operator/operators": "admin",
    "/v1/operator/operators/{username}/role": "admin",
    "/v1/operator/operators/{username}/disable": "admin",
    "/v1/operator/relayer/pause": "risk",
    "/v1/operator/relayer/resume": "admin",
    "/v1/operator/vaults/{vault}/guardian-pause": "risk",
    "/v1/operator/intents/{digest}/hold": "risk",
    "/v1/operator/intents/{digest}/release": "risk",
    "/v1/operator/intents/{digest}/reject": "risk",
    "/v1/operator/deny-list/{address}": "compliance",
    "/v1/operator/deny-list/{address}/remove": "compliance",
    "/v1/operator/actions": "auditor",
    "/v1/operator/sign-ins": "auditor",
    # compliance: the role that may call them, so generated requests reach the services
    "/v1/operator/compliance/cases": "compliance",
    "/v1/operator/compliance/cases/{case_id}/{decision}": "compliance",
    "/v1/operator/compliance/kyc/{address}": "compliance",
    "/v1/operator/compliance/kyc/attestations/{attestation_id}/evidence": "compliance",
}


@pytest.fixture(params=["sqlite"])
def backend(request):  # the fuzz needs one store; the matrix covers both
    return request.param


def test_operator_fuzz__signed_in_with_fresh_codes__never_a_server_error(ops: OpsEnv):
    assert set(PERMISSIONS)  # the table the roles above are taken from
    app = ops.api.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    callers: dict[str, Op] = {role: ops.signed_in(role) for role in set(ROLE_OF.values())}
    callers["support"] = ops.signed_in("support")
    failures: list[str] = []
    statuses: list[int] = []
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if not operation.path.startswith("/v1/operator"):
                continue
            operations += 1
            op = callers[ROLE_OF.get(operation.path, "support")]
            # A session per operation: 15 fresh codes move the clock 7.5 minutes, and sign-out
            # (fuzzed too) ends the caller's sessions.
            assert ops.sign_in(op).status_code == 200
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):
                _fuzz(ops, operation, mode, op, failures, statuses)
    finally:
        asgi.shutdown_lifespans()
    assert operations >= 20
    # The sessions and codes were good: generated requests got past them to the services.
    assert {200, 201, 204} <= set(statuses) and {404, 409, 422} <= set(statuses)
    assert not failures, "\n\n".join(dict.fromkeys(failures))


def _fuzz(ops: OpsEnv, operation, mode, op: Op, failures: list[str], statuses: list[int]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        ops.clock.tick()
        case.headers = dict(case.headers or {})
        if mode == schemathesis.GenerationMode.POSITIVE:
            case.headers["Authorization"] = f"Bearer {op.token}"
            case.headers["X-Copyvault-TOTP"] = op.code(ops.clock)
        try:
            response = case.call_and_validate(checks=CHECKS)
            statuses.append(response.status_code)
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {exc}")
            if len(failures) > 50:
                raise

    try:
        run()
    except Unsatisfiable:
        assert mode == schemathesis.GenerationMode.NEGATIVE, operation.path
