"""Signature surgery for LeaderRegistry tests."""

from __future__ import annotations

from backend.chain.eip712 import SECP256K1_N


def split(signature: bytes) -> tuple[int, int, int]:
    return (
        int.from_bytes(signature[:32], "big"),
        int.from_bytes(signature[32:64], "big"),
        signature[64],
    )


def high_s(signature: bytes) -> bytes:
    """The malleable twin of a low-s signature: (r, n - s, v flipped) recovers the same key with
    plain ecrecover, and must be refused (EIP-2).
    """
    r, s, v = split(signature)
    return r.to_bytes(32, "big") + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
