"""`reverts`: `ape.reverts(contract.Error, **inputs)` made strict, for the registry, factory,
oracle, venue and router tests.

Why not `ape.reverts` alone: with ape-foundry, a revert raised by an `eth_call` (a view such as
`registry.verifyIntent`) or bubbled up from another contract (the registry's error through
`router.mirrorBatch`) reaches the test as a plain `ContractLogicError` whose message is the raw
revert data. `ape.reverts(ErrorClass)` then checks nothing: any revert, with any error and any
arguments, passes. It also skips silently any expected input whose name is misspelt. This helper
compares the revert data's 4-byte selector with the expected error's, decodes the arguments with
that error's ABI when Ape did not, and requires every expected input to exist and to match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ape
from ape.exceptions import ContractLogicError, CustomError
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

# How anvil reports undecoded custom errors: "custom error 0x<selector>: <hex arguments>" or hex.
_RAW_REVERT_RE = re.compile(r"(?:custom error )?0x([0-9a-fA-F]{8}):?\s*([0-9a-fA-F]*)")


def selector(error) -> bytes:
    """The 4-byte selector of an Ape error class (`contract.ErrorName`) or an ErrorABI."""
    abi = getattr(error, "abi", error)
    return function_signature_to_4byte_selector(abi.selector)


def _normalise(value: Any) -> Any:
    """Compare addresses, accounts and contracts by checksum address; bytes-likes as bytes."""
    if hasattr(value, "address"):
        return to_checksum_address(str(value.address))
    if isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        return to_checksum_address(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return value


def _raw_revert_data(message: str) -> bytes:
    """The revert data behind anvil's message: it shows undecodable data as "custom error
    0x<selector>: <hex>" (or raw hex), and data that happens to be valid UTF-8 as that text.
    """
    if match := _RAW_REVERT_RE.fullmatch(message.strip()):
        return bytes.fromhex(match.group(1) + match.group(2))
    raw = message.encode("utf-8")
    if len(raw) < 4 or (len(raw) - 4) % 32:
        raise AssertionError(f"revert carries no custom error: {message!r}")
    return raw


def revert_of(exc: ContractLogicError, expected_abi) -> tuple[bytes, dict[str, Any] | None]:
    """(selector, decoded inputs) of a revert; inputs decoded with `expected_abi` when it
    matches.
    """
    names = [i.name for i in expected_abi.inputs]
    if isinstance(exc, CustomError):
        return selector(exc.abi), dict(exc.inputs)
    raw = _raw_revert_data(str(exc.revert_message or ""))
    raw_selector, data = raw[:4], raw[4:]
    if raw_selector != selector(expected_abi):
        return raw_selector, None
    types = [i.canonical_type for i in expected_abi.inputs]
    return raw_selector, dict(zip(names, decode(types, data), strict=True))


@contextmanager
def reverts(error, **expected_inputs: Any) -> Iterator[Any]:
    """Expect the body to revert with exactly `error` (an Ape error class such as `registry.Foo`),
    and with each named input equal to the given value (addresses compared by checksum).
    """
    abi = error.abi
    with ape.reverts() as info:
        yield info
    actual_selector, actual_inputs = revert_of(info.value, abi)
    if actual_selector != selector(abi):
        raise AssertionError(
            f"expected {abi.selector} (0x{selector(abi).hex()}) but the revert was "
            f"0x{actual_selector.hex()}: {info.value.revert_message!r}"
        )
    assert actual_inputs is not None
    unknown = set(expected_inputs) - set(actual_inputs)
    if unknown:
        raise AssertionError(f"{abi.name} has no input(s) {sorted(unknown)}")
    wrong = {
        name: (actual_inputs[name], value)
        for name, value in expected_inputs.items()
        if _normalise(actual_inputs[name]) != _normalise(value)
    }
    if wrong:
        raise AssertionError(f"{abi.name} inputs differ (actual, expected): {wrong}")
