"""docs/api.md must list every error code the API's error classes carry, so a client can look up
any `error.code` it receives."""

from __future__ import annotations

from pathlib import Path

import backend.api.errors as errors

ROOT = Path(__file__).resolve().parents[2]


def _error_classes(base: type) -> set[type]:
    found: set[type] = set()
    for sub in base.__subclasses__():
        found |= {sub} | _error_classes(sub)
    return found


def test_api_doc__every_error_class_code__is_documented():
    doc = (ROOT / "docs" / "api.md").read_text()
    codes = {cls.code for cls in _error_classes(errors.ApiError)} - {errors.ApiError.code}
    assert len(codes) > 40, "the API should have its error classes"
    missing = sorted(code for code in codes if f"`{code}`" not in doc)
    assert not missing, f"docs/api.md does not list these error codes: {missing}"
