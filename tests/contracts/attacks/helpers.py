"""Helpers of the attack suite: strict reverts, "nothing moved" snapshots, signature tampering.

Every attack asserts two things: the exact custom error (with its arguments where they matter) and
that no balance, nonce, flag or executed-intent bit changed. `blocked(...)` does both in one `with`
block.

Why not plain `ape.reverts(contract.Error)`: when an error bubbles up from another contract (the
registry's `UnauthorizedSigner`, the oracle's `StaleOraclePrice`, a vault error raised during
`factory.createVault`), Ape cannot decode it and raises a bare `ContractLogicError`, which
`ape.reverts(SomeError)` then accepts without checking anything. `reverts(...)` matches the
revert data's selector and arguments itself, whether or not Ape decoded them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ape.exceptions import ContractLogicError
from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from backend.chain import eip712

WETH = 10**18
USDC = 10**6

# ----------------------------------------------------------------------------- strict reverts


def _address_of(value: Any) -> Any:
    return getattr(value, "address", value)


def _normalise(abi_type: str, value: Any) -> Any:
    value = _address_of(value)
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes | bytearray):
        return HexBytes(value)
    return value


def error_selector(abi) -> bytes:
    """The 4-byte selector of an error ABI (its `signature` carries parameter names)."""
    return keccak(text=f"{abi.name}({','.join(i.canonical_type for i in abi.inputs)})")[:4]


# Revert data Ape could not decode reaches us as "0x<hex>" (transactions), or as "custom error
# 0x<selector>: <args>" (eth_call), <args> being hex or, when the bytes happen to be valid UTF-8,
# that text.
_HEX = re.compile(r"0x([0-9a-fA-F]*)")
_CUSTOM_ERROR = re.compile(r"custom error 0x([0-9a-fA-F]{8}):? ?(.*)", re.DOTALL)


def _raw_revert_data(message: str) -> bytes:
    if match := _HEX.fullmatch(message.strip()):
        return bytes.fromhex(match.group(1))
    if match := _CUSTOM_ERROR.fullmatch(message):
        selector, args = bytes.fromhex(match.group(1)), match.group(2)
        is_hex = re.fullmatch(r"(?:0x)?((?:[0-9a-fA-F]{2})*)", args)
        return selector + (bytes.fromhex(is_hex.group(1)) if is_hex else args.encode("utf-8"))
    return message.encode("utf-8")


def decode_revert(exc: Exception, error) -> dict[str, Any]:
    """The arguments of `error` carried by the revert `exc` (AssertionError if another error)."""
    abi = error.abi
    types = [i.canonical_type for i in abi.inputs]
    names = [i.name for i in abi.inputs]
    wrong = f"expected {abi.signature}, got {exc!r}"
    decoded_abi = getattr(exc, "abi", None)
    if decoded_abi is not None:  # Ape decoded it (possibly with another contract's error class)
        assert error_selector(decoded_abi) == error_selector(abi), wrong
        values = [exc.inputs[name] for name in names]
    else:  # raw revert data
        raw = _raw_revert_data(str(exc.revert_message or ""))
        assert raw[:4] == error_selector(abi), wrong
        values = list(decode(types, raw[4:]))
    return {n: _normalise(t, v) for n, t, v in zip(names, types, values, strict=True)}


@contextmanager
def reverts(error, **expected: Any) -> Iterator[None]:
    """Strict `ape.reverts(error, **inputs)`: exactly `error`, with these (existing) inputs."""
    try:
        yield
    except ContractLogicError as exc:
        actual = decode_revert(exc, error)
    else:
        raise AssertionError(f"did not revert; expected {error.abi.signature}")
    types = {i.name: i.canonical_type for i in error.abi.inputs}
    for name, value in expected.items():
        assert name in actual, f"{error.abi.signature} has no input {name!r}"
        assert actual[name] == _normalise(types[name], value), (
            f"{error.abi.name}.{name}: expected {value!r}, got {actual[name]!r}"
        )


# ----------------------------------------------------------------------------- nothing moved


def vault_nonce(vault) -> int:
    """The vault's operation nonce. `vault.nonce()` does not work in Ape: every address object has a
    `nonce` property (its transaction count) that shadows the contract's view."""
    return vault.call_view_method("nonce")


