"""Strict revert checks: `reverts(contract.Error, **inputs)`, `ape.reverts` made strict, and the
pieces the folder-specific helpers build on (`selector`, revert-data extraction and decoding).

Why not `ape.reverts` alone: with ape-foundry, a revert raised by an `eth_call` (a view such as
`registry.verifyIntent`) or bubbled up from another contract (the registry's error through
`router.mirrorBatch`, the oracle's through a vault) reaches the test as a plain
`ContractLogicError` whose message is the raw revert data. `ape.reverts(ErrorClass)` then checks
nothing: any revert, with any error and any arguments, passes. It also skips silently any expected
input whose name is misspelt. These helpers compare the revert data's 4-byte selector with the
expected error's, decode the arguments with that error's ABI when Ape did not, and require every
expected input to exist and to match (addresses compared checksummed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ape
from ape.exceptions import CustomError
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes


def selector(error) -> bytes:
    """The 4-byte selector of an Ape error class (`contract.ErrorName`) or an ErrorABI."""
    abi = getattr(error, "abi", error)
    return function_signature_to_4byte_selector(abi.selector)  # ethpm_types: canonical signature


def normalise(abi_type: str, value: Any) -> Any:
    """A value comparable across Ape, eth_abi and test code: addresses (also accounts and
    contracts) checksummed, bytes-likes (also hex strings) as bytes."""
    if abi_type == "address":
        return to_checksum_address(str(getattr(value, "address", value)))
    if re.fullmatch(r"bytes\d*", abi_type) and isinstance(value, str | bytes | bytearray):
        return bytes(HexBytes(value))
    return value


# Revert data Ape could not decode reaches us as "0x<hex>" (transactions), or as "custom error
# 0x<selector>: <args>" (eth_call), <args> being hex or, when the bytes happen to be valid UTF-8,
# that text; data that is valid UTF-8 as a whole may come as that text alone.
_HEX = re.compile(r"0x((?:[0-9a-fA-F]{2})*)")
_CUSTOM_ERROR = re.compile(r"custom error 0x([0-9a-fA-F]{8}):? ?(.*)", re.DOTALL)
_HEX_ARGS = re.compile(r"(?:0x)?((?:[0-9a-fA-F]{2})*)")


def raw_revert_data(message: str) -> bytes:
    """The revert data behind the message of an undecoded `ContractLogicError`."""
    if match := _HEX.fullmatch(message.strip()):
        return bytes.fromhex(match.group(1))
    if match := _CUSTOM_ERROR.fullmatch(message.lstrip()):
        error_selector, args = bytes.fromhex(match.group(1)), match.group(2)
        is_hex = _HEX_ARGS.fullmatch(args)
        return error_selector + (bytes.fromhex(is_hex.group(1)) if is_hex else args.encode())
    raw = message.encode("utf-8")
    if len(raw) < 4 or (len(raw) - 4) % 32:
        raise AssertionError(f"revert carries no custom error: {message!r}")
    return raw


def decode_revert_data(data: bytes, error) -> dict[str, Any]:
    """The (normalised) arguments of `error` in the revert data `data`; AssertionError if `data`
    is another error's."""
    abi = error.abi
    assert data[:4] == selector(abi), (
        f"expected {abi.selector} (0x{selector(abi).hex()}), got revert data 0x{data.hex()}"
    )
    types = [i.canonical_type for i in abi.inputs]
    values = decode(types, data[4:]) if types else ()
    return {i.name: normalise(t, v) for i, t, v in zip(abi.inputs, types, values, strict=True)}


def decode_revert(exc: Exception, error) -> dict[str, Any]:
    """The (normalised) arguments of `error` carried by the revert `exc`, whether or not Ape
    decoded it (possibly with another contract's error class); AssertionError if another error."""
    if isinstance(exc, CustomError):
        abi = error.abi
        assert selector(exc.abi) == selector(abi), f"expected {abi.selector}, got {exc!r}"
        return {i.name: normalise(i.canonical_type, exc.inputs[i.name]) for i in abi.inputs}
    return decode_revert_data(raw_revert_data(str(getattr(exc, "revert_message", "") or "")), error)


def assert_inputs(error, actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every `expected` input exists in the decoded `actual` ones and has the same value."""
    abi = error.abi
    unknown = set(expected) - set(actual)
    assert not unknown, f"{abi.selector} has no input(s) {sorted(unknown)}"
    types = {i.name: i.canonical_type for i in abi.inputs}
    wrong = {
        name: (actual[name], value)
        for name, value in expected.items()
        if actual[name] != normalise(types[name], value)
    }
    assert not wrong, f"{abi.name} inputs differ (actual, expected): {wrong}"


def check_revert_data(data: bytes, error, **expected: Any) -> dict[str, Any]:
    """Assert the revert data `data` is exactly `error` with the `expected` inputs; returns all
    the decoded inputs."""
    actual = decode_revert_data(data, error)
    assert_inputs(error, actual, expected)
    return actual


@contextmanager
def reverts(error, **expected: Any) -> Iterator[Any]:
    """Expect the body to revert with exactly `error` (an Ape error class such as `registry.Foo`),
    and with each named input equal to the given value (addresses compared by checksum)."""
    with ape.reverts() as info:
        yield info
    assert_inputs(error, decode_revert(info.value, error), expected)
