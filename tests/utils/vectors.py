"""The EIP-712 test vectors (SPEC §1.2), kept in the repository so a clone tests on its own.

`tests/vectors/eip712.json` is a copy of the specification's `shared/vectors/eip712.json`;
`tests/test_vectors_copy.py` fails when the two differ (where the specification sits beside the
repository, as on the development machines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = REPO_ROOT / "tests" / "vectors" / "eip712.json"
SPEC_VECTORS_FILE = REPO_ROOT.parent / "shared" / "vectors" / "eip712.json"


def load_vectors() -> list[dict[str, Any]]:
    return json.loads(VECTORS_FILE.read_text())["vectors"]
