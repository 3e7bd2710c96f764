"""backend/chain/code_check.py: runtime code equals the build with only the immutables masked."""

from __future__ import annotations

from backend.chain.artifacts import load as load_artifacts
from backend.chain.code_check import compare, immutable_slots

# PUSH1 0x80, PUSH32 <blank immutable>, PUSH2 0x0000 (zeros that are not an immutable), STOP
BUILD = bytes([0x60, 0x80, 0x7F]) + bytes(32) + bytes([0x61, 0x00, 0x00, 0x00])
FILLED = bytes([0x60, 0x80, 0x7F]) + b"\x11" * 32 + bytes([0x61, 0x00, 0x00, 0x00])


def test_compare__immutable_filled_in__equal():
    assert immutable_slots(BUILD) == [3]
    assert compare("C", "0xc", FILLED, BUILD) is None


def test_compare__a_byte_outside_the_immutables__named_by_offset():
    changed = FILLED[:36] + b"\x01" + FILLED[37:]
    mismatch = compare("C", "0xc", changed, BUILD)
    assert mismatch is not None and str(mismatch) == "C at 0xc: differs from the build at byte 36"


def test_compare__no_code_or_other_length__named():
    assert compare("C", "0xc", b"", BUILD).reason == "no code at this address"
    assert "38 bytes of code, the build has 39" in compare("C", "0xc", FILLED[:-1], BUILD).reason


def test_immutable_slots__push_data_is_skipped_not_read_as_opcodes():
    # PUSH2 0x7f00: the 0x7f inside push data is not a PUSH32.
    assert immutable_slots(bytes([0x61, 0x7F, 0x00]) + bytes(40)) == []


def test_immutable_slots__the_built_contracts_with_immutables_have_them():
    """The factory (registry, router, implementation) and the venue (factory, pair hash) leave
    their immutables blank in the build; the oracle has none, so all of its code is compared."""
    artifacts = load_artifacts()
    assert len(immutable_slots(artifacts.runtime_code("VaultFactory"))) >= 3
    assert len(immutable_slots(artifacts.runtime_code("UniswapV2Venue"))) >= 2
    assert immutable_slots(artifacts.runtime_code("PriceOracle")) == []