class Watch:
    """What an attack must leave untouched: every token balance of the vaults and the extra
    holders, and each vault's nonce, pause/copy flags, owners, threshold, leader, policy, oracle,
    trades today and the executed flags of the given intents; plus any named `checks` (zero-argument
    views such as `factory.vaultCount`)."""

    def __init__(
        self,
        vaults,
        tokens,
        holders: Iterable = (),
        intents: Iterable = (),
        checks: dict[str, Callable[[], Any]] | None = None,
    ):
        self.vaults = list(vaults)
        self.tokens = list(tokens)
        self.holders = [*self.vaults, *holders]
        self.intents = list(intents)
        self.checks = dict(checks or {})

    def also(
        self, *, vaults: Iterable = (), tokens: Iterable = (), holders: Iterable = (), intents=()
    ):
        """This watch plus more vaults, tokens, holders or intents."""
        return Watch(
            [*self.vaults, *vaults],
            [*self.tokens, *tokens],
            [*self.holders[len(self.vaults) :], *holders],
            [*self.intents, *intents],
            self.checks,
        )

    def read(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            f"{t.address}@{_address_of(h)}": t.balanceOf(h)
            for t in self.tokens
            for h in self.holders
        }
        for v in self.vaults:
            state[f"{v.address}.config"] = (
                vault_nonce(v),
                v.paused(),
                v.copying(),
                tuple(v.getOwners()),
                v.threshold(),
                v.leader(),
                tuple(v.policy()),
                v.oracle(),
                v.tradesToday(),
            )
            for intent in self.intents:
                state[f"{v.address}.executed{intent[6]}"] = v.isIntentExecuted(intent[0], intent[6])
        state.update({name: view() for name, view in self.checks.items()})
        return state


@contextmanager
def blocked(error, watch: Watch, **expected: Any) -> Iterator[None]:
    """The body reverts with exactly `error` (and `expected` inputs), and nothing watched moved."""
    before = watch.read()
    with reverts(error, **expected):
        yield
    after = watch.read()
    moved = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not moved, f"state moved despite the revert: {moved}"


# ----------------------------------------------------------------------------- signatures


def malleate(signature: bytes) -> bytes:
    """The other valid ECDSA signature of the same digest: s' = n - s (high s), v flipped."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def compact(signature: bytes) -> bytes:
    """The EIP-2098 64-byte form of a signature (r, yParity·2^255 | s): same key, other encoding."""
    s = int.from_bytes(signature[32:64], "big") | ((signature[64] - 27) << 255)
    return signature[:32] + s.to_bytes(32, "big")


def tamper_intent(intent: tuple, **changes: Any) -> tuple:
    """The intent ABI tuple with some fields replaced (by TradeIntent field name)."""
    fields = [
        "leader",
        "venue",
        "token_in",
        "token_out",
        "fraction_bps",
        "min_price",
        "nonce",
        "deadline",
    ]
    values = dict(zip(fields, intent, strict=True)) | changes
    return tuple(values[f] for f in fields)


# ----------------------------------------------------------------------------- configuration calls


CONFIG_FUNCTIONS = [
    "setLeader",
    "setPolicy",
    "setAssetAllowed",
    "setVenueAllowed",
    "setOracle",
    "addOwner",
    "removeOwner",
    "setThreshold",
    "unpause",
    "startCopying",
    "setGuardianAccepted",
]


def call_directly(vault, data: bytes, sender):
    """Send raw calldata to the vault (a configuration function called from outside)."""
    return sender.transfer(vault, 0, data=data)
