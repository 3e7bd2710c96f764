"""The EIP-712 test vectors of docs/protocol.md §1 (EIP-712 domains and signed types).

`tests/vectors/eip712.json` is the repository's own copy, so a clone tests on its own. The
vectors were first published, computed two independent ways, outside this repository; where that
original sits beside the clone (as on the development machines), `tests/test_vectors_copy.py`
checks that the copy still holds the same vectors. Nothing else reads the original."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = REPO_ROOT / "tests" / "vectors" / "eip712.json"
# Where the original was published on the development machines; absent elsewhere, and not needed.
ORIGINAL_VECTORS_FILE = REPO_ROOT.parent / "shared" / "vectors" / "eip712.json"


def load_vectors(path: Path = VECTORS_FILE) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["vectors"]
