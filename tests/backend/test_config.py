"""Settings: one object from COPYVAULT_* variables; placeholders and bad URLs refused with the
variable to fix named."""

from __future__ import annotations

import pytest

from backend.config import is_placeholder, load_settings
from backend.exceptions import ConfigError


def test_settings__read_from_prefixed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COPYVAULT_CONFIRMATIONS", "7")
    monkeypatch.setenv("COPYVAULT_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.confirmations == 7
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'copyvault.db'}"


def test_settings__postgres_urls_use_psycopg():
    settings = load_settings(database_url="postgresql://u:s3cr3t-Value@db:5432/copyvault")
    assert settings.database_url == "postgresql+psycopg://u:s3cr3t-Value@db:5432/copyvault"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("database_url", "postgresql+psycopg://user:changeme@db/x", "placeholder password"),
        ("database_url", "mysql://user:pw@db/x", "not supported"),
        ("rpc_url", "https://mainnet.example.io/v3/YOUR_API_KEY", "placeholder path segment"),
        ("rpc_url", "https://node.example.io/?apikey=<your key>", "placeholder query"),
        ("rpc_url", "ws://127.0.0.1:8545", "http:// or https://"),
        ("deployer_key", "changeme", "placeholder"),
        ("deployer_key", "   ", "empty"),
        ("confirmations", -1, "greater than or equal to 0"),
    ],
)
def test_settings__bad_values_name_the_variable(field, value, message):
    with pytest.raises(ConfigError) as error:
        load_settings(**{field: value})
    assert f"COPYVAULT_{field.upper()}" in str(error.value)
    assert message in str(error.value)


def test_settings__secrets_are_not_shown():
    key = "0x" + "5a" * 32
    settings = load_settings(deployer_key=key)
    assert key not in repr(settings)
    assert settings.deployer_key.get_secret_value() == key


def test_settings__require_names_the_missing_variable():
    with pytest.raises(ConfigError, match="COPYVAULT_DEPLOYER_KEY is not set"):
        load_settings().require("deployer_key")


@pytest.mark.parametrize("value", ["changeme", "Change-Me", "<secret>", "${KEY}", "xxxx", "***"])
def test_placeholders(value):
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["0x" + "12" * 32, "hunter2-but-long-and-real", "s3cr3t"])
def test_real_values_are_not_placeholders(value):
    assert not is_placeholder(value)


# ----------------------------------------------------------------------------- .env files


@pytest.fixture
def env_file(monkeypatch, tmp_path):
    """A dotenv file the settings read, in place of the suite's "no .env" (tests/conftest.py)."""
    path = tmp_path / ".env"
    monkeypatch.setenv("COPYVAULT_ENV_FILE", str(path))
    monkeypatch.delenv("COPYVAULT_CONFIRMATIONS", raising=False)
    monkeypatch.delenv("COPYVAULT_RPC_URL", raising=False)
    return path


def test_env_file__settings_read_from_it(env_file):
    env_file.write_text("COPYVAULT_CONFIRMATIONS=9\nCOPYVAULT_RPC_URL=http://10.0.0.7:8545\n")
    settings = load_settings()
    assert settings.confirmations == 9
    assert settings.rpc_url == "http://10.0.0.7:8545"


def test_env_file__environment_wins(env_file, monkeypatch):
    env_file.write_text("COPYVAULT_CONFIRMATIONS=9\n")
    monkeypatch.setenv("COPYVAULT_CONFIRMATIONS", "4")
    assert load_settings().confirmations == 4


def test_env_file__other_tools_lines_are_left_alone(env_file):
    env_file.write_text("PGPASSWORD=hunter2-for-psql\nCOPYVAULT_CONFIRMATIONS=3\n")
    assert load_settings().confirmations == 3


def test_env_file__misspelt_setting__refused_by_name(env_file):
    env_file.write_text("COPYVAULT_CONFIRMATOINS=3\n")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "COPYVAULT_CONFIRMATOINS: is not a copyvault setting" in str(error.value)


def test_env_file__bad_value__names_the_variable(env_file):
    env_file.write_text("COPYVAULT_RPC_URL=ws://127.0.0.1:8545\n")
    with pytest.raises(ConfigError, match="COPYVAULT_RPC_URL: must be an http"):
        load_settings()


def test_env_file__read_from_the_working_directory_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("COPYVAULT_ENV_FILE")
    monkeypatch.delenv("COPYVAULT_CONFIRMATIONS", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("COPYVAULT_CONFIRMATIONS=11\n")
    assert load_settings().confirmations == 11


def test_env_file__empty_variable__no_file_read(monkeypatch, tmp_path):
    monkeypatch.setenv("COPYVAULT_ENV_FILE", "")
    monkeypatch.delenv("COPYVAULT_CONFIRMATIONS", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("COPYVAULT_CONFIRMATIONS=11\n")
    assert load_settings().confirmations == 2
