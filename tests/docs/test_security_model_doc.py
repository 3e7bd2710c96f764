"""docs/security-model.md must only cite tests that exist, so that every claim stays backed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED_TEST = re.compile(r"`(test_[a-z0-9_]+)`")
CITED_FILE = re.compile(r"`(tests/[\w/]+\.py)`")


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^\s*(?:async\s+)?def (test_\w+)", path.read_text(), re.MULTILINE))
    return names


def test_security_model__every_cited_test__exists():
    doc = (ROOT / "docs" / "security-model.md").read_text()
    cited = set(CITED_TEST.findall(doc))
    assert len(cited) > 50, "the security model should cite the tests that back its claims"
    missing = sorted(cited - _defined_tests())
    assert not missing, f"docs/security-model.md cites tests that do not exist: {missing}"


def test_security_model__every_cited_file__exists():
    doc = (ROOT / "docs" / "security-model.md").read_text()
    missing = sorted(f for f in CITED_FILE.findall(doc) if not (ROOT / f).is_file())
    assert not missing, f"docs/security-model.md cites files that do not exist: {missing}"
