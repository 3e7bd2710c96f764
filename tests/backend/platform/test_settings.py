"""The platform-limits settings refuse what would silently weaken them, naming the variable."""

from __future__ import annotations

import pytest

from backend.config import load_settings
from backend.exceptions import ConfigError


@pytest.mark.parametrize(
    ("overrides", "variable", "hint"),
    [
        ({"rate_limit_per_address": "lots"}, "COPYVAULT_RATE_LIMIT_PER_ADDRESS", "600/minute"),
        ({"rate_limit_per_leader": ""}, "COPYVAULT_RATE_LIMIT_PER_LEADER", "not a rate"),
        ({"trusted_proxies": ["proxy.local"]}, "COPYVAULT_TRUSTED_PROXIES", "10.0.0.0/24"),
        ({"api_cors_origins": ["*"]}, "COPYVAULT_API_CORS_ORIGINS", "not accepted"),
        (
            {"api_cors_origins": ["https://app.example.org/path"]},
            "COPYVAULT_API_CORS_ORIGINS",
            "no path",
        ),
        ({"tls_certfile": "cert.pem"}, "COPYVAULT_SETTINGS", "COPYVAULT_TLS_KEYFILE"),
        ({"api_head_timeout": 0}, "COPYVAULT_API_HEAD_TIMEOUT", "greater than 0"),
    ],
)
def test_settings__weakening_value__config_error_naming_the_variable(overrides, variable, hint):
    with pytest.raises(ConfigError) as refused:
        load_settings(**overrides)
    assert variable in str(refused.value) and hint in str(refused.value)


def test_settings__defaults__limits_on_no_cors_no_trusted_proxies_no_tls():
    settings = load_settings()
    assert settings.rate_limit_enabled is True
    assert settings.api_cors_origins == [] and settings.trusted_proxies == []
    assert settings.tls_certfile is None and settings.tls_keyfile is None


def test_settings__origins_and_proxies_normalised():
    settings = load_settings(
        api_cors_origins=["https://app.example.org/"], trusted_proxies=[" 10.0.0.0/8 "]
    )
    assert settings.api_cors_origins == ["https://app.example.org"]
    assert settings.trusted_proxies == ["10.0.0.0/8"]
