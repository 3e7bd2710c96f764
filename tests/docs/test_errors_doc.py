"""docs/errors.md must name every custom error in the production contracts' ABIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [
    "CopyVault",
    "CopyRouter",
    "LeaderRegistry",
    "PriceOracle",
    "VaultFactory",
    "UniswapV2Venue",
    "AuditAnchor",
]


@pytest.fixture(scope="module")
def errors_doc() -> str:
    return (ROOT / "docs" / "errors.md").read_text()


@pytest.mark.parametrize("contract_name", PRODUCTION)
def test_errors_doc__every_abi_error__is_documented(project, contract_name, errors_doc):
    abi = getattr(project, contract_name).contract_type.abi
    names = {entry.name for entry in abi if entry.type == "error"}
    missing = sorted(name for name in names if f"`{name}(" not in errors_doc)
    assert not missing, f"docs/errors.md lacks {missing} of {contract_name}"
    assert names, f"{contract_name} has no custom errors? ({json.dumps([e.type for e in abi][:5])})"
