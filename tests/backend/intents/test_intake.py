"""POST /v1/intents validates a signed TradeIntent as the registry would, before anything is
stored, and GET /v1/intents/{digest} reports it. On SQLite and PostgreSQL.

Every rejection has its own stable code and a sentence, and leaves the store as it was."""

from __future__ import annotations

import threading

import pytest

from backend.chain import eip712
from backend.chain.actions import HOUR, Key
from backend.chain.deploy import DEFAULT_POLICY
from backend.chain.js_signer import sign_typed_data_v4_js
from tests.backend.intents.conftest import assert_error, body_of, post_all_at_once

STRANGER = "0x" + "12" * 20


def test_accepted__202_stored_once_and_readable(intake):
    message = intake.message()
    response = intake.post(intake.body(message))
    assert response.status_code == 202, response.text
    out = response.json()
    assert out["digest"] == intake.digest(message)
    assert out["status"] == "accepted"
    assert out["signer"].lower() == intake.chain.leader.address.lower()
    assert (out["nonce"], out["vaults"], out["batches"]) == ("1", [], [])
    assert intake.stored() == 1
    assert intake.api.ok(f"/v1/intents/{out['digest']}") == out


def test_accepted__digest_is_the_registrys(intake):
    message = intake.message(nonce=77, min_price=5 * 10**18)
    out = intake.post(intake.body(message)).json()
    a = intake.chain.actions
    on_chain = a.view(
        a.registry_abi, intake.chain.deployment.registry, "intentDigest", message.values()
    )
    assert out["digest"] == "0x" + on_chain.hex()


def test_same_intent_twice__first_result_returned_not_stored_again(intake):
    body = intake.body(intake.message())
    first = intake.post(body)
    second = intake.post(body)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == first.json()
    assert intake.stored() == 1


def test_same_intent_concurrently__stored_once(intake):
    body = intake.body(intake.message(nonce=9))
    codes: list[int] = []

    def submit():
        try:
            codes.append(intake.post(body).status_code)
        except Exception as exc:  # noqa: BLE001 - reported below, not lost in the thread
            codes.append(repr(exc))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes, key=str) == [200] * 7 + [202], codes
    assert intake.stored() == 1


def test_javascript_signed_intent__accepted(intake):
    """Signed by eth-sig-util's signTypedData (V4) under Node, as MetaMask signs."""
    message = intake.message(nonce=3)
    typed = eip712.typed_data(intake.domain(), message)
    signature = sign_typed_data_v4_js(intake.chain.leader.private_key, typed)
    response = intake.post(body_of(message, "0x" + signature.hex()))
    assert response.status_code == 202, response.text
    assert response.json()["digest"] == intake.digest(message)


def test_live_delegate__accepted_as_the_signer(intake):
    chain, a = intake.chain, intake.chain.actions
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + HOUR)
    intake.api.index()
    response = intake.post(intake.body(intake.message(), chain.delegate))
    assert response.status_code == 202, response.text
    assert response.json()["signer"].lower() == chain.delegate.address.lower()


def test_expired_delegate__403_unauthorized_signer(intake):
    chain, a = intake.chain, intake.chain.actions
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + 10)
    chain.rpc("evm_increaseTime", 60)
    chain.mine()
    intake.api.index()
    message = assert_error(
        intake.post(intake.body(intake.message(), chain.delegate)), 403, "unauthorized_signer"
    )
    assert "stopped being a delegate" in message
    assert intake.stored() == 0


def test_revoked_delegate__403_unauthorized_signer(intake):
    chain, a = intake.chain, intake.chain.actions
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + HOUR)
    a.revoke_delegate(chain.leader, chain.delegate.address)
    intake.api.index()
    assert_error(
        intake.post(intake.body(intake.message(), chain.delegate)), 403, "unauthorized_signer"
    )
    assert intake.stored() == 0


def test_contract_leader__eip1271_approval_accepted_other_key_refused(intake):
    chain = intake.chain
    wallet_key = chain.keys[1]
    wallet = intake.contract_leader(wallet_key)
    message = intake.message(leader=wallet)
    refused = intake.post(intake.body(message, chain.owners[0]))
    assert "EIP-1271" in assert_error(refused, 403, "unauthorized_signer")
    accepted = intake.post(intake.body(message, wallet_key))
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["signer"].lower() == wallet.lower()
    assert intake.stored() == 1


