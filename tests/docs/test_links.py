"""Every relative link in README.md and docs/*.md leads to a file of this repository (and to a
heading of it, for `file.md#anchor`), and none leads outside the repository.

A newcomer follows the README top to bottom: a dead link there is a dead end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and [text](target "title"); images too. Code spans and blocks are dropped first.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _text_outside_code(path: Path) -> str:
    return CODE_SPAN.sub("", FENCE.sub("", path.read_text()))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(document: Path) -> list[str]:
    return [t for t in LINK.findall(_text_outside_code(document)) if not EXTERNAL.match(t)]


def _cases():
    for document in DOCUMENTS:
        for target in relative_links(document):
            yield pytest.param(document, target, id=f"{document.relative_to(ROOT)}->{target}")


@pytest.mark.parametrize(("document", "target"), list(_cases()))
def test_link__resolves_inside_the_repository(document, target):
    path_part, _, anchor = target.partition("#")
    resolved = (document.parent / path_part).resolve() if path_part else document
    assert resolved.is_relative_to(ROOT), f"{target} leads outside the repository"
    relative = resolved.relative_to(ROOT).as_posix()
    assert resolved.exists(), f"{document.relative_to(ROOT)} links to missing {target}"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), f"no heading #{anchor} in {relative}"


def test_links__found_at_all():
    """The pattern matches this repository's links (a broken pattern would check nothing)."""
    targets = relative_links(ROOT / "README.md")
    assert "docs/protocol.md" in targets
    assert len(targets) >= 10


def test_slug__github_rules():
    assert slug("Rate limits, slow clients, CORS, security headers and TLS") == (
        "rate-limits-slow-clients-cors-security-headers-and-tls"
    )
    assert slug("Install → compile → test") == "install--compile--test"
