"""Wallets (MetaMask's eth_signTypedData_v4) and the Python signer produce the same bytes.

`toolchain/js-signer.js` runs `@metamask/eth-sig-util`, the library MetaMask signs typed
data with; agreeing with it on every vector and on random messages shows that what a user
signs in a wallet is what the backend and the contracts verify.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from eth_account import Account
from hypothesis import given, settings

from backend.chain import eip712
from backend.chain.eip712 import Domain, Message
from backend.chain.js_signer import JS_SIGNER, JsSignerError, sign_typed_data_v4_js
from tests.backend.strategies import domains, messages, private_keys
from tests.utils.vectors import load_vectors

VECTORS = load_vectors()
VECTOR_IDS = [
    f"{i}-{v['primaryType']}-chain{v['domain']['chainId']}" for i, v in enumerate(VECTORS)
]


@pytest.mark.parametrize("vector", VECTORS, ids=VECTOR_IDS)
def test_js_signature__equals_python_and_vector(vector: dict[str, Any]) -> None:
    domain = Domain.from_json(vector["domain"])
    msg = eip712.MESSAGE_TYPES[vector["primaryType"]].from_json(vector["message"])
    key = vector["signerPrivateKey"]
    js_signature = sign_typed_data_v4_js(key, eip712.typed_data(domain, msg))
    assert js_signature == eip712.sign(key, domain, msg)
    assert "0x" + js_signature.hex() == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS[:1], ids=VECTOR_IDS[:1])
def test_js_signer__vector_json_as_published__signs_alike(vector: dict[str, Any]) -> None:
    # The vector's own JSON (decimal strings, as a client would send it), not our rendering.
    cls = eip712.MESSAGE_TYPES[vector["primaryType"]]
    document = {
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for t, n in Domain.FIELDS],
            cls.PRIMARY_TYPE: [{"name": n, "type": t} for t, n in cls.FIELDS],
        },
        "primaryType": cls.PRIMARY_TYPE,
        "domain": vector["domain"],
        "message": vector["message"],
    }
    signature = sign_typed_data_v4_js(bytes.fromhex(vector["signerPrivateKey"][2:]), document)
    assert "0x" + signature.hex() == vector["signature"]


def test_js_signer__python_ints_beyond_2_53__sent_as_decimal_strings() -> None:
    vector = VECTORS[1]  # nonce near 2**255, deadline 2**64
    domain = Domain.from_json(vector["domain"])
    msg = eip712.MESSAGE_TYPES[vector["primaryType"]].from_json(vector["message"])
    document = eip712.typed_data(domain, msg)
    document["message"] = {**document["message"], "nonce": msg.nonce, "deadline": msg.deadline}
    assert (
        "0x" + sign_typed_data_v4_js(vector["signerPrivateKey"], document).hex()
        == (vector["signature"])
    )


def test_js_script__unsafe_json_number__refused_not_rounded() -> None:
    request = '{"privateKey": "0x' + "11" * 32 + '", "typedData": {"nonce": 18446744073709551616}}'
    result = subprocess.run(
        ["node", str(JS_SIGNER)], input=request, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "decimal string" in result.stderr
    assert "11" * 32 not in result.stderr + result.stdout


def test_js_signer__bad_document__raises_with_reason() -> None:
    with pytest.raises(JsSignerError, match="js-signer"):
        sign_typed_data_v4_js("0x" + "11" * 32, {"types": {}, "primaryType": "Nope"})


@settings(deadline=None, max_examples=15)
@given(
    key=private_keys,
    domain=domains,
    msg=messages,
)
def test_js_signature__random_message__recovers_to_signer_in_python(
    key: bytes, domain: Domain, msg: Message
) -> None:
    signature = sign_typed_data_v4_js(key, eip712.typed_data(domain, msg))
    assert eip712.recover(domain, msg, signature) == Account.from_key(key).address
    assert signature == eip712.sign(key, domain, msg)
