"""copyvault's EIP-712 types: the one Python definition of what leaders and owners sign.

The contracts recompute these digests on chain (the LeaderRegistry for trade intents,
each CopyVault for owner approvals) and `tests/vectors/eip712.json` pins them, so any
drift here would make every signature the backend produces or accepts fail on chain.
Hence:

- the type strings are literal copies of those in docs/protocol.md §1 (EIP-712 domains and signed
  types) and each message class derives its fields from its type string, so there is one source of
  truth per type;
- `struct_hash` is EIP-712's ``hashStruct`` written out with eth-abi (dynamic ``bytes``
  replaced by their keccak), and `sign` refuses to sign unless eth-account's own
  encoding of `typed_data` yields the same hashes, so the JSON shown to wallets and the
  digest checked on chain cannot disagree;
- `recover` accepts exactly what OpenZeppelin's ``ECDSA.recover`` accepts (65 bytes,
  v in {27, 28}, low s), so the relayer never relays a signature the chain would reject.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Final, Self, TypeAlias

from coincurve import PublicKey
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_checksum_address, keccak, to_checksum_address

DOMAIN_NAME: Final = "CopyVault"
DOMAIN_VERSION: Final = "1"

EIP712_DOMAIN_TYPE: Final = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
TRADE_INTENT_TYPE: Final = (
    "TradeIntent(address leader,address venue,address tokenIn,address tokenOut,"
    "uint16 fractionBps,uint256 minPrice,uint256 nonce,uint256 deadline)"
)
WITHDRAWAL_TYPE: Final = (
    "Withdrawal(address token,uint256 amount,address to,uint256 nonce,uint256 deadline)"
)
CONFIG_CHANGE_TYPE: Final = "ConfigChange(bytes data,uint256 nonce,uint256 deadline)"

# 0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f
EIP712_DOMAIN_TYPEHASH: Final = keccak(text=EIP712_DOMAIN_TYPE)
# 0x7e1016aae5e084b47444f579b6dc046de276a156b99510cd3a59a2619489da59
TRADE_INTENT_TYPEHASH: Final = keccak(text=TRADE_INTENT_TYPE)
# 0x50c903e4b70ec24f8ea1df5b5d7d75522bfa603572e97bc337c12357b7fb209c
WITHDRAWAL_TYPEHASH: Final = keccak(text=WITHDRAWAL_TYPE)
# 0x416a997eb57b7fd3d72946dec27b6fff79190b97a650fa97a8fe14bbd2192915
CONFIG_CHANGE_TYPEHASH: Final = keccak(text=CONFIG_CHANGE_TYPE)

SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# OpenZeppelin ECDSA rejects s above this (EIP-2 malleability rule): the low half of n.
SECP256K1_HALF_N: Final = SECP256K1_N // 2
# Wallets take chainId as a JSON number; beyond 2**53 - 1 JavaScript would round it.
MAX_JSON_SAFE_CHAIN_ID: Final = 2**53 - 1

Field: TypeAlias = tuple[str, str]  # (ABI type, EIP-712 member name)

_TYPE_STRING_RE: Final = re.compile(r"(\w+)\(([^()]*)\)", re.ASCII)
_DECIMAL_RE: Final = re.compile(r"[0-9]+", re.ASCII)
_HEX_RE: Final = re.compile(r"0x[0-9a-fA-F]*", re.ASCII)
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


class InvalidTypedDataError(ValueError):
    """A message, domain or typed-data document does not fit copyvault's EIP-712 types."""


class InvalidSignatureError(ValueError):
    """A signature the on-chain ECDSA check would reject (shape, v, r or s out of range)."""


def parse_type_string(type_string: str) -> tuple[str, tuple[Field, ...]]:
    """Split ``Name(type a,type b)`` into its name and members, in encoding order."""
    match = _TYPE_STRING_RE.fullmatch(type_string)
    if match is None:
        raise InvalidTypedDataError(f"not a flat EIP-712 type string: {type_string!r}")
    members = tuple(member.split(" ") for member in match.group(2).split(","))
    return match.group(1), tuple((abi_type, name) for abi_type, name in members)


