"""Is the code at an address the code this project builds? Runtime bytecode equality, immutables
masked.

solc leaves each immutable's place in the runtime bytecode blank (a PUSH32 of 32 zero bytes) and the
constructor writes the value there, so a deployed contract differs from its build exactly at those
places. The check walks the build's instructions, masks the 32 bytes of every PUSH32 of zeros, and
requires every other byte (code and the metadata hash at the end) to be equal. The metadata hash
covers the sources and compiler settings, so a contract built from other sources fails even when its
instructions happen to match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PUSH1: Final = 0x60
PUSH32: Final = 0x7F
WORD: Final = 32


def immutable_slots(build: bytes) -> list[int]:
    """Offsets of the blank immutable words (PUSH32 of zeros) in a build's runtime code."""
    slots = []
    i = 0
    while i < len(build):
        op = build[i]
        if PUSH1 <= op <= PUSH32:
            width = op - PUSH1 + 1
            if op == PUSH32 and build[i + 1 : i + 1 + WORD] == bytes(WORD):
                slots.append(i + 1)
            i += 1 + width
        else:
            i += 1
    return slots


def masked(code: bytes, slots: list[int]) -> bytes:
    out = bytearray(code)
    for start in slots:
        out[start : start + WORD] = bytes(WORD)
    return bytes(out)


@dataclass(frozen=True)
class CodeMismatch:
    """Why deployed code is not the build: a length difference or the first differing offset."""

    name: str
    address: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} at {self.address}: {self.reason}"


def compare(name: str, address: str, deployed: bytes, build: bytes) -> CodeMismatch | None:
    """None when `deployed` is `build` with its immutables filled in; else what differs."""
    if not deployed:
        return CodeMismatch(name, address, "no code at this address")
    if len(deployed) != len(build):
        return CodeMismatch(
            name, address, f"{len(deployed)} bytes of code, the build has {len(build)}"
        )
    slots = immutable_slots(build)
    ours, theirs = masked(build, slots), masked(deployed, slots)
    if ours == theirs:
        return None
    first = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
    return CodeMismatch(name, address, f"differs from the build at byte {first}")
