"""AES-256-GCM envelopes: they open with the right key and purpose only, and say why not."""

from __future__ import annotations

import json

import pytest

from backend.exceptions import ConfigError
from backend.security.encryption import (
    SecretDecryptionError,
    decrypt,
    encrypt,
    generate_secrets_key,
    parse_secrets_key,
)

KEY = parse_secrets_key(generate_secrets_key())


def test_envelope__round_trips_and_hides_the_plaintext():
    envelope = encrypt(b"a secret value", KEY, purpose="test", context={"label": "x"})
    assert b"a secret value".hex() not in json.dumps(envelope)
    assert decrypt(envelope, KEY, purpose="test", context_fields=("label",)) == b"a secret value"


def test_envelope__fresh_nonce_each_time():
    first, second = (encrypt(b"same", KEY, purpose="test") for _ in range(2))
    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


def test_envelope__wrong_key__refused():
    envelope = encrypt(b"secret", KEY, purpose="test")
    other = parse_secrets_key(generate_secrets_key())
    with pytest.raises(SecretDecryptionError, match="COPYVAULT_SECRETS_KEY is not the key"):
        decrypt(envelope, other, purpose="test")


@pytest.mark.parametrize("field", ["ciphertext", "nonce"])
def test_envelope__tampered__refused(field):
    envelope = encrypt(b"secret", KEY, purpose="test")
    flipped = bytearray(bytes.fromhex(envelope[field]))
    flipped[0] ^= 1
    envelope[field] = flipped.hex()
    with pytest.raises(SecretDecryptionError, match="altered"):
        decrypt(envelope, KEY, purpose="test")


def test_envelope__edited_context__refused():
    # The public label is authenticated: pointing the envelope at another address breaks it.
    envelope = encrypt(b"secret", KEY, purpose="test", context={"address": "0xaa"})
    envelope["address"] = "0xbb"
    with pytest.raises(SecretDecryptionError):
        decrypt(envelope, KEY, purpose="test", context_fields=("address",))


def test_envelope__other_purpose__refused_even_if_relabelled():
    envelope = encrypt(b"secret", KEY, purpose="totp-seed")
    with pytest.raises(SecretDecryptionError, match="'totp-seed', not 'relayer-key'"):
        decrypt(envelope, KEY, purpose="relayer-key")
    envelope["purpose"] = "relayer-key"
    with pytest.raises(SecretDecryptionError, match="did not decrypt"):
        decrypt(envelope, KEY, purpose="relayer-key")


@pytest.mark.parametrize("envelope", [{}, {"format": "other"}, {"format": "copyvault-secret-v1"}])
def test_envelope__not_an_envelope__refused(envelope):
    with pytest.raises(SecretDecryptionError):
        decrypt(envelope, KEY, purpose="test")


def test_envelope__malformed_hex__refused():
    envelope = encrypt(b"secret", KEY, purpose="test")
    envelope["nonce"] = "zz"
    with pytest.raises(SecretDecryptionError, match="malformed"):
        decrypt(envelope, KEY, purpose="test")


@pytest.mark.parametrize("value", ["", "00" * 31, "00" * 33, "zz" * 32, "0x" + "11" * 31])
def test_secrets_key__not_32_hex_bytes__refused_naming_the_variable(value):
    with pytest.raises(ConfigError, match="COPYVAULT_SECRETS_KEY must be 64 hex digits"):
        parse_secrets_key(value)


def test_secrets_key__0x_prefix_accepted():
    assert parse_secrets_key("0x" + "ab" * 32) == bytes.fromhex("ab" * 32)