def _snake_case(name: str) -> str:
    """Map an EIP-712 member name (``tokenIn``) to its Python attribute (``token_in``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _uint_bits(abi_type: str) -> int:
    """Width of a ``uintN`` type; the range check must match what abi.encode accepts."""
    return int(abi_type.removeprefix("uint") or "256")


def _check_uint(value: Any, abi_type: str, where: str) -> int:
    """Accept a Python int within the type's range (bool is an int, but never a number here)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidTypedDataError(f"{where}: {abi_type} must be an int, got {value!r}")
    if not 0 <= value < 2 ** _uint_bits(abi_type):
        raise InvalidTypedDataError(f"{where}: {value} is out of range for {abi_type}")
    return value


def _check_address(value: Any, where: str) -> str:
    """Accept a 0x-hex address and checksum it; a mixed-case one must carry a valid checksum."""
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        raise InvalidTypedDataError(
            f"{where}: expected a 0x-prefixed 20-byte address, got {value!r}"
        )
    checksummed = _checksummed(value)
    if checksummed is None:
        raise InvalidTypedDataError(f"{where}: {value} has a wrong EIP-55 checksum (a typo?)")
    return checksummed


@lru_cache(maxsize=4_096)
def _checksummed(value: str) -> str | None:
    """The EIP-55 form of a well-formed address, None if its mixed case is a wrong checksum.
    Cached: a keccak per call, and the same few addresses (leaders, venues, tokens) recur."""
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(value):
        return None
    return to_checksum_address(value)


def _check_bytes(value: Any, where: str) -> bytes:
    """Accept bytes-like data; the struct hash commits to its keccak."""
    if not isinstance(value, bytes | bytearray):
        raise InvalidTypedDataError(f"{where}: expected bytes, got {type(value).__name__}")
    return bytes(value)


def _parse_uint(value: Any, where: str) -> int:
    """Read a JSON uint: an int, a decimal string or a 0x-hex string (as wallets send)."""
    if isinstance(value, str):
        if _DECIMAL_RE.fullmatch(value):
            return int(value, 10)
        if _HEX_RE.fullmatch(value) and len(value) > 2:
            return int(value, 16)
        raise InvalidTypedDataError(f"{where}: {value!r} is not a decimal or 0x-hex integer")
    return value  # checked by the dataclass


def _parse_bytes(value: Any, where: str) -> bytes:
    """Read JSON ``bytes``: 0x-hex with an even number of digits, nothing else."""
    if not isinstance(value, str) or not _HEX_RE.fullmatch(value) or len(value) % 2:
        raise InvalidTypedDataError(f"{where}: expected 0x-prefixed even-length hex, got {value!r}")
    return bytes.fromhex(value[2:])


