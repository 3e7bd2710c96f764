"""The Python EIP-712 encoding reproduces every test vector (docs/protocol.md §1) and round-trips.

The vectors are ``tests/vectors/eip712.json``; the contracts'
digest views are held to the same file, so passing here means the backend and the chain
agree on every byte a leader or an owner signs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.chain import eip712
from backend.chain.eip712 import (
    ConfigChange,
    Domain,
    InvalidSignatureError,
    InvalidTypedDataError,
    Message,
    TradeIntent,
    Withdrawal,
)
from tests.backend.strategies import domains, messages, private_keys
from tests.utils.vectors import load_vectors

PROTOCOL_TYPE_STRINGS = {
    "TradeIntent": "TradeIntent(address leader,address venue,address tokenIn,address tokenOut,"
    "uint16 fractionBps,uint256 minPrice,uint256 nonce,uint256 deadline)",
    "Withdrawal": "Withdrawal(address token,uint256 amount,address to,uint256 nonce,"
    "uint256 deadline)",
    "ConfigChange": "ConfigChange(bytes data,uint256 nonce,uint256 deadline)",
}


def _load_vectors() -> list[dict[str, Any]]:
    return load_vectors()


VECTORS = _load_vectors()
VECTOR_IDS = [
    f"{i}-{v['primaryType']}-chain{v['domain']['chainId']}" for i, v in enumerate(VECTORS)
]


def domain_of(vector: dict[str, Any]) -> Domain:
    return Domain.from_json(vector["domain"])


def message_of(vector: dict[str, Any]) -> Message:
    return eip712.MESSAGE_TYPES[vector["primaryType"]].from_json(vector["message"])


def hex_of(data: bytes) -> str:
    return "0x" + data.hex()


@pytest.fixture(params=VECTORS, ids=VECTOR_IDS)
def vector(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param


# --- the vectors ------------------------------------------------------------------------


def test_vectors__cover_every_signed_type() -> None:
    assert {v["primaryType"] for v in VECTORS} == set(eip712.MESSAGE_TYPES)


def test_type_string__matches_spec_and_vector(vector: dict[str, Any]) -> None:
    cls = eip712.MESSAGE_TYPES[vector["primaryType"]]
    assert cls.TYPE_STRING == PROTOCOL_TYPE_STRINGS[cls.PRIMARY_TYPE] == vector["typeString"]


def test_typehash__matches_vector(vector: dict[str, Any]) -> None:
    assert hex_of(message_of(vector).TYPEHASH) == vector["typeHash"]


def test_domain_separator__matches_vector(vector: dict[str, Any]) -> None:
    assert hex_of(eip712.domain_separator(domain_of(vector))) == vector["domainSeparator"]


def test_struct_hash__matches_vector(vector: dict[str, Any]) -> None:
    assert hex_of(eip712.struct_hash(message_of(vector))) == vector["structHash"]


def test_digest__matches_vector(vector: dict[str, Any]) -> None:
    assert hex_of(eip712.digest(domain_of(vector), message_of(vector))) == vector["digest"]


def test_sign__reproduces_vector_signature_deterministically(vector: dict[str, Any]) -> None:
    signature = eip712.sign(vector["signerPrivateKey"], domain_of(vector), message_of(vector))
    assert hex_of(signature) == vector["signature"]


def test_recover__returns_vector_signer(vector: dict[str, Any]) -> None:
    signer = eip712.recover(domain_of(vector), message_of(vector), vector["signature"])
    assert signer == vector["signer"] == Account.from_key(vector["signerPrivateKey"]).address


def test_typed_data__carries_vector_message_and_hashes_alike_in_eth_account(
    vector: dict[str, Any],
) -> None:
    document = eip712.typed_data(domain_of(vector), message_of(vector))
    assert document["message"] == vector["message"]
    assert document["domain"] == vector["domain"]
    signable = encode_typed_data(full_message=json.loads(json.dumps(document)))
    assert hex_of(signable.header) == vector["domainSeparator"]
    assert hex_of(signable.body) == vector["structHash"]


def test_parse_typed_data__inverts_typed_data(vector: dict[str, Any]) -> None:
    domain, msg = domain_of(vector), message_of(vector)
    assert eip712.parse_typed_data(eip712.typed_data(domain, msg)) == (domain, msg)


# --- every member is committed to -------------------------------------------------------


def _changed(value: Any) -> Any:
    if isinstance(value, bytes):
        return value + b"\x00"
    if isinstance(value, str):  # an address
        return "0x" + (int(value, 16) ^ 1).to_bytes(20, "big").hex()
    return value - 1 if value > 1 else value + 1


CHANGES = [
    pytest.param(i, f.name, id=f"{VECTOR_IDS[i]}-{f.name}")
    for i, v in enumerate(VECTORS)
    for f in dataclasses.fields(eip712.MESSAGE_TYPES[v["primaryType"]])
] + [
    pytest.param(i, f"domain.{f.name}", id=f"{VECTOR_IDS[i]}-domain.{f.name}")
    for i in range(len(VECTORS))
    for f in dataclasses.fields(Domain)
]


@pytest.mark.parametrize(("index", "member"), CHANGES)
def test_digest__changes_when_any_single_member_changes(index: int, member: str) -> None:
    domain, msg = domain_of(VECTORS[index]), message_of(VECTORS[index])
    if member.startswith("domain."):
        name = member.removeprefix("domain.")
        other_domain = dataclasses.replace(domain, **{name: _changed(getattr(domain, name))})
        assert eip712.digest(other_domain, msg) != eip712.digest(domain, msg)
    else:
        other = dataclasses.replace(msg, **{member: _changed(getattr(msg, member))})
        assert eip712.struct_hash(other) != eip712.struct_hash(msg)
        assert eip712.digest(domain, other) != eip712.digest(domain, msg)


def test_digest__differs_across_verifying_contracts_and_types() -> None:
    # A Withdrawal and a ConfigChange share nonce/deadline; the typehash keeps them apart.
    domain = Domain(chain_id=31337, verifying_contract="0x" + "bb" * 20)
    a = ConfigChange(data=b"", nonce=1, deadline=2)
    b = Withdrawal(token="0x" + "00" * 20, amount=0, to="0x" + "00" * 20, nonce=1, deadline=2)
    assert eip712.digest(domain, a) != eip712.digest(domain, b)


# --- signatures: what the chain accepts, the backend accepts ----------------------------


def _signature_parts(signature: str) -> tuple[bytes, int, int]:
    raw = bytes.fromhex(signature[2:])
    return raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]


def test_recover__high_s_twin__rejected(vector: dict[str, Any]) -> None:
    r, s, v = _signature_parts(vector["signature"])
    twin = r + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    with pytest.raises(InvalidSignatureError, match="low half"):
        eip712.recover(domain_of(vector), message_of(vector), twin)


@pytest.mark.parametrize("bad_v", [0, 1, 26, 29])
def test_recover__v_not_27_or_28__rejected(vector: dict[str, Any], bad_v: int) -> None:
    raw = bytes.fromhex(vector["signature"][2:])
    with pytest.raises(InvalidSignatureError, match="v must be 27 or 28"):
        eip712.recover(domain_of(vector), message_of(vector), raw[:64] + bytes([bad_v]))


@pytest.mark.parametrize("signature", [b"", b"\x01" * 64, b"\x01" * 66, "0x12", "zz"])
def test_recover__malformed_signature__rejected(signature: bytes | str) -> None:
    vector = VECTORS[0]
    with pytest.raises(InvalidSignatureError):
        eip712.recover(domain_of(vector), message_of(vector), signature)


def test_recover__zero_r__rejected() -> None:
    vector = VECTORS[0]
    raw = bytes.fromhex(vector["signature"][2:])
    with pytest.raises(InvalidSignatureError):
        eip712.recover(domain_of(vector), message_of(vector), bytes(32) + raw[32:])


def test_recover__other_message__gives_other_address(vector: dict[str, Any]) -> None:
    msg = message_of(vector)
    other = dataclasses.replace(msg, nonce=msg.nonce + 1)
    assert eip712.recover(domain_of(vector), other, vector["signature"]) != vector["signer"]


# --- input validation -------------------------------------------------------------------

INTENT = dict(
    leader="0x" + "11" * 20,
    venue="0x" + "01" * 20,
    token_in="0x" + "02" * 20,
    token_out="0x" + "03" * 20,
    fraction_bps=2500,
    min_price=10**18,
    nonce=0,
    deadline=1_900_000_000,
)


@pytest.mark.parametrize(
    "change",
    [
        {"fraction_bps": 2**16},
        {"fraction_bps": -1},
        {"min_price": 2**256},
        {"nonce": True},
        {"deadline": "1900000000"},
        {"leader": "0x19e7E376E7C213B7E7e7e46cc70A5dD086DAff2A"},  # bad checksum
        {"venue": "0x" + "01" * 19},
    ],
    ids=lambda change: next(iter(change)),
)
def test_trade_intent__out_of_type_value__rejected(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidTypedDataError):
        TradeIntent(**{**INTENT, **change})


def test_trade_intent__lowercase_addresses__checksummed() -> None:
    intent = TradeIntent(**{**INTENT, "leader": "0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a"})
    assert intent.leader == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"


@pytest.mark.parametrize("chain_id", [0, 2**53, -1])
def test_domain__unusable_chain_id__rejected(chain_id: int) -> None:
    with pytest.raises(InvalidTypedDataError):
        Domain(chain_id=chain_id, verifying_contract="0x" + "aa" * 20)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["domain"].update(name="Other"),
        lambda d: d["domain"].update(salt="0x" + "00" * 32),
        lambda d: d["message"].pop("nonce"),
        lambda d: d["message"].update(extra="1"),
        lambda d: d["message"].update(nonce="1e3"),
        lambda d: d["types"]["TradeIntent"].reverse(),
        lambda d: d["types"]["TradeIntent"][4].update(type="uint256"),
        lambda d: d.update(primaryType="Permit"),
    ],
    ids=[
        "name",
        "salt",
        "missing-member",
        "extra-member",
        "non-decimal",
        "reordered-types",
        "widened-type",
        "foreign-type",
    ],
)
def test_parse_typed_data__anything_but_our_types__rejected(edit: Any) -> None:
    document = json.loads(
        json.dumps(eip712.typed_data(domain_of(VECTORS[0]), message_of(VECTORS[0])))
    )
    edit(document)
    with pytest.raises(InvalidTypedDataError):
        eip712.parse_typed_data(document)


# --- properties -------------------------------------------------------------------------


@settings(deadline=None, max_examples=60)
@given(key=private_keys, domain=domains, msg=messages)
def test_sign_then_recover__round_trips(key: bytes, domain: Domain, msg: Message) -> None:
    signature = eip712.sign(key, domain, msg)
    eip712.split_signature(signature)  # low s and v in 27/28, or it raises
    assert eip712.recover(domain, msg, signature) == Account.from_key(key).address
    assert signature == eip712.sign(key, domain, msg)  # RFC 6979: deterministic


@settings(deadline=None, max_examples=60)
@given(domain=domains, msg=messages)
def test_typed_data__json_round_trip_keeps_the_digest(domain: Domain, msg: Message) -> None:
    document = json.loads(json.dumps(eip712.typed_data(domain, msg)))
    assert eip712.parse_typed_data(document) == (domain, msg)
    signable = encode_typed_data(full_message=document)
    assert (signable.header, signable.body) == (
        eip712.domain_separator(domain),
        eip712.struct_hash(msg),
    )


@settings(max_examples=300, deadline=None)
@given(msg=messages)
def test_struct_hash__direct_words__equal_eth_abi_encoding(msg):
    """The direct 32-byte-word encoding is the general ABI encoder's, for every message; with
    addresses lowercase, checksummed and uppercase alike."""
    assert eip712.struct_hash(msg) == eip712.struct_hash_abi(msg)
    spelled = {
        f.name: eip712.to_checksum_address(getattr(msg, f.name))
        for f in dataclasses.fields(msg)
        if isinstance(getattr(msg, f.name), str)
    }
    checksummed = dataclasses.replace(msg, **spelled)
    assert eip712.struct_hash(checksummed) == eip712.struct_hash(msg)


@settings(deadline=None, max_examples=60)
@given(key=private_keys, message_hash=st.binary(min_size=32, max_size=32))
def test_recover_address__same_signer_as_eth_account(key: bytes, message_hash: bytes) -> None:
    """The direct coincurve path (intake's) against eth-account's own recovery."""
    signed = Account.unsafe_sign_hash(message_hash, key)
    if signed.s > eip712.SECP256K1_HALF_N:  # eth-account signs low s already; keep the rule
        return
    signature = bytes(signed.signature)
    expected = Account._recover_hash(message_hash, signature=signature)
    assert eip712.recover_address(message_hash, signature) == expected.lower()
    assert eip712.recover_digest(message_hash, signature) == expected


@pytest.mark.parametrize("r", range(1, 25))
def test_recover_address__r_without_a_curve_point__refused_as_eth_keys_refuses(r: int) -> None:
    """Some small r are x coordinates of no secp256k1 point: both libraries refuse exactly those."""
    message_hash, s = bytes(range(32)), 1
    try:
        keys.Signature(vrs=(0, r, s)).recover_public_key_from_msg_hash(message_hash)
        recovers = True
    except BadSignature:
        recovers = False
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27])
    if recovers:
        assert eip712.recover_address(message_hash, signature).startswith("0x")
    else:
        with pytest.raises(eip712.InvalidSignatureError, match="does not recover a key"):
            eip712.recover_address(message_hash, signature)
