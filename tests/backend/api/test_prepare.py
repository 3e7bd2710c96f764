"""The prepare endpoints, on both stores: the EIP-712 document and digest of a withdrawal, a
configuration change or a trade intent BEFORE anyone signed. Each digest equals what the contract
computes (anvil), and the document signed by eth-account's own `sign_typed_data` (as a wallet's
eth_signTypedData_v4 would) is accepted by propose / intake with the same digest (round trips).
Refusals are those of propose and intake, and preparing stores nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from backend.api.schemas import intent_submission_body
from backend.chain import eip712
from backend.chain.actions import HOUR, Key
from backend.db.relay_models import Intent
from tests.backend.api.helpers import ApiEnv, open_env
from tests.backend.conftest import BACKENDS, module_stores
from tests.backend.intents.conftest import assert_error

USDC = 10**6


@pytest.fixture(scope="module", params=BACKENDS)
def env(request, admitted_chain, tmp_path_factory) -> Iterator[ApiEnv]:
    with (
        module_stores(request, tmp_path_factory) as stores,
        open_env(admitted_chain, stores, tmp_path_factory.mktemp("api")) as api,
    ):
        yield api


_salts = iter(range(5_000, 6_000))


def _vault(env: ApiEnv, *, threshold: int = 2) -> str:
    """A fresh 2-of-3 vault holding USDC, indexed (a new salt each time: tests share the chain)."""
    a, chain = env.chain.actions, env.chain
    vault = a.create_vault(
        chain.owners, threshold=threshold, leader=chain.leader.address, salt=next(_salts)
    )
    a.deposit(vault, a.token("USDC"), 1_000 * USDC, chain.depositor)
    env.index()
    return vault


def _deadline(env: ApiEnv) -> int:
    return env.chain.actions.timestamp() + HOUR


def _withdrawal_terms(env: ApiEnv, **change: Any) -> dict[str, Any]:
    """A withdrawal's terms (5 raw USDC to the depositor, an hour ahead), with `change` on top."""
    return {
        "token": env.chain.actions.token("USDC"),
        "amount": "5",
        "to": env.chain.depositor.address,
        "deadline": _deadline(env),
    } | change


def _wallet_sign(key: Key, typed_data: dict[str, Any]) -> str:
    """Sign the document as a wallet would: eth-account's own EIP-712 encoder, not copyvault's.
    Through JSON first: exactly what a browser receives."""
    document = json.loads(json.dumps(typed_data))
    signed = Account.sign_typed_data(key.private_key, full_message=document)
    return "0x" + bytes(signed.signature).hex()