_NORMALISERS = {"address": _check_address, "bytes": _check_bytes}
_JSON_PARSERS = {"bytes": _parse_bytes}


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain of one verifying contract: name and version are fixed by the protocol
    (docs/protocol.md §1: "CopyVault", "1")."""

    chain_id: int
    verifying_contract: str

    NAME: ClassVar[str] = DOMAIN_NAME
    VERSION: ClassVar[str] = DOMAIN_VERSION
    FIELDS: ClassVar[tuple[Field, ...]] = parse_type_string(EIP712_DOMAIN_TYPE)[1]

    def __post_init__(self) -> None:
        """Refuse domains no wallet or chain would accept, before anything is hashed."""
        chain_id = _check_uint(self.chain_id, "uint256", "domain.chainId")
        if not 1 <= chain_id <= MAX_JSON_SAFE_CHAIN_ID:
            raise InvalidTypedDataError(f"domain.chainId: {chain_id} is not a usable chain id")
        contract = _check_address(self.verifying_contract, "domain.verifyingContract")
        object.__setattr__(self, "verifying_contract", contract)

    def to_json(self) -> dict[str, Any]:
        """The ``domain`` object of eth_signTypedData_v4; chainId a number, as wallets expect."""
        return {
            "name": self.NAME,
            "version": self.VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    @classmethod
    def from_json(cls, domain: Mapping[str, Any]) -> Self:
        """Read a typed-data domain, refusing any other name, version or extra member."""
        if set(domain) != {"name", "version", "chainId", "verifyingContract"}:
            raise InvalidTypedDataError(f"domain members must be exactly {cls.FIELDS}")
        if (domain["name"], domain["version"]) != (cls.NAME, cls.VERSION):
            raise InvalidTypedDataError(
                f"domain must be name={cls.NAME!r} version={cls.VERSION!r}, "
                f"got {domain['name']!r} {domain['version']!r}"
            )
        chain_id = _parse_uint(domain["chainId"], "domain.chainId")
        return cls(chain_id=chain_id, verifying_contract=domain["verifyingContract"])


@dataclass(frozen=True)
class _Message:
    """Shared behaviour of the signed structs; subclasses set TYPE_STRING and the fields."""

    TYPE_STRING: ClassVar[str]
    PRIMARY_TYPE: ClassVar[str]
    TYPEHASH: ClassVar[bytes]
    FIELDS: ClassVar[tuple[Field, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Derive name, typehash and members from the type string: one source of truth."""
        super().__init_subclass__(**kwargs)
        cls.PRIMARY_TYPE, cls.FIELDS = parse_type_string(cls.TYPE_STRING)
        cls.TYPEHASH = keccak(text=cls.TYPE_STRING)

    def __post_init__(self) -> None:
        """Validate and normalise every member so a built message is always encodable."""
        for abi_type, name in self.FIELDS:
            attr, where = _snake_case(name), f"{self.PRIMARY_TYPE}.{name}"
            if abi_type.startswith("uint"):
                value = _check_uint(getattr(self, attr), abi_type, where)
            else:
                value = _NORMALISERS[abi_type](getattr(self, attr), where)
            object.__setattr__(self, attr, value)

    def values(self) -> tuple[Any, ...]:
        """Member values in type-string order."""
        return tuple(getattr(self, _snake_case(name)) for _, name in self.FIELDS)

    def to_json(self) -> dict[str, Any]:
        """The ``message`` object: uints as decimal strings (JS loses precision past 2**53)."""
        out: dict[str, Any] = {}
        for (abi_type, name), value in zip(self.FIELDS, self.values(), strict=True):
            if abi_type == "bytes":
                out[name] = "0x" + value.hex()
            elif abi_type.startswith("uint"):
                out[name] = str(value)
            else:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, message: Mapping[str, Any]) -> Self:
        """Read a typed-data ``message``; missing or extra members are refused, not defaulted."""
        names = [name for _, name in cls.FIELDS]
        if set(message) != set(names):
            raise InvalidTypedDataError(f"{cls.PRIMARY_TYPE} members must be exactly {names}")
        kwargs = {}
        for abi_type, name in cls.FIELDS:
            where, value = f"{cls.PRIMARY_TYPE}.{name}", message[name]
            if abi_type.startswith("uint"):
                value = _parse_uint(value, where)
            elif abi_type in _JSON_PARSERS:
                value = _JSON_PARSERS[abi_type](value, where)
            kwargs[_snake_case(name)] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class TradeIntent(_Message):
    """A leader's order, mirrored into every following vault (verified by the LeaderRegistry)."""

    TYPE_STRING: ClassVar[str] = TRADE_INTENT_TYPE

    leader: str
    venue: str
    token_in: str
    token_out: str
    fraction_bps: int
    min_price: int
    nonce: int
    deadline: int


@dataclass(frozen=True)
class Withdrawal(_Message):
    """An owner approval to move one token out of a vault (verified by that vault)."""

    TYPE_STRING: ClassVar[str] = WITHDRAWAL_TYPE

    token: str
    amount: int
    to: str
    nonce: int
    deadline: int


@dataclass(frozen=True)
class ConfigChange(_Message):
    """An owner approval of a call on the vault's own configuration (verified by that vault)."""

    TYPE_STRING: ClassVar[str] = CONFIG_CHANGE_TYPE

    data: bytes
    nonce: int
    deadline: int


Message: TypeAlias = TradeIntent | Withdrawal | ConfigChange
MESSAGE_TYPES: Final[dict[str, type[Message]]] = {
    cls.PRIMARY_TYPE: cls for cls in (TradeIntent, Withdrawal, ConfigChange)
}


def _check_fields_match_type_strings() -> None:
    """Fail at import if a dataclass's attributes drift from its type string."""
    for cls in MESSAGE_TYPES.values():
        expected = [_snake_case(name) for _, name in cls.FIELDS]
        if [f.name for f in fields(cls)] != expected:
            raise TypeError(f"{cls.__name__} attributes do not match {cls.TYPE_STRING}")


