"""One licence everywhere: LICENSE, package.json, pyproject.toml and the contracts' SPDX lines."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_license__manifests_and_file_agree():
    npm = json.loads((ROOT / "package.json").read_text())["license"]
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert npm == python["license"] == "MIT"
    assert python["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_license__every_contract_says_mit():
    sources = sorted((ROOT / "contracts").rglob("*.sol"))
    assert sources
    for source in sources:
        first = source.read_text().splitlines()[0]
        assert first == "// SPDX-License-Identifier: MIT", source.relative_to(ROOT)