def _prepare(env: ApiEnv, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = env.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# ----------------------------------------------------------------------------- withdrawals


def test_withdrawal_prepare__digest_as_the_vault_computes__signed_and_proposed(env):
    chain, a = env.chain, env.chain.actions
    vault = _vault(env)
    terms = {
        "token": a.token("USDC").lower(),
        "amount": str(250 * USDC),
        "to": chain.depositor.address,
        "deadline": _deadline(env),
    }
    before = env.proposal_rows()
    prepared = _prepare(env, f"/v1/vaults/{vault}/proposals/withdrawals/prepare", terms)
    assert env.proposal_rows() == before  # preparing stores nothing

    on_chain = a.view(
        a.vault_abi,
        vault,
        "withdrawalDigest",
        a.token("USDC"),
        250 * USDC,
        chain.depositor.address,
        0,
        terms["deadline"],
    )
    assert prepared["digest"] == "0x" + on_chain.hex()
    assert (prepared["primary_type"], prepared["nonce"], prepared["function"]) == (
        "Withdrawal",
        "0",
        None,
    )
    assert (prepared["chain_id"], prepared["verifying_contract"]) == (
        chain.deployment.chain_id,
        vault,
    )
    document = prepared["typed_data"]
    assert document["message"] == {
        "token": a.token("USDC"),
        "amount": str(250 * USDC),
        "to": chain.depositor.address,
        "nonce": "0",
        "deadline": str(terms["deadline"]),
    }
    assert document["types"] == {
        name: eip712.types_document()["types"][name] for name in ("EIP712Domain", "Withdrawal")
    }

    proposer = chain.owners[1]
    body = terms | {"proposer": proposer.address, "signature": _wallet_sign(proposer, document)}
    created = env.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["digest"] == prepared["digest"]
    assert created.json()["typed_data"] == document

    # A co-owner signs the very document prepare returned: the proposal is ready.
    signer = chain.owners[2]
    signed = env.post(
        f"/v1/proposals/{prepared['digest']}/signatures",
        json={"signer": signer.address, "signature": _wallet_sign(signer, document)},
    )
    assert signed.status_code == 201, signed.text
    assert signed.json()["status"] == "ready"


def test_withdrawal_prepare__explicit_nonce_is_signed(env):
    vault = _vault(env)
    a = env.chain.actions
    terms = _withdrawal_terms(env, amount="1", nonce=3)
    prepared = _prepare(env, f"/v1/vaults/{vault}/proposals/withdrawals/prepare", terms)
    assert prepared["nonce"] == "3" and prepared["typed_data"]["message"]["nonce"] == "3"
    usdc, deadline = a.token("USDC"), terms["deadline"]
    on_chain = a.view(a.vault_abi, vault, "withdrawalDigest", usdc, 1, terms["to"], 3, deadline)
    assert prepared["digest"] == "0x" + on_chain.hex()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "0"}, 400, "zero_amount"),
        ({"to": "0x" + "00" * 20}, 400, "zero_address"),
        ({"deadline": 1}, 400, "deadline_passed"),
        ({"nonce": 65}, 400, "nonce_too_far"),
        ({"token": "0x12"}, 422, "invalid_address"),
        ({"amount": "-1"}, 422, "invalid_request"),
        ({"proposer": "0x" + "11" * 20}, 422, "invalid_request"),
    ],
)
def test_withdrawal_prepare__refused_as_propose_refuses(env, change, status, code):
    vault = _vault(env)
    terms = _withdrawal_terms(env, **change)
    response = env.post(f"/v1/vaults/{vault}/proposals/withdrawals/prepare", json=terms)
    assert_error(response, status, code)


def test_withdrawal_prepare__unknown_vault__404(env):
    terms = {"token": "0x" + "22" * 20, "amount": "5", "to": "0x" + "33" * 20, "deadline": 2**40}
    response = env.post(f"/v1/vaults/0x{'44' * 20}/proposals/withdrawals/prepare", json=terms)
    assert_error(response, 404, "vault_not_found")


# ----------------------------------------------------------------------------- config changes


def test_config_prepare__function_named_digest_on_chain__signed_and_proposed(env):
    chain, a = env.chain, env.chain.actions
    vault = _vault(env)
    data = a.config_call("setThreshold", 1)
    terms = {"data": "0x" + data.hex(), "deadline": _deadline(env)}
    prepared = _prepare(env, f"/v1/vaults/{vault}/proposals/config/prepare", terms)
    assert prepared["function"] == "setThreshold(uint256)"
    assert prepared["primary_type"] == "ConfigChange"
    on_chain = a.view(a.vault_abi, vault, "configDigest", data, 0, terms["deadline"])
    assert prepared["digest"] == "0x" + on_chain.hex()
    assert prepared["typed_data"]["message"]["data"] == "0x" + data.hex()

    proposer = chain.owners[0]
    body = terms | {
        "proposer": proposer.address,
        "signature": _wallet_sign(proposer, prepared["typed_data"]),
    }
    created = env.post(f"/v1/vaults/{vault}/proposals/config", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["digest"] == prepared["digest"]
    assert created.json()["function"] == prepared["function"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("0xa9059cbb" + "00" * 64, "disallowed_config_call"),  # transfer(address,uint256)
        ("0x", "disallowed_config_call"),
        ("truncated", "invalid_config_call"),
    ],
)
def test_config_prepare__not_a_configuration_call__refused(env, data, code):
    vault = _vault(env)
    if data == "truncated":  # setThreshold's selector with half an argument
        data = "0x" + env.chain.actions.config_call("setThreshold", 1)[:20].hex()
    terms = {"data": data, "deadline": _deadline(env)}
    response = env.post(f"/v1/vaults/{vault}/proposals/config/prepare", json=terms)
    assert_error(response, 400, code)


