"""Sessions: revocable, short-lived, listed per address, and `GET /v1/auth/me` from the index.
Stolen tokens after logout or revocation, expired sessions, wrong kinds of token: each a 401 or
403 with its stable code. On SQLite and PostgreSQL."""

from __future__ import annotations

from backend.db.auth_models import ApiKey, AuthSession
from tests.backend.auth.conftest import ORIGIN, assert_error


def test_logout__stolen_cookie_and_bearer_then_401_session_revoked(ident):
    owner = ident.chain.owners[0]
    text = ident.message(owner.address)
    response = ident.sign_in_response(text, ident.sign(owner, text), bearer=False)
    token = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    stolen = {"Cookie": f"cv_session={token}", "Origin": ORIGIN}
    assert ident.api.client.get("/v1/auth/me", headers=stolen).status_code == 200
    logout = ident.api.client.post("/v1/auth/logout", headers=stolen)
    assert logout.status_code == 204
    assert (
        'cv_session=""' in logout.headers["set-cookie"]
        or "Max-Age=0" in (logout.headers["set-cookie"])
    )
    assert_error(ident.api.client.get("/v1/auth/me", headers=stolen), 401, "session_revoked")
    assert_error(ident.get("/v1/auth/me", token), 401, "session_revoked")
    assert_error(ident.api.client.post("/v1/auth/logout", headers=stolen), 401, "session_revoked")


def test_session__expired__401_session_expired(ident):
    owner = ident.chain.owners[0]
    token = ident.sign_in(owner)
    ident.expire(AuthSession, address=owner.address.lower())
    assert_error(ident.get("/v1/auth/me", token), 401, "session_expired")
    assert_error(ident.get("/v1/auth/sessions", token), 401, "session_expired")


def test_sessions__listed_per_address_revoked_by_id_not_by_others(ident):
    alice, bob = ident.chain.owners[0], ident.chain.owners[1]
    alice_laptop, alice_phone = ident.sign_in(alice), ident.sign_in(alice)
    bob_token = ident.sign_in(bob)
    listed = ident.get("/v1/auth/sessions", alice_laptop).json()["items"]
    assert len(listed) == 2
    assert {s["address"] for s in listed} == {alice.address}
    assert [s["current"] for s in listed].count(True) == 1
    phone_id = next(s["session_id"] for s in listed if not s["current"])
    assert len(ident.get("/v1/auth/sessions", bob_token).json()["items"]) == 1

    # Bob cannot revoke (or learn of) Alice's session.
    assert_error(ident.delete(f"/v1/auth/sessions/{phone_id}", bob_token), 404, "session_not_found")
    assert ident.get("/v1/auth/me", alice_phone).status_code == 200

    assert ident.delete(f"/v1/auth/sessions/{phone_id}", alice_laptop).status_code == 204
    assert_error(ident.get("/v1/auth/me", alice_phone), 401, "session_revoked")
    assert ident.get("/v1/auth/me", alice_laptop).status_code == 200
    assert [s["current"] for s in ident.get("/v1/auth/sessions", alice_laptop).json()["items"]] == [
        True
    ]
    again = ident.delete(f"/v1/auth/sessions/{phone_id}", alice_laptop)
    assert_error(again, 404, "session_not_found")
    bad_id = ident.delete("/v1/auth/sessions/'%20OR%201=1", alice_laptop)
    assert bad_id.status_code == 422


def test_me__owner_leader_and_delegate_from_the_index(ident):
    chain, a = ident.chain, ident.chain.actions
    leader, delegate, owner = chain.leader, chain.delegate, chain.owners[0]
    a.register(leader, "ipfs://leader")
    a.set_delegate(leader, delegate.address, a.timestamp() + 86_400)
    vault = a.create_vault([owner], leader=leader.address)
    ident.api.index()

    me_owner = ident.get("/v1/auth/me", ident.sign_in(owner)).json()
    assert me_owner["owner_of"] == [vault]
    assert (me_owner["leader"], me_owner["followed_by"], me_owner["delegate_of"]) == (False, [], [])

    me_leader = ident.get("/v1/auth/me", ident.sign_in(leader)).json()
    assert (me_leader["leader"], me_leader["followed_by"]) == (True, [vault])
    assert me_leader["owner_of"] == []

    me_delegate = ident.get("/v1/auth/me", ident.sign_in(delegate)).json()
    assert [d["leader"] for d in me_delegate["delegate_of"]] == [leader.address]
    assert me_delegate["leader"] is False


def test_session_endpoints__without_or_with_wrong_credentials__401_or_403_each_code(ident):
    owner = ident.chain.owners[0]
    token = ident.sign_in(owner)
    assert_error(ident.get("/v1/auth/me"), 401, "unauthenticated")
    cases = [
        ({"Authorization": "Bearer cvs_not-a-real-token"}, 401, "session_invalid"),
        ({"Authorization": "Bearer " + token[:-2] + "xx"}, 401, "session_invalid"),
        ({"Authorization": f"Basic {token}"}, 401, "session_invalid"),
        ({"Authorization": "Bearer cvo_operator-token"}, 401, "session_invalid"),
        ({"Authorization": "Bearer " + "cvs_" + "a" * 5_000}, 401, "session_invalid"),
        ({"Authorization": "Bearer ' OR 1=1 --"}, 401, "session_invalid"),
        ({"Cookie": "cv_session=' OR '1'='1"}, 401, "session_invalid"),
        ({"Authorization": "Bearer cvk_0123456789abcdef_secret"}, 403, "api_key_not_allowed"),
    ]
    for headers, status, code in cases:
        assert_error(ident.api.client.get("/v1/auth/me", headers=headers), status, code)
    assert ident.get("/v1/auth/me", token).status_code == 200


def test_cookie_session__state_change_from_another_or_no_origin__403_nothing_changed(ident):
    """Cross-site request forgery, should a browser or proxy drop SameSite: refused by Origin."""
    ident.register()
    leader = ident.chain.leader
    text = ident.message(leader.address)
    response = ident.sign_in_response(text, ident.sign(leader, text), bearer=False)
    cookie = {"Cookie": response.headers["set-cookie"].split(";")[0]}
    key_body = {"name": "csrf", "expires_in_days": 1, "rate_per_minute": 1}
    for origin in ({"Origin": "https://evil.test"}, {}, {"Origin": "null"}):
        headers = cookie | origin
        forged = ident.api.client.post("/v1/auth/keys", headers=headers, json=key_body)
        assert_error(forged, 403, "origin_not_allowed")
        assert_error(
            ident.api.client.post("/v1/auth/logout", headers=headers), 403, "origin_not_allowed"
        )
    assert ident.api.count(ApiKey) == 0
    # Reads need no Origin, and the web app's own origin may change things.
    assert ident.api.client.get("/v1/auth/me", headers=cookie).status_code == 200
    own = ident.api.client.post("/v1/auth/keys", headers=cookie | {"Origin": ORIGIN}, json=key_body)
    assert own.status_code == 201, own.text
    assert ident.api.count(ApiKey) == 1
