"""The files the web app is typed from, written by the Python side: `python -m scripts.web_schema`.

- `web/openapi.json`: the server's OpenAPI document (`app.openapi()`), from which the web build
  generates its typed API client (openapi-typescript → web/src/generated/api.d.ts);
- `web/abi.json`: the ABIs of the contracts the app calls, from the compiled artifacts
  (`ape compile` writes them), so no ABI fragment is written by hand in TypeScript.

Both are committed; `--check` (and tests/web/test_generated_files.py) fails when either differs
from what the code now produces: regenerate and commit them with the change that moved them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
OPENAPI_FILE = REPO_ROOT / "web" / "openapi.json"
ABI_FILE = REPO_ROOT / "web" / "abi.json"
# The contracts the app sends transactions to or reads; tokens use viem's standard ERC-20 ABI.
APP_CONTRACTS = ("VaultFactory", "CopyVault", "LeaderRegistry")


def openapi_document() -> dict[str, Any]:
    from backend.api.app import create_app
    from backend.config import load_settings

    return create_app(load_settings()).openapi()


def contract_abis() -> dict[str, Any]:
    from backend.chain import artifacts as compiled

    artifacts = compiled.load()
    return {name: artifacts.get(name).abi for name in APP_CONTRACTS}


def render(document: Any) -> str:
    """Stable text: sorted keys, so only real changes show in a diff."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[Path, str]:
    return {OPENAPI_FILE: render(openapi_document()), ABI_FILE: render(contract_abis())}


def stale_files() -> list[Path]:
    return [
        path
        for path, text in expected_files().items()
        if not path.exists() or path.read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path.relative_to(REPO_ROOT)} (run: python -m scripts.web_schema)")
        return 1 if stale else 0
    for path, text in expected_files().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
