"""Bad input gets a 4xx with a stable code and a clear message, and stores nothing: malformed
addresses, wrong checksums, unknown vaults, leaders and proposals, bad cursors and page sizes,
signatures that do not match, non-owners, used nonces, oversized bodies. On both stores."""

from __future__ import annotations

import base64
import json
import time

import pytest

from backend.chain import eip712
from backend.chain.actions import HOUR
from tests.backend.api.helpers import config_body, sign, withdrawal_body

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UNKNOWN = "0x" + "12" * 20
UNKNOWN_DIGEST = "0x" + "ab" * 32


def _cursor(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def _bad_checksum(address: str) -> str:
    """The address with the case of its first letter flipped: a checksum typo."""
    for i, char in enumerate(address[2:], start=2):
        if char.isalpha():
            return address[:i] + char.swapcase() + address[i + 1 :]
    raise AssertionError("no letter to flip")


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert len(body["error"]["message"]) > 10
    return body["error"]


# ----------------------------------------------------------------------------- reads


def _read_cases(env) -> list[tuple[str, dict, int, str]]:
    v1, _, v3 = env.scenario["vaults"]
    leader = env.chain.leader.address
    vaults_cursor = env.ok("/v1/vaults", limit=1)["next_cursor"]
    return [
        ("/v1/vaults/0x1234", {}, 422, "invalid_address"),
        ("/v1/vaults/" + "0x" + "zz" * 20, {}, 422, "invalid_address"),
        (f"/v1/vaults/{_bad_checksum(v1)}", {}, 422, "invalid_checksum"),
        (f"/v1/vaults/{UNKNOWN}", {}, 404, "vault_not_found"),
        (f"/v1/vaults/{UNKNOWN}/events", {}, 404, "vault_not_found"),
        (f"/v1/vaults/{UNKNOWN}/proposals", {}, 404, "vault_not_found"),
        ("/v1/vaults", {"owner": "0xnothex"}, 422, "invalid_address"),
        ("/v1/vaults", {"leader": _bad_checksum(leader)}, 422, "invalid_checksum"),
        ("/v1/vaults", {"limit": 0}, 422, "invalid_request"),
        ("/v1/vaults", {"limit": 201}, 422, "invalid_request"),
        ("/v1/vaults", {"limit": "ten"}, 422, "invalid_request"),
        ("/v1/vaults", {"cursor": "not a cursor!"}, 400, "invalid_cursor"),
        ("/v1/vaults", {"cursor": ""}, 400, "invalid_cursor"),
        ("/v1/vaults", {"cursor": "x" * 600}, 400, "invalid_cursor"),
        ("/v1/vaults", {"cursor": _cursor({"k": "vaults", "v": [1]})}, 400, "invalid_cursor"),
        (
            "/v1/vaults",
            {"cursor": _cursor({"k": "leaders", "v": [UNKNOWN]})},
            400,
            "invalid_cursor",
        ),
        ("/v1/vaults", {"cursor": _cursor([1, 2])}, 400, "invalid_cursor"),
        (f"/v1/vaults/{v1}/events", {"cursor": vaults_cursor}, 400, "invalid_cursor"),
        (
            f"/v1/vaults/{v1}/events",
            {"cursor": _cursor({"k": "events-desc", "v": [-1, 0]})},
            400,
            "invalid_cursor",
        ),
        (
            f"/v1/vaults/{v1}/events",
            {"cursor": _cursor({"k": "events-desc", "v": [2**70, 0]})},
            400,
            "invalid_cursor",
        ),
        (f"/v1/vaults/{v1}/events", {"order": "sideways"}, 422, "invalid_request"),
        (f"/v1/vaults/{v1}/events", {"name": "Deposited'; --"}, 422, "invalid_request"),
        (f"/v1/vaults/{v3}/proposals", {"status": "maybe"}, 422, "invalid_request"),
        (f"/v1/vaults/{v3}/proposals", {"cursor": vaults_cursor}, 400, "invalid_cursor"),
        (f"/v1/leaders/{UNKNOWN}", {}, 404, "leader_not_found"),
        (f"/v1/leaders/{UNKNOWN}/trades", {}, 404, "leader_not_found"),
        ("/v1/leaders/0x", {}, 422, "invalid_address"),
        ("/v1/leaders", {"cursor": "%%%"}, 400, "invalid_cursor"),
        (f"/v1/leaders/{leader}/trades", {"cursor": vaults_cursor}, 400, "invalid_cursor"),
        ("/v1/proposals/0x12", {}, 422, "invalid_hash"),
        (f"/v1/proposals/{UNKNOWN_DIGEST}", {}, 404, "proposal_not_found"),
        ("/v1/stream", {"vault": "0x1"}, 422, "invalid_address"),
        ("/v1/stream", {"after": -1}, 422, "invalid_request"),
        ("/v1/no-such-route", {}, 404, "not_found"),
    ]


def test_reads__bad_input__4xx_with_a_stable_code(read_api):
    for path, params, status, code in _read_cases(read_api):
        response = read_api.get(path, params=params)
        error = _assert_error(response, status, code)
        if status == 422:
            assert error["fields"], (path, error)


def test_validation_errors__name_each_field_by_path(read_api):
    response = read_api.get("/v1/vaults", params={"owner": "0x1", "limit": 0})
    error = _assert_error(response, 422, "invalid_request")
    assert {f["path"] for f in error["fields"]} == {"query.owner", "query.limit"}
    assert {f["code"] for f in error["fields"]} >= {"invalid_address"}


def test_stream__bad_last_event_id__invalid_cursor(read_api):
    response = read_api.get("/v1/stream", headers={"Last-Event-ID": "not-a-number"})
    _assert_error(response, 400, "invalid_cursor")


def test_wrong_method__405(read_api):
    _assert_error(read_api.client.delete("/v1/vaults"), 405, "method_not_allowed")


# ----------------------------------------------------------------------------- proposals


@pytest.fixture
def v3(read_api):
    """The scenario's 1-of-2 vault (owners[1], owners[2]); its next nonce is 1."""
    vault = read_api.scenario["vaults"][2]
    assert read_api.ok(f"/v1/vaults/{vault}")["nonce"] == 1
    return vault


def _withdrawal(env, vault, proposer, **overrides):
    a = env.chain.actions
    values = {
        "token": a.token("USDC"),
        "amount": 10**6,
        "to": env.chain.depositor.address,
        "nonce": 1,
        "deadline": int(time.time()) + HOUR,
    } | overrides
    return withdrawal_body(env.chain, vault, proposer, **values)


def _with_signature(body: dict, *, r: int = 1, s: int = 1, v: int = 27, size: int = 65) -> dict:
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    return body | {"signature": "0x" + raw[:size].hex()}


def _withdrawal_cases(env, vault):
    chain = env.chain
    owner, other_owner, stranger = chain.owners[1], chain.owners[2], chain.depositor
    good = _withdrawal(env, vault, owner)
    high_s = _with_signature(good, s=SECP256K1_N - 1)
    return [
        ("non-owner", _withdrawal(env, vault, stranger), 403, "not_owner"),
        (
            "signed by another owner",
            _withdrawal(env, vault, owner, signer=other_owner),
            400,
            "invalid_signature",
        ),
        ("64-byte signature", _with_signature(good, size=64), 400, "malformed_signature"),
        ("high s", high_s, 400, "malformed_signature"),
        ("v of 29", _with_signature(good, v=29), 400, "malformed_signature"),
        (
            "deadline passed",
            _withdrawal(env, vault, owner, deadline=int(time.time()) - 1),
            400,
            "deadline_passed",
        ),
        ("zero amount", _withdrawal(env, vault, owner, amount=0), 400, "zero_amount"),
        (
            "zero recipient",
            _withdrawal(env, vault, owner, to="0x" + "00" * 20),
            400,
            "zero_address",
        ),
        ("nonce used", _withdrawal(env, vault, owner, nonce=0), 409, "nonce_used"),
        ("nonce too far", _withdrawal(env, vault, owner, nonce=1_000), 400, "nonce_too_far"),
        ("token checksum", good | {"token": _bad_checksum(good["token"])}, 422, "invalid_checksum"),
        ("recipient malformed", good | {"to": "0x12"}, 422, "invalid_address"),
        ("amount not a number", good | {"amount": "ten"}, 422, "invalid_request"),
        ("amount above uint256", good | {"amount": str(2**256)}, 422, "invalid_request"),
        ("amount negative", good | {"amount": "-1"}, 422, "invalid_request"),
        ("nonce above uint48", good | {"nonce": 2**48}, 422, "invalid_request"),
        ("deadline huge", good | {"deadline": 2**64}, 422, "invalid_request"),
        (
            "missing amount",
            {k: v for k, v in good.items() if k != "amount"},
            422,
            "invalid_request",
        ),
        ("unknown field", good | {"gas": 1}, 422, "invalid_request"),
        ("signature not hex", good | {"signature": "0xzz"}, 422, "invalid_request"),
        ("signature odd length", good | {"signature": "0x123"}, 422, "invalid_request"),
        ("signature too long", good | {"signature": "0x" + "11" * 5_000}, 422, "invalid_request"),
    ]


def test_withdrawal_proposal__bad_input__refused_and_nothing_stored(read_api, v3):
    before = read_api.proposal_rows()
    path = f"/v1/vaults/{v3}/proposals/withdrawals"
    for name, body, status, code in _withdrawal_cases(read_api, v3):
        response = read_api.post(path, json=body)
        assert response.status_code == status, (name, response.text)
        assert response.json()["error"]["code"] == code, (name, response.json())
        assert read_api.proposal_rows() == before, name
    unknown = read_api.post(
        f"/v1/vaults/{UNKNOWN}/proposals/withdrawals",
        json=_withdrawal(read_api, UNKNOWN, read_api.chain.owners[1]),
    )
    _assert_error(unknown, 404, "vault_not_found")
    _assert_error(read_api.post(path, content=b"{not json"), 422, "invalid_request")
    json_type = {"content-type": "application/json"}
    _assert_error(read_api.post(path, content=b"{not json", headers=json_type), 400, "invalid_json")
    # Nested past the parser's recursion limit (400 invalid_json) or not (422: not an object).
    deep = read_api.post(path, content=b"[" * 20_000 + b"]" * 20_000, headers=json_type)
    assert deep.status_code in (400, 422), deep.text
    assert deep.json()["error"]["code"] in ("invalid_json", "invalid_request")
    _assert_error(read_api.post(path, json=[1, 2]), 422, "invalid_request")
    assert read_api.proposal_rows() == before


def test_config_proposal__bad_input__refused_and_nothing_stored(read_api, v3):
    chain, a = read_api.chain, read_api.chain.actions
    owner = chain.owners[1]
    before = read_api.proposal_rows()
    path = f"/v1/vaults/{v3}/proposals/config"
    deadline = int(time.time()) + HOUR
    withdraw_call = a.vault_abi.call_data(
        "withdraw", a.token("USDC"), 1, owner.address, deadline, [], []
    )
    cases = [
        ("not a config function", withdraw_call, 400, "disallowed_config_call"),
        ("empty call", b"", 400, "disallowed_config_call"),
        ("truncated arguments", a.config_call("setThreshold", 1)[:-1], 400, "invalid_config_call"),
        ("trailing bytes", a.config_call("unpause") + b"\x00", 400, "invalid_config_call"),
    ]
    for name, data, status, code in cases:
        body = config_body(chain, v3, owner, data=data, nonce=1, deadline=deadline)
        response = read_api.post(path, json=body)
        assert response.status_code == status, (name, response.text)
        assert response.json()["error"]["code"] == code, (name, response.json())
    body = config_body(chain, v3, owner, data=a.config_call("unpause"), nonce=1, deadline=deadline)
    _assert_error(read_api.post(path, json=body | {"data": "0xnothex"}), 422, "invalid_request")
    _assert_error(
        read_api.post(path, json=body | {"proposer": chain.depositor.address}), 403, "not_owner"
    )
    assert read_api.proposal_rows() == before


def test_signature__bad_input__refused_and_nothing_stored(read_api, v3):
    chain = read_api.chain
    owner, other_owner = chain.owners[1], chain.owners[2]
    body = _withdrawal(read_api, v3, owner, amount=7)
    created = read_api.post(f"/v1/vaults/{v3}/proposals/withdrawals", json=body)
    assert created.status_code in (200, 201), created.text
    digest = created.json()["digest"]
    before = read_api.proposal_rows()
    message = eip712.Withdrawal(
        token=body["token"], amount=7, to=body["to"], nonce=1, deadline=body["deadline"]
    )
    path = f"/v1/proposals/{digest}/signatures"
    cases = [
        (
            {
                "signer": chain.depositor.address,
                "signature": sign(chain.depositor, chain, v3, message),
            },
            403,
            "not_owner",
        ),
        (
            {"signer": other_owner.address, "signature": sign(owner, chain, v3, message)},
            400,
            "invalid_signature",
        ),
        (
            {"signer": other_owner.address, "signature": "0x" + "00" * 65},
            400,
            "malformed_signature",
        ),
        ({"signer": "0x12", "signature": "0x00"}, 422, "invalid_address"),
        ({"signer": other_owner.address}, 422, "invalid_request"),
    ]
    for payload, status, code in cases:
        _assert_error(read_api.post(path, json=payload), status, code)
    valid = {"signer": other_owner.address, "signature": sign(other_owner, chain, v3, message)}
    _assert_error(
        read_api.post(f"/v1/proposals/{UNKNOWN_DIGEST}/signatures", json=valid),
        404,
        "proposal_not_found",
    )
    _assert_error(read_api.post("/v1/proposals/0xabc/signatures", json=valid), 422, "invalid_hash")
    assert read_api.proposal_rows() == before


def test_oversized_body__413_before_anything_is_read(read_api, v3):
    before = read_api.proposal_rows()
    body = _withdrawal(read_api, v3, read_api.chain.owners[1])
    padded = json.dumps(body | {"padding": "x" * 70_000}).encode()
    path = f"/v1/vaults/{v3}/proposals/withdrawals"
    response = read_api.post(path, content=padded, headers={"content-type": "application/json"})
    error = _assert_error(response, 413, "body_too_large")
    assert "65536" in error["message"]

    def chunks():  # no Content-Length: chunked transfer encoding
        for i in range(0, len(padded), 8_192):
            yield padded[i : i + 8_192]

    response = read_api.post(path, content=chunks(), headers={"content-type": "application/json"})
    _assert_error(response, 413, "body_too_large")
    assert read_api.proposal_rows() == before
