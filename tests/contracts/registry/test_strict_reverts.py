"""The strict `reverts` helper (tests/utils/reverts.py) can fail: wrong error, wrong input, unknown
input name, no revert.

Run against the registry's reverts, through each path a revert reaches a test by: a view call
(undecoded by Ape), a transaction (decoded by Ape) and a call bubbling up through the router; and
the revert data is recovered from each form anvil's message takes.
"""

from __future__ import annotations

import pytest
from eth_utils import function_signature_to_4byte_selector

from tests.utils.reverts import raw_revert_data, reverts, selector


@pytest.fixture
def forged(make_intent, sign_intent, attacker):
    return sign_intent(make_intent(), signer=attacker)


@pytest.mark.parametrize("path", ["view", "transaction", "via-router"])
def test_reverts__matching_error_and_inputs__passes(
    registry, router, forged, leader, attacker, relayer, path
):
    with reverts(registry.UnauthorizedSigner, leader=leader, signer=attacker):
        _send(registry, router, forged, relayer, path)


@pytest.mark.parametrize("path", ["view", "transaction", "via-router"])
@pytest.mark.parametrize(
    "expectation",
    [
        pytest.param(lambda r, leader, attacker: (r.InvalidSignature, {}), id="other-error"),
        pytest.param(
            lambda r, leader, attacker: (r.UnauthorizedSigner, {"signer": leader}), id="other-input"
        ),
        pytest.param(
            lambda r, leader, attacker: (r.UnauthorizedSigner, {"signr": attacker}),
            id="misspelt-input",
        ),
    ],
)
def test_reverts__wrong_expectation__fails(
    registry, router, forged, leader, attacker, relayer, path, expectation
):
    error, inputs = expectation(registry, leader, attacker)
    with pytest.raises(AssertionError):
        with reverts(error, **inputs):
            _send(registry, router, forged, relayer, path)


def test_reverts__no_revert__fails(registry, make_intent, sign_intent):
    args, sig = sign_intent(make_intent())
    with pytest.raises(AssertionError):
        with reverts(registry.UnauthorizedSigner):
            registry.verifyIntent(args, sig)


def _send(registry, router, forged, relayer, path):
    args, sig = forged
    if path == "view":
        registry.verifyIntent(args, sig)
    elif path == "transaction":
        registry.checkIntent(args, sig, sender=relayer)
    else:
        router.mirrorBatch(args, sig, [relayer.address], sender=relayer)


def test_selector__is_the_4byte_hash_of_the_error_signature(registry, router):
    assert selector(registry.UnauthorizedSigner) == function_signature_to_4byte_selector(
        "UnauthorizedSigner(address,address)"
    )
    assert (
        selector(router.BoundAboveQuote)
        == bytes.fromhex("99475608")
        == function_signature_to_4byte_selector("BoundAboveQuote(uint256,uint256)")
    )


# Revert data whose bytes after the selector are valid UTF-8 (NULs and an "A"); TEXT is wholly so.
DATA = bytes.fromhex("1896a531") + bytes(31) + b"A"
TEXT = b"abcd" + DATA[4:]


@pytest.mark.parametrize(
    ("message", "data"),
    [
        pytest.param("0x" + DATA.hex(), DATA, id="hex"),
        pytest.param(f"custom error 0x{DATA[:4].hex()}: {DATA[4:].hex()}", DATA, id="error-hex"),
        pytest.param(
            f"custom error 0x{DATA[:4].hex()}: {DATA[4:].decode()}", DATA, id="error-text"
        ),
        pytest.param(TEXT.decode(), TEXT, id="all-text"),
    ],
)
def test_raw_revert_data__each_form_of_the_message__gives_the_bytes_back(message, data):
    assert raw_revert_data(message) == data


def test_raw_revert_data__message_without_error_data__fails():
    with pytest.raises(AssertionError, match="no custom error"):
        raw_revert_data("Transaction failed.")
