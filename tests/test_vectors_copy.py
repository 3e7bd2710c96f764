"""The repository's copy of the EIP-712 vectors is the specification's, byte for byte."""

from __future__ import annotations

import pytest

from tests.utils.vectors import SPEC_VECTORS_FILE, VECTORS_FILE, load_vectors


def test_vectors__copy_matches_the_specification():
    if not SPEC_VECTORS_FILE.is_file():
        pytest.skip(f"{SPEC_VECTORS_FILE} is not beside this clone; the copy is compared there")
    assert VECTORS_FILE.read_bytes() == SPEC_VECTORS_FILE.read_bytes()


def test_vectors__copy_holds_every_type():
    types = {vector["primaryType"] for vector in load_vectors()}
    assert types == {"TradeIntent", "Withdrawal", "ConfigChange"}
