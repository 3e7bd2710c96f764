"""The repository's EIP-712 vectors are the original ones, and cover every signed type."""

from __future__ import annotations

import pytest

from tests.utils.vectors import ORIGINAL_VECTORS_FILE, load_vectors


def test_vectors__original_beside_the_clone__same_vectors():
    # Compares the vectors, not the bytes: the file's "about" line is the repository's own.
    if not ORIGINAL_VECTORS_FILE.is_file():
        pytest.skip("the original vectors are not beside this clone; the copy is compared there")
    assert load_vectors() == load_vectors(ORIGINAL_VECTORS_FILE)


def test_vectors__copy_holds_every_type():
    types = {vector["primaryType"] for vector in load_vectors()}
    assert types == {"TradeIntent", "Withdrawal", "ConfigChange"}