def _fresh_nonce_word(intake, nonce: int) -> None:
    """Cancel `nonce` in the registry and let the index see it."""
    a = intake.chain.actions
    a.invalidate_nonces(intake.chain.leader, nonce >> 8, 1 << (nonce & 0xFF))
    intake.api.index()


def _rejections(intake):
    """(case, body, status, code) for one breach of each intake rule."""
    chain, a = intake.chain, intake.chain.actions
    good = intake.message(nonce=50)
    now = a.timestamp()
    signed = intake.body(good)
    raw = bytes.fromhex(signed["signature"][2:])
    return [
        ("fraction 0", intake.body(intake.message(fraction_bps=0)), 400, "invalid_fraction"),
        (
            "fraction 10001",
            intake.body(intake.message(fraction_bps=10_001)),
            400,
            "invalid_fraction",
        ),
        (
            "same token in and out",
            intake.body(intake.message(token_out=a.token("WETH"))),
            400,
            "identical_tokens",
        ),
        (
            "64-byte signature",
            signed | {"signature": "0x" + raw[:64].hex()},
            400,
            "malformed_signature",
        ),
        (
            "v of 29",
            signed | {"signature": "0x" + (raw[:64] + bytes([29])).hex()},
            400,
            "malformed_signature",
        ),
        ("signed by another key", intake.body(good, chain.owners[0]), 403, "unauthorized_signer"),
        (
            "signed for another chain",
            intake.body(good, chain_id=1),
            403,
            "unauthorized_signer",
        ),
        (
            "signed for another registry",
            intake.body(good, verifying_contract=chain.deployment.router),
            403,
            "unauthorized_signer",
        ),
        (
            "terms changed after signing",
            signed | {"fraction_bps": 2_000},
            403,
            "unauthorized_signer",
        ),
        ("deadline passed", intake.body(intake.message(deadline=now - 1)), 400, "intent_expired"),
        (
            "deadline inside the margin",
            intake.body(intake.message(deadline=now + 5)),
            400,
            "intent_expired",
        ),
        ("unknown venue", intake.body(intake.message(venue=STRANGER)), 400, "unknown_venue"),
        (
            "token without a feed",
            intake.body(intake.message(token_out=STRANGER)),
            400,
            "token_not_allowed",
        ),
        ("nonce not a number", signed | {"nonce": "x"}, 422, "invalid_request"),
        ("negative min price", signed | {"min_price": "-1"}, 422, "invalid_request"),
        ("min price over 2^256", signed | {"min_price": str(2**256)}, 422, "invalid_request"),
        ("leader not an address", signed | {"leader": "0x1234"}, 422, "invalid_address"),
        (
            "missing signature",
            {k: v for k, v in signed.items() if k != "signature"},
            422,
            "invalid_request",
        ),
        ("unknown field", signed | {"extra": 1}, 422, "invalid_request"),
    ]


def test_rejections__stable_code_and_nothing_stored(intake):
    for case, body, status, code in _rejections(intake):
        response = intake.post(body)
        assert response.status_code == status, (case, response.text)
        assert response.json()["error"]["code"] == code, (case, response.json())
        assert intake.stored() == 0, case


def test_cancelled_nonce__409_nonce_cancelled(intake):
    _fresh_nonce_word(intake, 300)
    message = assert_error(
        intake.post(intake.body(intake.message(nonce=300))), 409, "nonce_cancelled"
    )
    assert "300" in message
    assert intake.stored() == 0
    assert intake.post(intake.body(intake.message(nonce=301))).status_code == 202


def test_nonce_of_another_accepted_intent__409_nonce_used(intake):
    assert intake.post(intake.body(intake.message(nonce=4))).status_code == 202
    other = intake.message(nonce=4, fraction_bps=2_000)
    assert "was accepted" in assert_error(intake.post(intake.body(other)), 409, "nonce_used")
    assert intake.stored() == 1


