"""Identity settings: sign-in origins must be origins; bounds of keys and sessions."""

from __future__ import annotations

import pytest

from backend.config import load_settings
from backend.exceptions import ConfigError


@pytest.mark.parametrize(
    "origins",
    [
        ["app.example.com"],
        ["https://app.example.com/sign-in"],
        ["ftp://app.example.com"],
        ["https://"],
    ],
)
def test_siwe_uri_origins__not_an_origin__config_error_naming_the_variable(origins):
    with pytest.raises(ConfigError, match="COPYVAULT_SIWE_URI_ORIGINS"):
        load_settings(siwe_uri_origins=origins)


def test_siwe_uri_origins__from_environment_json__trailing_slash_dropped(monkeypatch):
    monkeypatch.setenv(
        "COPYVAULT_SIWE_URI_ORIGINS", '["https://app.example.com/", "http://localhost:3000"]'
    )
    settings = load_settings()
    assert settings.siwe_uri_origins == ["https://app.example.com", "http://localhost:3000"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("session_seconds", 10), ("api_key_max_days", 0), ("siwe_nonce_seconds", 100_000)],
)
def test_identity_bounds__out_of_range__config_error(field, value):
    with pytest.raises(ConfigError, match=f"COPYVAULT_{field.upper()}"):
        load_settings(**{field: value})
