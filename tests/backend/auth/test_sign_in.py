"""Sign-in with Ethereum (EIP-4361): every check the server makes, tried as an attacker would, on
SQLite and PostgreSQL. A refused sign-in creates no session and (except a replay) leaves the nonce
usable."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from backend.db.auth_models import AuthNonce, AuthSession
from tests.backend.auth.conftest import DOMAIN, ORIGIN, assert_error, iso


def _sessions(ident) -> int:
    return ident.api.count(AuthSession)


def test_sign_in__eoa_bearer__session_token_works_and_only_its_hash_is_stored(ident):
    owner = ident.chain.owners[0]
    text = ident.message(owner.address)
    response = ident.sign_in_response(text, ident.sign(owner, text))
    assert response.status_code == 201, response.text
    out = response.json()
    token = out["token"]
    assert token.startswith("cvs_") and len(token) >= 40
    assert (out["address"], out["method"], out["current"]) == (owner.address, "ecdsa", True)
    assert "set-cookie" not in response.headers
    me = ident.get("/v1/auth/me", token)
    assert me.status_code == 200, me.text
    assert me.json()["address"] == owner.address
    with ident.api.engine.connect() as conn:
        row = conn.execute(select(AuthSession)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(tuple(row))


def test_sign_in__cookie__httponly_secure_samesite_strict_and_no_token_in_body(ident):
    owner = ident.chain.owners[0]
    text = ident.message(owner.address)
    response = ident.sign_in_response(text, ident.sign(owner, text), bearer=False)
    assert response.status_code == 201, response.text
    assert response.json()["token"] is None
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token.startswith("cvs_")
    me = ident.api.client.get("/v1/auth/me", headers={"Cookie": f"cv_session={token}"})
    assert me.status_code == 200 and me.json()["address"] == owner.address


def test_sign_in__replayed_message__401_nonce_used_one_session(ident):
    owner = ident.chain.owners[0]
    text = ident.message(owner.address)
    signature = ident.sign(owner, text)
    assert ident.sign_in_response(text, signature).status_code == 201
    replay = ident.sign_in_response(text, signature)
    assert "replay" in assert_error(replay, 401, "siwe_nonce_used")
    assert _sessions(ident) == 1


def test_sign_in__concurrent_with_one_nonce__exactly_one_wins(ident_server):
    ident, url = ident_server
    owner = ident.chain.owners[0]
    text = ident.message(owner.address)
    body = {"message": text, "signature": ident.sign(owner, text), "bearer": True}
    barrier = threading.Barrier(6)
    answers: list[object] = []

    def attempt() -> None:
        try:
            barrier.wait()
            response = httpx.post(f"{url}/v1/auth/sign-in", json=body, timeout=30)
            answers.append((response.status_code, response.json().get("error", {}).get("code")))
        except Exception as exc:  # noqa: BLE001 - reported below, not lost in the thread
            answers.append(repr(exc))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers, key=str) == [(201, None)] + [(401, "siwe_nonce_used")] * 5, answers
    assert _sessions(ident) == 1


def test_sign_in__other_domain__401_domain_mismatch_nonce_still_usable(ident):
    owner = ident.chain.owners[0]
    nonce = ident.nonce()
    phished = ident.message(owner.address, nonce, domain="copyvau1t.test")
    assert_error(
        ident.sign_in_response(phished, ident.sign(owner, phished)), 401, "siwe_domain_mismatch"
    )
    assert _sessions(ident) == 0
    honest = ident.message(owner.address, nonce)
    assert ident.sign_in_response(honest, ident.sign(owner, honest)).status_code == 201


def test_sign_in__uri_on_other_origin__401_uri_not_allowed(ident):
    owner = ident.chain.owners[0]
    for uri in ("https://evil.test/sign-in", f"http://{DOMAIN}/sign-in", f"{ORIGIN}:8443/x"):
        text = ident.message(owner.address, uri=uri)
        assert_error(
            ident.sign_in_response(text, ident.sign(owner, text)), 401, "siwe_uri_not_allowed"
        )
    assert _sessions(ident) == 0


def test_sign_in__other_chain__401_chain_mismatch(ident):
    owner = ident.chain.owners[0]
    text = ident.message(owner.address, chain_id=1)
    message = assert_error(
        ident.sign_in_response(text, ident.sign(owner, text)), 401, "siwe_chain_mismatch"
    )
    assert str(ident.chain.deployment.chain_id) in message
    assert _sessions(ident) == 0


def test_sign_in__expired_old_or_not_yet_valid__401_each_with_its_code(ident):
    owner = ident.chain.owners[0]
    now = datetime.now(UTC)
    cases = [
        ({"expiration_time": iso(now - timedelta(seconds=1))}, "siwe_expired"),
        (
            {"issued_at": iso(now - timedelta(hours=2)), "expiration_time": None},
            "siwe_issued_at",
        ),
        ({"issued_at": iso(now + timedelta(hours=1))}, "siwe_issued_at"),
        # Within the nonce's lifetime, but minutes before the nonce existed: backdated.
        ({"issued_at": iso(now - timedelta(minutes=3))}, "siwe_issued_at"),
        ({"not_before": iso(now + timedelta(minutes=10))}, "siwe_not_yet_valid"),
    ]
    for overrides, code in cases:
        text = ident.message(owner.address, **overrides)
        assert_error(ident.sign_in_response(text, ident.sign(owner, text)), 401, code)
    assert _sessions(ident) == 0


def test_sign_in__tampered_statement__401_signature_invalid(ident):
    owner = ident.chain.owners[0]
    text = ident.message(owner.address, statement="Sign in to copyvault.")
    signature = ident.sign(owner, text)
    tampered = text.replace("Sign in to copyvault.", "Sign in to copyvault and approve all.")
    assert_error(ident.sign_in_response(tampered, signature), 401, "siwe_signature_invalid")
    assert _sessions(ident) == 0
    # The nonce was not burnt by the forgery: the genuine message still signs in.
    assert ident.sign_in_response(text, signature).status_code == 201


def test_sign_in__for_another_address__401_signature_invalid(ident):
    victim = ident.chain.owners[0]
    text = ident.message(victim.address)
    message = assert_error(
        ident.sign_in_response(text, ident.sign(ident.attacker, text)),
        401,
        "siwe_signature_invalid",
    )
    assert ident.attacker.address in message and victim.address in message
    assert _sessions(ident) == 0


def test_sign_in__nonce_not_issued_or_expired__401_nonce_unknown(ident):
    owner = ident.chain.owners[0]
    made_up = ident.message(owner.address, nonce="abcdefgh12345678")
    assert_error(
        ident.sign_in_response(made_up, ident.sign(owner, made_up)), 401, "siwe_nonce_unknown"
    )
    nonce = ident.nonce()
    ident.expire(AuthNonce, nonce=nonce)
    stale = ident.message(owner.address, nonce)
    assert_error(ident.sign_in_response(stale, ident.sign(owner, stale)), 401, "siwe_nonce_unknown")
    assert _sessions(ident) == 0


def test_sign_in__contract_wallet_eip1271__session_for_the_wallet(ident):
    wallet_key = ident.chain.keys[7]
    wallet = ident.contract_wallet(wallet_key)
    text = ident.message(wallet)
    wrong = ident.sign_in_response(text, ident.sign(ident.attacker, text))
    assert "isValidSignature" in assert_error(wrong, 401, "siwe_signature_invalid")
    response = ident.sign_in_response(text, ident.sign(wallet_key, text))
    assert response.status_code == 201, response.text
    assert (response.json()["address"], response.json()["method"]) == (wallet, "eip1271")
    me = ident.get("/v1/auth/me", response.json()["token"]).json()
    assert me["address"] == wallet


def test_sign_in__garbage_and_oversized_input__4xx_never_500(ident):
    owner = ident.chain.owners[0]
    good = ident.message(owner.address)
    signature = ident.sign(owner, good)
    cases = [
        ({"message": "hello", "signature": signature}, 400, "siwe_malformed"),
        ({"message": "'; DROP TABLE auth_sessions; --", "signature": signature}, 400, None),
        ({"message": good.replace("\n", "\r\n"), "signature": signature}, 400, "siwe_malformed"),
        ({"message": good + "\n", "signature": signature}, 400, "siwe_malformed"),
        ({"message": good.lower(), "signature": signature}, 400, "siwe_malformed"),
        ({"message": good, "signature": "0x" + "00" * 65}, 401, "siwe_signature_invalid"),
        ({"message": good, "signature": "0x1234"}, 401, "siwe_signature_invalid"),
        ({"message": good, "signature": "not hex"}, 422, None),
        ({"message": "a" * 2_049, "signature": signature}, 422, "invalid_request"),
        ({"message": good, "signature": signature, "extra": 1}, 422, "invalid_request"),
        ({"message": 5, "signature": signature}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        response = ident.api.post("/v1/auth/sign-in", json=body)
        assert response.status_code == status, (body, response.text)
        if code is not None:
            assert response.json()["error"]["code"] == code, response.text
    raw = ident.api.post(
        "/v1/auth/sign-in", content=b"\xff\x00{", headers={"content-type": "application/json"}
    )
    assert raw.status_code == 400
    assert _sessions(ident) == 0
    # Garbage of the largest size accepted is refused quickly (no slow parser on the path).
    started = time.monotonic()
    big = ident.api.post("/v1/auth/sign-in", json={"message": "a" * 2_048, "signature": signature})
    assert big.status_code == 400 and time.monotonic() - started < 1.0
    assert ident.sign_in_response(good, signature).status_code == 201


def test_sign_in__node_down__eoa_signs_in_contract_wallet_503_nonce_kept(ident):
    """An EOA's signature needs no node; a contract wallet's does: 503 with Retry-After (not
    "invalid"), and its nonce is not consumed."""
    owner, wallet_key = ident.chain.owners[0], ident.chain.keys[7]
    wallet = ident.contract_wallet(wallet_key)
    eoa_text = ident.message(owner.address)
    wallet_text = ident.message(wallet)
    ident.chain.node.stop()
    assert ident.sign_in_response(eoa_text, ident.sign(owner, eoa_text)).status_code == 201
    down = ident.sign_in_response(wallet_text, ident.sign(wallet_key, wallet_text))
    assert_error(down, 503, "chain_unavailable")
    assert down.headers["retry-after"]
    with ident.api.engine.connect() as conn:
        used = conn.execute(select(AuthNonce.used_at).order_by(AuthNonce.created_at)).scalars()
        assert [u is not None for u in used] == [True, False]
    assert _sessions(ident) == 1


def test_sign_in__real_safe_2_of_3__signs_in_with_two_owners_not_with_one(ident):
    """A Safe 1.4.1 (the npm bytecode) as the signing-in address: its fallback handler checks the
    owners' signatures over its SafeMessage wrapping of the EIP-191 hash."""
    owners = ident.chain.keys[6:9]
    safe = ident.safe(owners, threshold=2)
    text = ident.message(safe)
    one = ident.sign_in_response(text, ident.safe_sign(safe, owners[:1], text))
    assert "isValidSignature" in assert_error(one, 401, "siwe_signature_invalid")
    stranger = ident.sign_in_response(
        text, ident.safe_sign(safe, [owners[0], ident.attacker], text)
    )
    assert_error(stranger, 401, "siwe_signature_invalid")
    two = ident.sign_in_response(text, ident.safe_sign(safe, owners[1:], text))
    assert two.status_code == 201, two.text
    assert (two.json()["address"], two.json()["method"]) == (safe, "eip1271")
    assert _sessions(ident) == 1


def test_nonce__random_single_use_short_lived_and_expired_ones_removed(ident):
    first = ident.api.post("/v1/auth/nonce").json()
    second = ident.nonce()
    assert first["nonce"] != second and len(second) == 32 and second.isalnum()
    expires = datetime.fromisoformat(first["expires_at"].replace("Z", "+00:00"))
    lifetime = expires - datetime.now(UTC)
    assert timedelta(0) < lifetime <= timedelta(seconds=ident.api.settings.siwe_nonce_seconds)
    ident.expire(AuthNonce, nonce=first["nonce"])
    ident.nonce()
    with ident.api.engine.connect() as conn:
        kept = set(conn.execute(select(AuthNonce.nonce)).scalars())
    assert first["nonce"] not in kept and second in kept and len(kept) == 2
