"""AES-256-GCM envelopes for secrets at rest, keyed by COPYVAULT_SECRETS_KEY.

An envelope is a small JSON object: the format, the purpose, a fresh 96-bit nonce and the
ciphertext with its tag. The purpose (and any extra context the caller binds, such as the address
a key belongs to) is authenticated as associated data, so an envelope cannot be moved to another
use or have its label edited without decryption failing. `cryptography`'s AESGCM does the
cryptography; this module only fixes the format and turns every failure into a `ConfigError`
that says what to check.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.exceptions import ConfigError

FORMAT = "copyvault-secret-v1"
CIPHER = "aes-256-gcm"
KEY_BYTES = 32
NONCE_BYTES = 12


class SecretDecryptionError(ConfigError):
    """An envelope did not open: wrong key, edited content, or another purpose."""


def generate_secrets_key() -> str:
    """A new random secrets key, as the 64 hex digits COPYVAULT_SECRETS_KEY takes."""
    return secrets.token_hex(KEY_BYTES)


def parse_secrets_key(value: str, *, name: str = "COPYVAULT_SECRETS_KEY") -> bytes:
    """The 32 key bytes of a COPYVAULT_SECRETS_KEY value (64 hex digits, optional 0x); `name` is
    the setting named in the error (other keys, such as the backup key, share the format)."""
    text = value.strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"{name} must be 64 hex digits (32 bytes); "
            "`copyvault relayer-key secrets-key` prints a new one"
        )
    return key


def required_secrets_key(value: Any, needed_for: str) -> bytes:
    """The key bytes of the COPYVAULT_SECRETS_KEY setting (`value`, a SecretStr or None); a
    ConfigError saying what it is `needed_for` when it is unset."""
    if value is None:
        raise ConfigError(
            f"COPYVAULT_SECRETS_KEY is not set; it encrypts {needed_for} "
            "(`copyvault relayer-key secrets-key` prints a new one)"
        )
    return parse_secrets_key(value.get_secret_value())


def _associated_data(purpose: str, context: dict[str, str]) -> bytes:
    return json.dumps({"purpose": purpose, **context}, sort_keys=True).encode()


def encrypt(
    plaintext: bytes, key: bytes, *, purpose: str, context: dict[str, str] | None = None
) -> dict[str, Any]:
    """An envelope holding `plaintext`, bound to `purpose` and the (public) `context` fields."""
    context = context or {}
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_check_key(key)).encrypt(nonce, plaintext, _associated_data(purpose, context))
    return {
        "format": FORMAT,
        "cipher": CIPHER,
        "purpose": purpose,
        **context,
        "nonce": nonce.hex(),
        "ciphertext": sealed.hex(),
    }


def decrypt(envelope: dict[str, Any], key: bytes, *, purpose: str, context_fields=()) -> bytes:
    """The plaintext of an envelope made by `encrypt` for `purpose`; raises if anything is off."""
    if envelope.get("format") != FORMAT or envelope.get("cipher") != CIPHER:
        raise SecretDecryptionError(f"not a {FORMAT} ({CIPHER}) envelope")
    if envelope.get("purpose") != purpose:
        raise SecretDecryptionError(
            f"the envelope is for {envelope.get('purpose')!r}, not {purpose!r}"
        )
    try:
        context = {name: str(envelope[name]) for name in context_fields}
        nonce, sealed = bytes.fromhex(envelope["nonce"]), bytes.fromhex(envelope["ciphertext"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SecretDecryptionError(f"the envelope is malformed ({exc})") from None
    try:
        return AESGCM(_check_key(key)).decrypt(nonce, sealed, _associated_data(purpose, context))
    except (InvalidTag, ValueError):
        raise SecretDecryptionError(
            "the envelope did not decrypt: COPYVAULT_SECRETS_KEY is not the key it was written "
            "with, or the file was altered"
        ) from None


def _check_key(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ConfigError(f"a secrets key is {KEY_BYTES} bytes, not {len(key)}")
    return key