def test_nonce_traded_on_chain__409_nonce_used(intake):
    chain, a = intake.chain, intake.chain.actions
    owner = chain.owners[0]
    vault = a.create_vault([owner], leader=chain.leader.address, policy=DEFAULT_POLICY, salt=1)
    a.deposit(vault, a.token("WETH"), 10**18, owner)
    intent, signature = a.intent(chain.leader, nonce=8)
    a.mirror_batch(intent, signature, [vault], relayer=chain.relayer, aggregated=True)
    intake.api.index()
    other = intake.message(nonce=8, fraction_bps=500)
    assert "vaults traded" in assert_error(intake.post(intake.body(other)), 409, "nonce_used")
    assert intake.stored() == 0


def test_oversized_body__413_nothing_stored(intake):
    body = intake.body(intake.message()) | {"padding": "x" * 70_000}
    assert_error(intake.post(body), 413, "body_too_large")
    assert intake.stored() == 0


@pytest.mark.parametrize(
    "digest, status, code",
    [("0x" + "ab" * 32, 404, "intent_not_found"), ("0xabc", 422, "invalid_hash")],
)
def test_get_unknown_or_malformed_digest(intake, digest, status, code):
    assert_error(intake.api.get(f"/v1/intents/{digest}"), status, code)


def _registry_accepts(intake, body) -> bool:
    a = intake.chain.actions
    message = eip712.TradeIntent.from_json(
        {
            "leader": body["leader"],
            "venue": body["venue"],
            "tokenIn": body["token_in"],
            "tokenOut": body["token_out"],
            "fractionBps": body["fraction_bps"],
            "minPrice": int(body["min_price"]),
            "nonce": int(body["nonce"]),
            "deadline": body["deadline"],
        }
    )
    signature = bytes.fromhex(body["signature"][2:])
    try:
        a.view(
            a.registry_abi,
            intake.chain.deployment.registry,
            "verifyIntent",
            message.values(),
            signature,
        )
    except Exception:  # noqa: BLE001 - any revert is a refusal
        return False
    return True


def test_signer_rule__agrees_with_the_registrys_verify_intent(intake):
    """The API's signer decision and the registry's verifyIntent, on the same signed intents."""
    chain, a = intake.chain, intake.chain.actions
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + HOUR)
    wallet_key = chain.keys[1]
    wallet = intake.contract_leader(wallet_key)
    intake.api.index()
    signers: list[tuple[str, dict]] = [
        ("leader", intake.body(intake.message(nonce=1))),
        ("delegate", intake.body(intake.message(nonce=2), chain.delegate)),
        ("stranger", intake.body(intake.message(nonce=3), chain.owners[1])),
        ("contract leader", intake.body(intake.message(nonce=4, leader=wallet), wallet_key)),
        (
            "contract, wrong key",
            intake.body(intake.message(nonce=5, leader=wallet), Key.anvil(1 + 10)),
        ),
        ("other chain", intake.body(intake.message(nonce=6), chain_id=5)),
    ]
    for case, body in signers:
        accepted = intake.post(body).status_code == 202
        assert accepted == _registry_accepts(intake, body), case
    assert intake.stored() == 3


def test_more_concurrent_intents_than_pooled_connections__all_accepted(intake_server):
    """24 requests at once on a real uvicorn server, against a pool of 15 connections (5 + 10
    overflow): a request that held its read connection while taking a write one left every
    request waiting for a second connection until the pool timed out (found by bench/intake.py)."""
    intake, url = intake_server
    bodies = [intake.body(intake.message(nonce=1_000 + i)) for i in range(24)]
    codes = [status for status, _ in post_all_at_once(url, bodies)]
    assert codes == [202] * 24, codes
    assert intake.stored() == 24


@pytest.mark.parametrize("deadline", [2**63, 2**256 - 1], ids=["2^63", "2^256-1"])
def test_deadline_above_int64__accepted_stored_and_read_back(intake, deadline):
    """The registry takes any uint256 deadline; the API refused those above 2^63-1 (422)."""
    message = intake.message(deadline=deadline)
    response = intake.post(intake.body(message))
    assert response.status_code == 202, response.text
    out = response.json()
    assert out["deadline"] == deadline and out["digest"] == intake.digest(message)
    assert intake.api.ok(f"/v1/intents/{out['digest']}")["deadline"] == deadline
