"""The relayer's sender key: encrypted at rest, decrypted once into a `RelayerSigner`.

Two file formats are accepted at COPYVAULT_RELAYER_KEY_FILE:
- a copyvault envelope (encryption.py, AES-256-GCM under COPYVAULT_SECRETS_KEY), written by
  `copyvault relayer-key new|import`;
- an Ethereum V3 keystore (scrypt or PBKDF2, as geth, Foundry's `cast wallet` and MetaMask
  export), opened with COPYVAULT_RELAYER_KEYSTORE_PASSWORD.

The decrypted key never leaves the signer: it has no attribute that returns it, its repr shows
the address only, and it refuses to be pickled (so it cannot end up in a cache or a crash dump
written by a library). eth-account does the signing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from backend.config import Settings
from backend.exceptions import ConfigError
from backend.security.encryption import decrypt, encrypt, parse_secrets_key

PURPOSE = "relayer-key"


@dataclass(frozen=True)
class SignedTransaction:
    raw: str  # 0x-hex, what eth_sendRawTransaction takes
    hash: str  # 0x-hex


class RelayerSigner:
    """Signs the relayer's transactions; holds the only decrypted copy of the key."""

    __slots__ = ("_account", "address")

    def __init__(self, private_key: bytes):
        account = Account.from_key(private_key)
        object.__setattr__(self, "_account", account)
        object.__setattr__(self, "address", account.address)

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTransaction:
        signed = self._account.sign_transaction(tx)
        return SignedTransaction("0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a RelayerSigner is immutable")

    def __repr__(self) -> str:
        return f"RelayerSigner({self.address})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a RelayerSigner holds a private key and cannot be pickled or copied")


def _key_bytes(key_hex: str) -> bytes:
    try:
        key = bytes.fromhex(key_hex.strip().removeprefix("0x"))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError("a relayer private key is 32 bytes (64 hex digits)")
    return key


def encrypted_key_file(key_hex: str, secrets_key: bytes, purpose: str = PURPOSE) -> dict[str, Any]:
    """The envelope of a key (the relayer's, or another `purpose`'s such as the guardian's); its
    address is public but authenticated."""
    key = _key_bytes(key_hex)
    address = Account.from_key(key).address
    return encrypt(key, secrets_key, purpose=purpose, context={"address": address})


def write_encrypted_key(
    path: Path, key_hex: str, secrets_key: bytes, *, overwrite: bool = False, purpose: str = PURPOSE
) -> str:
    """Write the encrypted key to `path`, readable by its owner only; the key's address."""
    envelope = encrypted_key_file(key_hex, secrets_key, purpose)
    write_owner_only(Path(path), envelope, overwrite=overwrite)
    return envelope["address"]


def write_owner_only(path: Path, envelope: dict[str, Any], *, overwrite: bool) -> None:
    """An envelope as JSON at `path`, readable by its owner only; never replaces a file unless
    `overwrite`."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists; refusing to overwrite a key file") from None
    with os.fdopen(fd, "w") as file:
        json.dump(envelope, file, indent=2)
        file.write("\n")
    os.chmod(path, 0o600)


def read_key_file(path: Path, variable: str = "COPYVAULT_RELAYER_KEY_FILE") -> dict[str, Any]:
    try:
        content = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{variable}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{variable}: {path} is not readable JSON ({exc})") from None
    if not isinstance(content, dict):
        raise ConfigError(f"{variable}: {path} is not a key file")
    return content


def is_keystore(content: dict[str, Any]) -> bool:
    return content.get("version") == 3 and ("crypto" in content or "Crypto" in content)


def _checksum(address: str) -> str:
    try:
        return to_checksum_address(address if address.startswith("0x") else "0x" + address)
    except ValueError:
        raise ConfigError(f"the key file's address {address!r} is not an address") from None


def load_relayer_signer(settings: Settings) -> RelayerSigner:
    """Decrypt the relayer key named by the settings; ConfigErrors name the variable to fix."""
    if settings.relayer_key_file is None:
        raise ConfigError(
            "COPYVAULT_RELAYER_KEY_FILE is not set; the relayer needs its encrypted sender key "
            "(`copyvault relayer-key new --out FILE` writes one)"
        )
    content = read_key_file(settings.relayer_key_file)
    if is_keystore(content):
        return RelayerSigner(_open_keystore(content, settings))
    return open_envelope(content, settings, purpose=PURPOSE, variable="COPYVAULT_RELAYER_KEY_FILE")


def load_envelope_signer(
    path: Path | None, settings: Settings, *, purpose: str, variable: str, command: str
) -> RelayerSigner:
    """The signer of the key envelope at `path` (the setting `variable`), written by `command`
    for `purpose` (the guardian's and the anchorer's keys)."""
    if path is None:
        raise ConfigError(
            f"{variable} is not set; it names the encrypted {purpose} (`{command} new --out FILE` "
            "writes one)"
        )
    return open_envelope(
        read_key_file(path, variable), settings, purpose=purpose, variable=variable
    )


def open_envelope(
    content: dict[str, Any], settings: Settings, *, purpose: str, variable: str
) -> RelayerSigner:
    """The signer of a copyvault key envelope written for `purpose` (read from `variable`)."""
    if settings.secrets_key is None:
        raise ConfigError(f"COPYVAULT_SECRETS_KEY is not set; it decrypts {variable}")
    secrets_key = parse_secrets_key(settings.secrets_key.get_secret_value())
    key = decrypt(content, secrets_key, purpose=purpose, context_fields=("address",))
    signer = RelayerSigner(key)
    if signer.address != _checksum(content["address"]):
        raise ConfigError(f"{variable}: the key does not match its address")
    return signer


def _open_keystore(content: dict[str, Any], settings: Settings) -> bytes:
    if settings.relayer_keystore_password is None:
        raise ConfigError(
            "COPYVAULT_RELAYER_KEYSTORE_PASSWORD is not set; COPYVAULT_RELAYER_KEY_FILE is a "
            "V3 keystore"
        )
    try:
        return bytes(
            Account.decrypt(content, settings.relayer_keystore_password.get_secret_value())
        )
    except ValueError:
        raise ConfigError(
            "COPYVAULT_RELAYER_KEYSTORE_PASSWORD does not open COPYVAULT_RELAYER_KEY_FILE"
        ) from None