# ----------------------------------------------------------------------------- intents


def _intent_terms(env: ApiEnv, **changes: Any) -> dict[str, Any]:
    a = env.chain.actions
    message = eip712.TradeIntent(
        leader=env.chain.leader.address,
        venue=a.venue,
        token_in=a.token("WETH"),
        token_out=a.token("USDC"),
        fraction_bps=1_000,
        min_price=0,
        nonce=changes.pop("nonce", 77),
        deadline=a.timestamp() + HOUR,
    )
    body = intent_submission_body(message, b"")
    del body["signature"]
    return body | changes


def test_intent_prepare__digest_as_the_registry_computes__signed_and_accepted(env):
    chain, a = env.chain, env.chain.actions
    terms = _intent_terms(env, nonce=10_000 + BACKENDS.index(env.backend))
    stored = env.count(Intent)
    prepared = _prepare(env, "/v1/intents/prepare", terms)
    assert env.count(Intent) == stored

    message = eip712.TradeIntent.from_json(prepared["typed_data"]["message"])
    on_chain = a.view(a.registry_abi, chain.deployment.registry, "intentDigest", message.values())
    assert prepared["digest"] == "0x" + on_chain.hex()
    assert prepared["verifying_contract"] == chain.deployment.registry
    assert prepared["primary_type"] == "TradeIntent" and prepared["nonce"] == terms["nonce"]

    body = terms | {"signature": _wallet_sign(chain.leader, prepared["typed_data"])}
    accepted = env.post("/v1/intents", json=body)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["digest"] == prepared["digest"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"fraction_bps": 0}, 400, "invalid_fraction"),
        ({"token_out": "WETH"}, 400, "identical_tokens"),
        ({"deadline": 1}, 400, "intent_expired"),
        ({"leader": "0x" + "55" * 20}, 403, "leader_not_registered"),
        ({"venue": "0x" + "66" * 20}, 400, "unknown_venue"),
        ({"token_out": "0x" + "77" * 20}, 400, "token_not_allowed"),
        ({"nonce": None}, 422, "invalid_request"),
        ({"signature": "0x" + "00" * 65}, 422, "invalid_request"),
    ],
)
def test_intent_prepare__refused_as_intake_refuses(env, change, status, code):
    if change.get("token_out") == "WETH":
        change = {"token_out": env.chain.actions.token("WETH")}
    terms = _intent_terms(env) | change
    if terms.get("nonce") is None:
        del terms["nonce"]
    response = env.post("/v1/intents/prepare", json=terms)
    assert_error(response, status, code)


def test_intent_prepare__used_nonce__409(env):
    """A nonce an accepted intent holds cannot be prepared again for another intent."""
    chain = env.chain
    nonce = 20_000 + BACKENDS.index(env.backend)
    first = _prepare(env, "/v1/intents/prepare", _intent_terms(env, nonce=nonce))
    body = _intent_terms(env, nonce=nonce) | {
        "signature": _wallet_sign(chain.leader, first["typed_data"])
    }
    assert env.post("/v1/intents", json=body).status_code == 202
    other = _intent_terms(env, nonce=nonce, fraction_bps=2_000)
    assert_error(env.post("/v1/intents/prepare", json=other), 409, "nonce_used")


# ----------------------------------------------------------------------------- types


def test_eip712_types__endpoint_file_and_python_types_agree(env):
    served = env.ok("/v1/eip712/types")
    assert served == eip712.types_document()
    assert json.loads(eip712.TYPES_FILE.read_text()) == served
    assert served["typehashes"]["TradeIntent"] == "0x" + eip712.TRADE_INTENT_TYPEHASH.hex()
    assert served["typehashes"]["Withdrawal"] == "0x" + eip712.WITHDRAWAL_TYPEHASH.hex()
    assert served["typehashes"]["ConfigChange"] == "0x" + eip712.CONFIG_CHANGE_TYPEHASH.hex()
