"""docs/protocol.md, the project's own specification of the contracts: its EIP-712 type strings
and hashes are the ones the vectors pin, every section cited anywhere in the repository exists,
and nothing in the repository cites a document outside it."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from eth_utils import keccak

from tests.utils.vectors import load_vectors

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "docs" / "protocol.md"
SIGNED_TYPES = ("Withdrawal", "ConfigChange", "TradeIntent")
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", re.MULTILINE)
CITATION = re.compile(r"docs/protocol\.md ((?:§\d+(?:\.\d+)?(?:, )?)+)")
SECTION = re.compile(r"§(\d+(?:\.\d+)?)")
SCANNED_SUFFIXES = {".py", ".sol", ".md", ".json", ".yaml", ".yml", ".toml", ".sh", ".ts", ".js"}
NOT_SCANNED = {".git", ".venv", "node_modules", ".build", "reports", "data", ".cache"}
# How a citation of a document outside the repository looks (built in parts so that this file
# does not match itself): the product specification's sections, its folder beside the clone.
OUTSIDE = re.compile("|".join(("SPEC" + r" §", r"\.\./" + "shared/", "shared/" + "vectors")))


def _doc() -> str:
    return PROTOCOL.read_text()


def _repository_files():
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in NOT_SCANNED]
        for name in files:
            path = Path(folder) / name
            if path.suffix in SCANNED_SUFFIXES:
                yield path.relative_to(ROOT), path


def test_protocol_doc__type_strings__exactly_those_of_the_vectors():
    doc = _doc()
    vectors = {vector["primaryType"]: vector for vector in load_vectors()}
    for name in SIGNED_TYPES:
        stated = re.findall(rf"^{name}\([^)]*\)$", doc, re.MULTILINE)
        assert stated == [vectors[name]["typeString"]], name


def test_protocol_doc__type_hashes__keccak_of_the_type_strings():
    doc = _doc()
    for vector in load_vectors():
        type_hash = "0x" + keccak(text=vector["typeString"]).hex()
        assert type_hash == vector["typeHash"]
        assert f"| `{vector['primaryType']}` | `{type_hash}` |" in doc


def test_protocol_doc__sections__numbered_as_cited():
    sections = set(HEADING.findall(_doc()))
    assert {"1", "1.1", "1.2", "1.3", "1.4", "1.5", "4"} <= sections


def test_protocol_doc__every_citation_in_the_repository__names_an_existing_section():
    sections = set(HEADING.findall(_doc()))
    cited: dict[str, set[str]] = {}
    for relative, path in _repository_files():
        text = path.read_text(errors="replace")
        found = {s for run in CITATION.findall(text) for s in SECTION.findall(run)}
        if relative == Path("docs/protocol.md"):
            found |= set(SECTION.findall(text))
        for section in found:
            cited.setdefault(section, set()).add(str(relative))
    assert len(cited) >= 5, "the contracts, tests and docs cite docs/protocol.md by section"
    missing = {s: sorted(where) for s, where in cited.items() if s not in sections}
    assert not missing, f"citations of sections docs/protocol.md does not have: {missing}"


def test_repository__no_file__cites_a_document_outside_it():
    found = Counter()
    for relative, path in _repository_files():
        count = len(OUTSIDE.findall(path.read_text(errors="replace")))
        if count:
            found[str(relative)] = count
    assert not found, (
        "files cite a document outside the repository (cite docs/protocol.md instead): "
        f"{dict(found)}"
    )
