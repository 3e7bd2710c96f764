"""Leader API keys: created by a signed-in registered leader, shown once, stored hashed, bounded,
listed without secrets, revocable, every use recorded; a key submits only its own leader's
intents and can do nothing else. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import time

from fastapi import Request
from sqlalchemy import select

from backend.api.auth import Principal, intent_caller
from backend.api.deps import AppState
from backend.api.routes import intents as intents_route
from backend.db.auth_models import ApiKey, ApiKeyUse
from backend.db.relay_models import Intent
from tests.backend.auth.conftest import assert_error


def _uses(ident) -> list[ApiKeyUse]:
    with ident.api.engine.connect() as conn:
        return list(conn.execute(select(ApiKeyUse).order_by(ApiKeyUse.id)).all())


def _leader_key(ident, **overrides) -> tuple[str, dict]:
    ident.register()
    session = ident.sign_in(ident.chain.leader)
    return session, ident.create_key(session, **overrides)


def test_create_key__secret_shown_once_stored_hashed_listed_without_secret(ident):
    session, created = _leader_key(ident, name="momentum bot", rate_per_minute=120)
    key = created["key"]
    key_id, secret = key.removeprefix("cvk_").split("_", 1)
    assert key_id == created["id"] and len(secret) >= 43
    assert (created["leader"], created["name"], created["rate_per_minute"]) == (
        ident.chain.leader.address,
        "momentum bot",
        120,
    )
    assert created["status"] == "active"
    with ident.api.engine.connect() as conn:
        row = conn.execute(select(ApiKey)).one()
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(tuple(row))
    listed = ident.get("/v1/auth/keys", session).json()["items"]
    assert [k["id"] for k in listed] == [key_id]
    assert "key" not in listed[0] and secret not in str(listed)


def test_create_key__not_a_registered_leader__403_nothing_stored(ident):
    session = ident.sign_in(ident.attacker)
    response = ident.post(
        "/v1/auth/keys", session, json={"name": "x", "expires_in_days": 1, "rate_per_minute": 1}
    )
    assert_error(response, 403, "not_a_leader")
    assert ident.api.count(ApiKey) == 0


def test_create_key__beyond_the_settings_bounds__refused(ident):
    ident.register()
    session = ident.sign_in(ident.chain.leader)
    settings = ident.api.settings
    too_long = {"name": "a", "expires_in_days": settings.api_key_max_days + 1, "rate_per_minute": 1}
    too_fast = {
        "name": "a",
        "expires_in_days": 1,
        "rate_per_minute": settings.api_key_max_rate_per_minute + 1,
    }
    assert_error(ident.post("/v1/auth/keys", session, json=too_long), 400, "api_key_terms")
    assert_error(ident.post("/v1/auth/keys", session, json=too_fast), 400, "api_key_terms")
    for bad in (
        {"name": "", "expires_in_days": 1, "rate_per_minute": 1},
        {"name": "a\nb", "expires_in_days": 1, "rate_per_minute": 1},
        {"name": "x" * 65, "expires_in_days": 1, "rate_per_minute": 1},
        {"name": "a", "expires_in_days": 0, "rate_per_minute": 1},
    ):
        assert ident.post("/v1/auth/keys", session, json=bad).status_code == 422
    for _ in range(settings.api_key_max_per_leader):
        ident.create_key(session)
    assert_error(
        ident.post(
            "/v1/auth/keys", session, json={"name": "a", "expires_in_days": 1, "rate_per_minute": 1}
        ),
        409,
        "too_many_api_keys",
    )
    assert ident.api.count(ApiKey) == settings.api_key_max_per_leader


def test_key__submits_its_leaders_intent__202_and_the_use_recorded(ident):
    _, created = _leader_key(ident)
    body = ident.intent(nonce=5)
    response = ident.post("/v1/intents", created["key"], json=body)
    assert response.status_code == 202, response.text
    digest = response.json()["digest"]
    [use] = _uses(ident)
    assert (use.key_id, use.method, use.route, use.status) == (
        created["id"],
        "POST",
        "/v1/intents",
        202,
    )
    assert use.intent_digest == digest and use.client == "testclient"


def test_key__of_leader_a_for_leader_b__403_nothing_stored_attempt_recorded(ident):
    _, created = _leader_key(ident)
    other = ident.chain.owners[2]
    body = ident.intent(signer=other, leader=other.address)
    response = ident.post("/v1/intents", created["key"], json=body)
    assert other.address in assert_error(response, 403, "api_key_wrong_leader")
    assert ident.api.count(Intent) == 0
    [use] = _uses(ident)
    assert (use.status, use.route) == (403, "/v1/intents") and use.intent_digest is not None


def test_key__revoked_expired_or_wrong_secret__401_each_code_nothing_stored(ident):
    session, created = _leader_key(ident)
    key = created["key"]
    assert_error(
        ident.post("/v1/intents", key[:-3] + "abc", json=ident.intent()), 401, "api_key_invalid"
    )
    assert_error(
        ident.post("/v1/intents", "cvk_ffffffffffffffff_x", json=ident.intent()),
        401,
        "api_key_invalid",
    )
    assert ident.delete(f"/v1/auth/keys/{created['id']}", session).status_code == 204
    assert_error(ident.post("/v1/intents", key, json=ident.intent()), 401, "api_key_revoked")
    assert ident.get("/v1/auth/keys", session).json()["items"][0]["status"] == "revoked"

    second = ident.create_key(session)
    ident.expire(ApiKey, id=second["id"])
    assert_error(
        ident.post("/v1/intents", second["key"], json=ident.intent()), 401, "api_key_expired"
    )
    assert ident.api.count(Intent) == 0
    statuses = [(u.key_id, u.status) for u in _uses(ident)]
    assert statuses == [(created["id"], 401), (created["id"], 401), (second["id"], 401)]


def test_key__on_any_other_endpoint__403_api_key_not_allowed_and_recorded(ident):
    session, created = _leader_key(ident)
    key = created["key"]
    vault = ident.chain.actions.create_vault(
        [ident.chain.owners[0]], leader=ident.chain.leader.address
    )
    ident.api.index()
    attempts = [
        ("GET", "/v1/auth/me", None),
        ("GET", "/v1/auth/keys", None),
        ("POST", "/v1/auth/keys", {"name": "escalate", "expires_in_days": 1, "rate_per_minute": 1}),
        ("DELETE", f"/v1/auth/keys/{created['id']}", None),
        ("POST", "/v1/auth/logout", None),
        ("GET", f"/v1/vaults/{vault}", None),
        ("POST", f"/v1/vaults/{vault}/proposals/withdrawal", {"token": vault}),
        ("POST", f"/v1/proposals/0x{'11' * 32}/signatures", {"signer": vault}),
        ("GET", "/v1/health", None),
        ("GET", "/metrics", None),
        ("GET", "/v1/intents", None),
        ("POST", "/v1/intents/", None),
        ("GET", "/v1/operators/me", None),
        ("POST", "/v1/relayer/pause", None),
    ]
    for method, path, body in attempts:
        response = ident.api.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert_error(response, 403, "api_key_not_allowed")
    # Nothing happened: the key is still active and the only one.
    assert [k["status"] for k in ident.get("/v1/auth/keys", session).json()["items"]] == ["active"]
    uses = _uses(ident)
    assert [(u.method, u.route, u.status) for u in uses] == [
        (method, path, 403) for method, path, _ in attempts
    ]


def test_session_token_on_intents__leader_or_delegate_only(ident):
    chain, a = ident.chain, ident.chain.actions
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + 86_400)
    ident.register()
    stranger = ident.sign_in(ident.attacker)
    response = ident.post("/v1/intents", stranger, json=ident.intent(nonce=1))
    assert_error(response, 403, "session_wrong_leader")
    assert ident.api.count(Intent) == 0
    delegate = ident.sign_in(chain.delegate)
    accepted = ident.post("/v1/intents", delegate, json=ident.intent(nonce=2))
    assert accepted.status_code == 202, accepted.text
    leader = ident.sign_in(chain.leader)
    assert ident.post("/v1/intents", leader, json=ident.intent(nonce=3)).status_code == 202
    # A session token is no API key: no use is recorded, and a bad token is 401, not ignored.
    assert _uses(ident) == []
    assert_error(
        ident.post("/v1/intents", "cvs_forged", json=ident.intent(nonce=4)), 401, "session_invalid"
    )


def test_revoke_or_read_another_leaders_key__404(ident):
    _, created = _leader_key(ident)
    other = ident.chain.owners[2]
    ident.register(other)
    thief = ident.sign_in(other)
    assert_error(ident.delete(f"/v1/auth/keys/{created['id']}", thief), 404, "api_key_not_found")
    assert_error(ident.get(f"/v1/auth/keys/{created['id']}/uses", thief), 404, "api_key_not_found")
    assert ident.get("/v1/auth/keys", thief).json()["items"] == []


def test_key_uses__listed_for_the_leader_newest_first(ident):
    session, created = _leader_key(ident)
    ident.post("/v1/intents", created["key"], json=ident.intent(nonce=7))
    ident.get("/v1/auth/me", created["key"])
    uses = ident.get(f"/v1/auth/keys/{created['id']}/uses", session).json()["items"]
    assert [(u["route"], u["status"]) for u in uses] == [("/v1/auth/me", 403), ("/v1/intents", 202)]


def test_intake_open_by_default__anonymous_intent_202(ident):
    ident.register()
    response = ident.api.post("/v1/intents", json=ident.intent(nonce=11))
    assert response.status_code == 202, response.text


def test_intake_requiring_credentials__anonymous_401_key_or_session_202(ident_strict):
    ident = ident_strict
    anonymous = ident.api.post("/v1/intents", json=ident.intent(nonce=1))
    assert_error(anonymous, 401, "credentials_required")
    assert ident.api.count(Intent) == 0
    session, created = _leader_key(ident)
    assert ident.post("/v1/intents", created["key"], json=ident.intent(nonce=2)).status_code == 202
    assert ident.post("/v1/intents", session, json=ident.intent(nonce=3)).status_code == 202
    assert ident.api.count(Intent) == 2


def test_key__invalid_intent_body__422_and_the_use_still_recorded(ident):
    _, created = _leader_key(ident)
    response = ident.post("/v1/intents", created["key"], json={"leader": "' OR 1=1 --"})
    assert response.status_code == 422
    [use] = _uses(ident)
    assert (use.key_id, use.route, use.status, use.intent_digest) == (
        created["id"],
        "/v1/intents",
        422,
        None,
    )


def test_key__principal_on_request_state_carries_id_and_rate_for_the_limiter(ident, monkeypatch):
    """The seam of the shared rate limiter: `request.state.principal` after authentication."""
    seen: list[Principal | None] = []

    async def spy(request: Request, state: AppState) -> Principal | None:
        principal = await intent_caller(request, state)
        seen.append(getattr(request.state, "principal", None))
        return principal

    session, created = _leader_key(ident, rate_per_minute=42)
    # POST /v1/intents calls the intake's caller itself (not as a FastAPI dependency).
    monkeypatch.setattr(intents_route, "intent_caller", spy)
    assert ident.post("/v1/intents", created["key"], json=ident.intent(nonce=1)).status_code == 202
    assert ident.post("/v1/intents", session, json=ident.intent(nonce=2)).status_code == 202
    assert ident.api.post("/v1/intents", json=ident.intent(nonce=3)).status_code == 202
    leader = ident.chain.leader.address.lower()
    assert seen[0] == Principal(
        kind="api_key", address=leader, credential_id=created["id"], rate_per_minute=42
    )
    assert seen[1] is not None and (seen[1].kind, seen[1].address, seen[1].rate_per_minute) == (
        "session",
        leader,
        None,
    )
    assert seen[2] is None


def test_tokens_swapped_or_forged__session_as_key_and_key_as_session_refused(ident):
    session, created = _leader_key(ident)
    key = created["key"]
    as_key = "cvk_" + session.removeprefix("cvs_")
    assert_error(ident.post("/v1/intents", as_key, json=ident.intent()), 401, "api_key_invalid")
    as_session = "cvs_" + key.removeprefix("cvk_")
    assert_error(ident.get("/v1/auth/me", as_session), 401, "session_invalid")
    assert_error(ident.get("/v1/auth/keys", key), 403, "api_key_not_allowed")
    forged = [
        "cvk_' OR 1=1 --_x",
        "cvk_" + created["id"] + "_",
        "cvk_" + created["id"],
        "cvk_" + created["id"] + "_" + "a" * 5_000,
        "cvk_" + "f" * 5_000 + "_x",
        "cvk_%00_%00",
    ]
    for token in forged:
        assert_error(ident.post("/v1/intents", token, json=ident.intent()), 401, "api_key_invalid")
    assert ident.api.count(Intent) == 0
    # Only the real key's use (on a forbidden route) is recorded: forgeries of the wrong shape are
    # refused before any look-up, and a session token names no key.
    assert [(u.key_id, u.status) for u in _uses(ident)] == [(created["id"], 403)]


def test_create_key__for_another_leader_or_by_a_delegate__refused_nothing_stored(ident):
    chain, a = ident.chain, ident.chain.actions
    ident.register()
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + 86_400)
    other = chain.owners[2]
    ident.register(other)
    session = ident.sign_in(other)
    body = {"name": "x", "expires_in_days": 1, "rate_per_minute": 1}
    smuggled = ident.post("/v1/auth/keys", session, json=body | {"leader": chain.leader.address})
    assert_error(smuggled, 422, "invalid_request")
    delegate = ident.sign_in(chain.delegate)
    assert_error(ident.post("/v1/auth/keys", delegate, json=body), 403, "not_a_leader")
    assert ident.api.count(ApiKey) == 0


def test_session_of_an_expired_delegate__intent_403_session_wrong_leader(ident):
    chain, a = ident.chain, ident.chain.actions
    ident.register()
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + 600)
    ident.api.index()
    delegate = ident.sign_in(chain.delegate)
    assert ident.post("/v1/intents", delegate, json=ident.intent(nonce=1)).status_code == 202
    chain.rpc("evm_increaseTime", 3_600)
    chain.mine()
    time.sleep(1.2)  # the API's chain clock reads the head about once a second
    late = ident.post("/v1/intents", delegate, json=ident.intent(nonce=2))
    assert_error(late, 403, "session_wrong_leader")
    assert ident.api.count(Intent) == 1