_check_fields_match_type_strings()

# The types as JSON, for clients in other languages (the web app imports it). Written by
# `python -m backend.chain.eip712` from the definitions above; a test fails if they differ.
TYPES_FILE: Final = Path(__file__).with_name("eip712_types.json")


def types_document() -> dict[str, Any]:
    """Every copyvault EIP-712 type as eth_signTypedData_v4 `types` entries, with the fixed domain
    members, type strings and typehashes (so a client can check its own encoding)."""
    type_strings = {"EIP712Domain": EIP712_DOMAIN_TYPE} | {
        name: cls.TYPE_STRING for name, cls in MESSAGE_TYPES.items()
    }
    return {
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION},
        "types": {
            name: [{"name": n, "type": t} for t, n in parse_type_string(text)[1]]
            for name, text in type_strings.items()
        },
        "type_strings": type_strings,
        "typehashes": {name: "0x" + keccak(text=text).hex() for name, text in type_strings.items()},
    }


def types_json() -> str:
    """`types_document()` as the committed file holds it (sorted keys, two-space indent)."""
    return json.dumps(types_document(), indent=2, sort_keys=True) + "\n"


def _encode_member(abi_type: str, value: Any) -> tuple[str, Any]:
    """EIP-712 encodeData for one atomic member: dynamic ``bytes`` become their keccak."""
    return ("bytes32", keccak(value)) if abi_type == "bytes" else (abi_type, value)


@lru_cache(maxsize=256)
def domain_separator(domain: Domain) -> bytes:
    """hashStruct(EIP712Domain): what the contract's EIP712 base caches per chain and address."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                EIP712_DOMAIN_TYPEHASH,
                keccak(text=domain.NAME),
                keccak(text=domain.VERSION),
                domain.chain_id,
                domain.verifying_contract,
            ],
        )
    )


def _word(abi_type: str, value: Any) -> bytes:
    """The 32-byte encodeData word of one member. A built message's members are already checked
    and normalised (checksummed addresses, uints in range: `_Message.__post_init__`), so each is
    joined directly: eth_abi's general encoder, which checks them all again, cost most of intake's
    hashing time (bench/intake.py). A test keeps this equal to eth_abi's encoding."""
    if abi_type == "address":
        return bytes(12) + bytes.fromhex(value[2:])
    if abi_type == "bytes":
        return keccak(value)
    return value.to_bytes(32, "big")  # uintN


def struct_hash(msg: Message) -> bytes:
    """hashStruct(msg) = keccak(typeHash || encodeData(msg)), as the contracts compute it."""
    members = zip(msg.FIELDS, msg.values(), strict=True)
    return keccak(
        msg.TYPEHASH + b"".join(_word(abi_type, value) for (abi_type, _), value in members)
    )


def struct_hash_abi(msg: Message) -> bytes:
    """`struct_hash` by eth_abi's encoder (the reference the direct encoding is tested against)."""
    types, values = ["bytes32"], [msg.TYPEHASH]
    for (abi_type, _), value in zip(msg.FIELDS, msg.values(), strict=True):
        encoded_type, encoded_value = _encode_member(abi_type, value)
        types.append(encoded_type)
        values.append(encoded_value)
    return keccak(encode(types, values))


def digest(domain: Domain, msg: Message) -> bytes:
    """The 32 bytes actually signed: keccak(0x1901 || domainSeparator || structHash)."""
    return keccak(b"\x19\x01" + domain_separator(domain) + struct_hash(msg))


def typed_data(domain: Domain, msg: Message) -> dict[str, Any]:
    """The eth_signTypedData_v4 document for `msg`: JSON-safe, ready for a wallet."""
    return {
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for t, n in Domain.FIELDS],
            msg.PRIMARY_TYPE: [{"name": n, "type": t} for t, n in msg.FIELDS],
        },
        "primaryType": msg.PRIMARY_TYPE,
        "domain": domain.to_json(),
        "message": msg.to_json(),
    }


