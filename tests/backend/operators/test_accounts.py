"""Operator accounts as an attacker would try them: sign-in, lock-out, new devices, enrolment,
sessions, and what the store and the logs hold (never a password, never a TOTP seed in clear)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from backend.db.operator_models import Operator, OperatorAction, OperatorSession, OperatorSignIn
from backend.security.encryption import SecretDecryptionError, generate_secrets_key
from backend.security.tokens import sha256_hex
from backend.services import operators
from tests.backend.operators.helpers import PASSWORD, Op, OpsEnv, error_code

# The concurrency tests check who wins a race, not how fast: twelve requests at once on a busy
# two-core CI machine once took longer than httpx's default 5 s to answer (a ReadTimeout, not a
# wrong answer), so they wait as long as it takes.
SLOW_MACHINE_TIMEOUT = 120.0


def _sign_ins(ops: OpsEnv, op: Op) -> list[dict]:
    response = ops.call("GET", "/v1/operator/me/sign-ins", op, totp=None)
    assert response.status_code == 200, response.text
    return response.json()


# ----------------------------------------------------------------------------- sign-in, sessions


def test_sign_in__password_and_code__short_lived_hashed_session_and_strict_cookies(ops: OpsEnv):
    op = ops.make_operator("support")
    response = ops.sign_in(op, **{"User-Agent": "Firefox/140 on Linux"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"].startswith("cvo_") and body["operator"]["role"] == "support"
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("cvo_session="))
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/v1/operator", "Max-Age=3600"):
        assert attribute.lower() in session_cookie.lower(), session_cookie
    with ops.session() as s:
        row = s.scalar(select(OperatorSession))
    assert row.token_hash == sha256_hex(body["token"])
    assert body["token"] not in str(row.__dict__)
    # The cookie form works as well as the bearer form.
    me = ops.api.client.get("/v1/operator/me", headers={"Cookie": f"cvo_session={body['token']}"})
    assert me.status_code == 200 and me.json()["username"] == op.username


def test_sign_in__wrong_password_unknown_user_wrong_code__401_and_recorded(ops: OpsEnv):
    op = ops.make_operator("risk")
    wrong = Op(op.username, op.role, op.seed, password="not the password at all")
    assert error_code(ops.sign_in(wrong)) == "invalid_credentials"
    ghost = Op("nobody", "risk", op.seed)
    assert error_code(ops.sign_in(ghost)) == "invalid_credentials"
    assert error_code(
        ops.sign_in(op, code="000000" if op.code(ops.clock) != "000000" else "1")
    ) in (
        "totp_invalid",
        "invalid_request",
    )
    assert ops.sign_in(op).status_code == 200
    records = _sign_ins(ops, op)
    assert [(r["success"], r["failure"]) for r in records][:2] == [
        (True, None),
        (False, "totp_invalid"),
    ]
    assert (records[-1]["success"], records[-1]["failure"]) == (False, "bad_password")


def test_lockout__repeated_wrong_passwords__locked_even_for_the_right_one_until_it_expires(
    ops: OpsEnv,
):
    op = ops.make_operator("admin")
    wrong = Op(op.username, op.role, op.seed, password="guess number one!!")
    limit = ops.settings.operator_max_failures
    answers = [ops.sign_in(wrong).status_code for _ in range(limit)]
    assert answers == [401] * (limit - 1) + [423]
    right = ops.sign_in(op)
    assert (right.status_code, error_code(right)) == (423, "operator_locked")
    with ops.session() as s:
        failures = [
            r.failure for r in s.scalars(select(OperatorSignIn).order_by(OperatorSignIn.id))
        ]
    assert failures == ["bad_password"] * limit + ["locked"]
    ops.clock.advance(ops.settings.operator_lockout_seconds + 1)
    assert ops.sign_in(op).status_code == 200


def test_lockout__wrong_step_up_codes__lock_the_account_and_void_its_session(ops: OpsEnv):
    op = ops.signed_in("risk")
    for _ in range(ops.settings.operator_max_failures):
        ops.call("POST", "/v1/operator/relayer/pause", op, totp="123456", json={"reason": "x"})
    for method, path in (("GET", "/v1/operator/me"), ("GET", "/v1/operator/relayer")):
        response = ops.call(method, path, op, totp=None)
        assert (response.status_code, error_code(response)) == (423, "operator_locked")
    paused = ops.call("POST", "/v1/operator/relayer/pause", op, json={"reason": "x"})
    assert error_code(paused) == "operator_locked"
    with ops.session() as s:
        assert s.scalar(select(OperatorAction.id)) is None


def test_step_up__a_code_works_once__replay_refused(ops: OpsEnv):
    op = ops.signed_in("admin")
    ops.clock.tick()
    code = op.code(ops.clock)
    first = ops.call("POST", "/v1/operator/relayer/pause", op, totp=code, json={"reason": "a"})
    assert first.status_code == 200, first.text
    again = ops.call("POST", "/v1/operator/relayer/resume", op, totp=code, json={"reason": "b"})
    assert (again.status_code, error_code(again)) == (401, "totp_reused")
    # The previous step's code (still inside the drift window) is refused too.
    previous = pyotp.TOTP(op.seed).at(ops.clock.now, counter_offset=-1)
    late = ops.call("POST", "/v1/operator/relayer/resume", op, totp=previous, json={"reason": "c"})
    assert error_code(late) == "totp_reused"


def test_session__expired_signed_out_or_forged__refused(ops: OpsEnv):
    op = ops.signed_in("support")
    assert ops.call("GET", "/v1/operator/me", op, totp=None).status_code == 200
    forged = Op(op.username, op.role, op.seed, token="cvo_" + "A" * 43)
    assert error_code(ops.call("GET", "/v1/operator/me", forged, totp=None)) == (
        "operator_session_invalid"
    )
    ops.clock.advance(ops.settings.operator_session_seconds)
    expired = ops.call("GET", "/v1/operator/me", op, totp=None)
    assert (expired.status_code, error_code(expired)) == (401, "operator_session_invalid")
    ops.sign_in(op)
    assert ops.call("POST", "/v1/operator/sign-out", op, totp=None).status_code == 204
    assert error_code(ops.call("GET", "/v1/operator/me", op, totp=None)) == (
        "operator_session_invalid"
    )


def test_session__a_wallet_style_bearer_token__is_not_an_operator_session(ops: OpsEnv):
    response = ops.api.client.get(
        "/v1/operator/me", headers={"Authorization": "Bearer cvs_someone_elses_session"}
    )
    assert (response.status_code, error_code(response)) == (401, "operator_session_invalid")


# ----------------------------------------------------------------------------- new devices


def test_new_device__first_sign_in_from_a_device__flagged_and_visible_to_the_operator(ops: OpsEnv):
    op = ops.make_operator("compliance")
    laptop = {"User-Agent": "laptop-browser/1.0"}
    first = ops.sign_in(op, **laptop)
    assert first.json()["new_device"] is True
    again = ops.sign_in(op, **laptop)  # the device id from the first sign-in is sent back
    assert again.json()["new_device"] is False
    assert again.json()["device_id"] == first.json()["device_id"]
    # A phisher with the password and a code, on their own machine:
    stranger = Op(op.username, op.role, op.seed)
    phished = ops.sign_in(stranger, **{"User-Agent": "attacker-box/6.6"})
    assert phished.json()["new_device"] is True
    # ... and a device id the server never issued to this operator is new too.
    forged = Op(op.username, op.role, op.seed, device_id="made-up-device")
    assert ops.sign_in(forged).json()["new_device"] is True
    records = _sign_ins(ops, op)
    assert [(r["device"], r["new_device"], r["success"]) for r in records][1:] == [
        ("attacker-box/6.6", True, True),
        ("laptop-browser/1.0", False, True),
        ("laptop-browser/1.0", True, True),
    ]
    assert all(r["client_address"] == "testclient" and r["at"] for r in records)


def test_new_device__a_failed_sign_in__does_not_make_the_device_known(ops: OpsEnv):
    op = ops.make_operator("risk")
    attacker = Op(op.username, op.role, op.seed, password="wrong password guess")
    ops.sign_in(attacker)
    op.device_id = None
    assert ops.sign_in(op).json()["new_device"] is True


# ----------------------------------------------------------------------------- enrolment


def test_enrolment__account_unusable_until_the_first_code_is_confirmed(ops: OpsEnv):
    admin = ops.signed_in("admin")
    created = ops.call(
        "POST", "/v1/operator/operators", admin, json={"username": "rita", "role": "risk"}
    )
    assert created.status_code == 201, created.text
    token = created.json()["enrolment_token"]
    rita = Op("rita", "risk", seed="")
    # Before a password is set, and after it is set but before the first code: no sign-in.
    assert error_code(ops.sign_in(rita, code="123456")) == "invalid_credentials"
    weak = ops.api.post("/v1/operator/enrol", json={"token": token, "password": "short"})
    assert (weak.status_code, error_code(weak)) == (400, "weak_password")
    enrolled = ops.api.post("/v1/operator/enrol", json={"token": token, "password": PASSWORD})
    assert enrolled.status_code == 200, enrolled.text
    uri = enrolled.json()["provisioning_uri"]
    rita.seed = parse_qs(urlsplit(uri).query)["secret"][0]
    refused = ops.sign_in(rita)
    assert (refused.status_code, error_code(refused)) == (403, "enrolment_incomplete")
    assert ops.operator_row("rita").status == "enrolling"
    wrong = ops.api.post("/v1/operator/enrol/confirm", json={"token": token, "totp": "000000"})
    assert error_code(wrong) in ("totp_invalid", "totp_reused")
    ops.clock.tick()
    confirm = ops.api.post(
        "/v1/operator/enrol/confirm", json={"token": token, "totp": rita.code(ops.clock)}
    )
    assert confirm.status_code == 200 and confirm.json()["status"] == "active"
    # The token is spent: nobody can reset the password with it afterwards.
    replay = ops.api.post("/v1/operator/enrol", json={"token": token, "password": "x" * 20})
    assert (replay.status_code, error_code(replay)) == (401, "enrolment_token_invalid")
    assert ops.sign_in(rita).status_code == 200


def test_enrolment__guessed_token__refused(ops: OpsEnv):
    for token in ("cvoe_" + "A" * 43, "anything", "cvo_" + "B" * 43):
        response = ops.api.post("/v1/operator/enrol", json={"token": token, "password": PASSWORD})
        assert (response.status_code, error_code(response)) == (401, "enrolment_token_invalid")


# ----------------------------------------------------------------------------- secrets at rest


def _raw_store(ops: OpsEnv) -> bytes:
    """Every byte the store holds for the operator tables, as an attacker with the file sees it."""
    if ops.api.backend == "sqlite":
        ops.engine.dispose()
        path = ops.engine.url.database
        data = open(path, "rb").read()
        for suffix in ("-wal", "-journal"):
            try:
                data += open(path + suffix, "rb").read()
            except FileNotFoundError:
                pass
        return data
    with ops.engine.connect() as conn:
        dump = []
        for table in ("operators", "operator_sessions", "operator_sign_ins", "operator_actions"):
            dump += [str(row) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(dump).encode()


def test_secrets_at_rest__no_password_or_totp_seed_in_the_raw_store_or_the_logs(
    ops: OpsEnv, caplog
):
    caplog.set_level(logging.DEBUG)
    admin = ops.signed_in("admin")
    created = ops.call(
        "POST", "/v1/operator/operators", admin, json={"username": "sam", "role": "support"}
    )
    token = created.json()["enrolment_token"]
    password = "my very own passphrase 42"
    uri = ops.api.post("/v1/operator/enrol", json={"token": token, "password": password}).json()[
        "provisioning_uri"
    ]
    seed = parse_qs(urlsplit(uri).query)["secret"][0]
    sam = Op("sam", "support", seed, password=password)
    ops.clock.tick()
    ops.api.post("/v1/operator/enrol/confirm", json={"token": token, "totp": sam.code(ops.clock)})
    assert ops.sign_in(sam).status_code == 200
    ops.sign_in(Op("sam", "support", seed, password=password + "!"))  # a failure, logged or not

    raw = _raw_store(ops)
    for secret in (password, seed, admin.seed, PASSWORD, token, sam.token, admin.token):
        assert secret.encode() not in raw
    row = ops.operator_row("sam")
    assert row.password_hash.startswith("$argon2id$")
    assert row.totp_secret["cipher"] == "aes-256-gcm"
    assert operators.open_totp(row.totp_secret, ops.settings) == seed
    other_key = ops.settings.model_copy(update={"secrets_key": None})
    with pytest.raises(Exception, match="COPYVAULT_SECRETS_KEY"):
        operators.open_totp(row.totp_secret, other_key)
    from backend.config import load_settings

    wrong_key = load_settings(secrets_key=generate_secrets_key())
    with pytest.raises(SecretDecryptionError):
        operators.open_totp(row.totp_secret, wrong_key)
    # An envelope moved to another operator's row does not open.
    moved = dict(row.totp_secret, operator="rita")
    with pytest.raises(SecretDecryptionError):
        operators.open_totp(moved, ops.settings)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (password, seed, admin.seed, PASSWORD, token):
        assert secret not in logged


# ----------------------------------------------------------------------------- the record


def test_operator_actions__update_and_delete__refused_by_the_store(ops: OpsEnv):
    admin = ops.signed_in("admin")
    assert (
        ops.call("POST", "/v1/operator/relayer/pause", admin, json={"reason": "t"}).status_code
        == 200
    )
    for statement in (
        "UPDATE operator_actions SET reason = 'edited'",
        "DELETE FROM operator_actions",
    ):
        with ops.engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(statement))
                conn.commit()
    with ops.session() as s:
        row = s.scalar(select(OperatorAction))
    assert (row.action, row.reason, row.before, row.after) == (
        "relayer.pause",
        "t",
        {"paused": False},
        {"paused": True},
    )


def test_admins__the_last_admin__cannot_be_disabled_or_demoted(ops: OpsEnv):
    admin = ops.signed_in("admin")
    for method, path, body in (
        ("POST", f"/v1/operator/operators/{admin.username}/disable", {"reason": "oops"}),
        ("PUT", f"/v1/operator/operators/{admin.username}/role", {"role": "support"}),
    ):
        response = ops.call(method, path, admin, json=body)
        assert (response.status_code, error_code(response)) == (409, "last_admin")
    assert ops.operator_row(admin.username).role == "admin"


def test_role_change__ends_the_operators_sessions(ops: OpsEnv):
    admin = ops.signed_in("admin")
    risk = ops.signed_in("risk")
    changed = ops.call(
        "PUT", f"/v1/operator/operators/{risk.username}/role", admin, json={"role": "support"}
    )
    assert changed.status_code == 200
    stale = ops.call("POST", "/v1/operator/relayer/pause", risk, json={"reason": "x"})
    assert (stale.status_code, error_code(stale)) == (401, "operator_session_invalid")
    with ops.session() as s:
        assert s.scalar(select(Operator.role).where(Operator.username == risk.username)) == (
            "support"
        )


def test_step_up__code_spent_on_a_refused_action__cannot_be_replayed(ops: OpsEnv):
    admin = ops.signed_in("admin")
    ops.clock.tick()
    code = admin.code(ops.clock)
    refused = ops.call(
        "POST", "/v1/operator/relayer/resume", admin, totp=code, json={"reason": "a"}
    )
    assert (refused.status_code, error_code(refused)) == (409, "relayer_state_unchanged")
    replay = ops.call("POST", "/v1/operator/relayer/pause", admin, totp=code, json={"reason": "b"})
    assert (replay.status_code, error_code(replay)) == (401, "totp_reused")
    with ops.session() as s:
        assert s.scalar(select(OperatorAction.id)) is None


def test_step_up__one_code_sent_by_four_concurrent_requests__exactly_one_acts(ops: OpsEnv):
    import httpx

    from tests.backend.api.helpers import uvicorn_server

    admin = ops.signed_in("admin")
    ops.clock.tick()
    code = admin.code(ops.clock)
    headers = {"Authorization": f"Bearer {admin.token}", "X-Copyvault-TOTP": code}
    with uvicorn_server(ops.api.app) as base:
        from concurrent.futures import ThreadPoolExecutor

        def pause(_: int) -> httpx.Response:
            return httpx.post(
                f"{base}/v1/operator/relayer/pause",
                headers=headers,
                json={"reason": "race"},
                timeout=SLOW_MACHINE_TIMEOUT,
            )

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(pause, range(4)))
    outcomes = sorted((r.status_code, error_code(r)) for r in answers)
    assert outcomes == [(200, None)] + [(401, "totp_reused")] * 3, outcomes
    with ops.session() as s:
        assert len(list(s.scalars(select(OperatorAction)))) == 1


def test_lockout__twelve_concurrent_code_guesses__only_four_are_ever_checked(ops: OpsEnv):
    import httpx

    from tests.backend.api.helpers import uvicorn_server

    risk = ops.signed_in("risk")
    ops.clock.tick()
    valid = {pyotp.TOTP(risk.seed).at(ops.clock.now, counter_offset=k) for k in (-1, 0, 1)}
    guesses = [g for g in (f"{n:06d}" for n in range(100, 200)) if g not in valid][:12]
    with uvicorn_server(ops.api.app) as base:
        from concurrent.futures import ThreadPoolExecutor

        def guess(code: str) -> httpx.Response:
            return httpx.post(
                f"{base}/v1/operator/relayer/pause",
                headers={"Authorization": f"Bearer {risk.token}", "X-Copyvault-TOTP": code},
                json={"reason": "guess"},
                timeout=SLOW_MACHINE_TIMEOUT,
            )

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(guess, guesses))
    outcomes = sorted((r.status_code, error_code(r)) for r in answers)
    limit = ops.settings.operator_max_failures
    assert outcomes == [(401, "totp_invalid")] * (limit - 1) + [(423, "operator_locked")] * (
        12 - limit + 1
    ), outcomes
    assert ops.operator_row(risk.username).locked_until is not None


def test_sign_in__disabled_operator_with_the_right_password_and_code__403_no_session(ops: OpsEnv):
    admin = ops.signed_in("admin")
    leaver = ops.signed_in("support")
    disabled = ops.call(
        "POST",
        f"/v1/operator/operators/{leaver.username}/disable",
        admin,
        json={"reason": "left the company"},
    )
    assert disabled.status_code == 200
    again = ops.sign_in(leaver)
    assert (again.status_code, error_code(again)) == (403, "operator_disabled")
    stale = ops.call("GET", "/v1/operator/me", leaver, totp=None)
    assert (stale.status_code, error_code(stale)) == (401, "operator_session_invalid")
    with ops.session() as s:
        live = s.scalars(select(OperatorSession).where(OperatorSession.revoked_at.is_(None))).all()
    assert {row.operator_id for row in live} == {ops.operator_row(admin.username).id}
