"""How the platform stores its bearer secrets: wallet sessions (`cvs_`), leader API keys (`cvk_`),
operator sessions (`cvo_`), enrolment tokens and device ids are 256-bit (or at least 192-bit)
random values from `secrets`, kept only as their SHA-256.

A password hash (argon2, bcrypt) exists to make guessing a low-entropy human secret slow; these
are random values with no guess list, and one SHA-256 is already 2^256 work to invert: a slow hash
would add cost to every request and no security. A stolen table of hashes authenticates nothing.
"""

from __future__ import annotations

import hashlib


def sha256_hex(secret: str) -> str:
    """The stored form of a random bearer secret (64 hex digits)."""
    return hashlib.sha256(secret.encode()).hexdigest()