def parse_typed_data(document: Mapping[str, Any]) -> tuple[Domain, Message]:
    """Read a v4 document back, refusing any types other than copyvault's own.

    A wallet shows and signs whatever ``types`` says; a document with other types hashes
    to a digest no copyvault contract rebuilds, so it is refused here, not relayed.
    """
    try:
        cls = MESSAGE_TYPES[document["primaryType"]]
        domain = Domain.from_json(document["domain"])
        msg = cls.from_json(document["message"])
    except (KeyError, TypeError) as exc:
        raise InvalidTypedDataError(f"not a copyvault typed-data document: {exc!r}") from exc
    if document.get("types") != typed_data(domain, msg)["types"]:
        raise InvalidTypedDataError(f"types must be exactly EIP712Domain and {cls.TYPE_STRING}")
    return domain, msg


def split_signature(signature: bytes | str) -> tuple[int, int, int]:
    """(v, r, s) of a 65-byte r||s||v signature, refused where OpenZeppelin ECDSA reverts."""
    if isinstance(signature, str):
        if not _HEX_RE.fullmatch(signature) or len(signature) % 2:
            raise InvalidSignatureError("signature must be 0x-prefixed even-length hex")
        signature = bytes.fromhex(signature[2:])
    raw = bytes(signature)
    if len(raw) != 65:
        raise InvalidSignatureError(f"signature must be 65 bytes (r||s||v), got {len(raw)}")
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (27, 28):
        raise InvalidSignatureError(f"signature v must be 27 or 28, got {v}")
    if not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_HALF_N:
        raise InvalidSignatureError("signature r or s out of range (s must be in the low half)")
    return v, r, s


def sign(private_key: bytes | str, domain: Domain, msg: Message) -> bytes:
    """Sign as eth_signTypedData_v4 does, via eth-account; returns 65-byte r||s||v.

    eth-account hashes the very document a wallet would be shown; checking its hashes
    against ours first means the backend can never sign a digest the chain won't rebuild.
    """
    signable = encode_typed_data(full_message=typed_data(domain, msg))
    if (signable.header, signable.body) != (domain_separator(domain), struct_hash(msg)):
        raise RuntimeError("eth-account and copyvault disagree on the EIP-712 encoding")
    signature = bytes(Account.sign_message(signable, private_key).signature)
    split_signature(signature)  # RFC 6979 signing yields low s, v in 27/28; keep it so
    return signature


def recover(domain: Domain, msg: Message, signature: bytes | str) -> str:
    """Checksum address that signed `msg`, by the same rules as OpenZeppelin ECDSA.recover."""
    return recover_digest(digest(domain, msg), signature)


def recover_digest(message_hash: bytes, signature: bytes | str) -> str:
    """Checksum address that signed the 32-byte `message_hash` (an EIP-712 digest, or the EIP-191
    hash of a sign-in message), by the same rules as OpenZeppelin ECDSA.recover."""
    return to_checksum_address(recover_address(message_hash, signature))


def recover_address(message_hash: bytes, signature: bytes | str) -> str:
    """`recover_digest` as lowercase hex, the form the store keeps. Straight through coincurve
    (what eth-keys calls, after the checks `split_signature` has made) and without the EIP-55
    checksum: intake recovers a signer per intent, and eth-keys' key objects and the checksum's
    second Keccak were half of that cost (bench/intake.py)."""
    v, r, s = split_signature(signature)
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27])
    try:
        public = PublicKey.from_signature_and_message(compact, message_hash, hasher=None)
    except ValueError as exc:  # no curve point for r, or not a 32-byte hash
        raise InvalidSignatureError(f"signature does not recover a key: {exc}") from exc
    return "0x" + keccak(public.format(compressed=False)[1:])[12:].hex()


def main(argv: list[str]) -> int:
    """`python -m backend.chain.eip712 [--check] [FILE]`: (re)write FILE (default TYPES_FILE)
    from the types above, or with --check exit 1 if it differs from them."""
    check = "--check" in argv
    paths = [arg for arg in argv if arg != "--check"]
    target = Path(paths[0]) if paths else TYPES_FILE
    if not check:
        target.write_text(types_json())
        return 0
    if target.exists() and target.read_text() == types_json():
        return 0
    print(f"{target} differs from backend/chain/eip712.py: run python -m backend.chain.eip712")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
