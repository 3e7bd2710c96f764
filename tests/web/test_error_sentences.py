"""Every error code the API can answer has a sentence a person understands in the web app's one
table (web/src/error-sentences.json, which web/src/errors.ts imports)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import backend.api.errors as errors

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = json.loads((ROOT / "web" / "src" / "error-sentences.json").read_text())


def _error_classes(base: type) -> set[type]:
    found: set[type] = set()
    for sub in base.__subclasses__():
        found |= {sub} | _error_classes(sub)
    return found


def _documented_codes() -> set[str]:
    """The codes of docs/api.md's error tables (rows that start with an HTTP status): they include
    the codes one class carries per instance (readiness reasons, sign-in checks)."""
    rows = re.findall(r"^\| (\d{3}) \| ([^|]+)\|", (ROOT / "docs" / "api.md").read_text(), re.M)
    return {code for _status, cell in rows for code in re.findall(r"`([a-z0-9_]+)`", cell)}


def test_every_api_error_code__has_a_sentence_in_the_web_app():
    codes = {cls.code for cls in _error_classes(errors.ApiError)} | _documented_codes()
    codes |= set(errors.VALIDATION_CODES) | {"invalid_request", "invalid_json", "internal_error"}
    assert len(codes) > 60, "the API's codes should have been found"
    missing = sorted(codes - set(SENTENCES))
    assert not missing, f"web/src/error-sentences.json has no sentence for: {missing}"


def test_error_sentences__are_sentences():
    for code, sentence in SENTENCES.items():
        assert sentence[:1].isupper() and sentence.endswith("."), (code, sentence)
        assert code not in sentence, f"{code}: say what happened, not the code"
