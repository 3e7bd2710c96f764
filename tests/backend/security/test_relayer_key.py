"""The relayer's sender key: encrypted at rest (0600), opened only with the configured secret or
keystore password, and never shown by the signer that holds it."""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import stat
import subprocess
import sys

import pytest
from eth_account import Account

from backend.config import load_settings
from backend.exceptions import ConfigError
from backend.security.encryption import generate_secrets_key
from backend.security.relayer_key import load_relayer_signer, write_encrypted_key
from tests.backend.cli.test_cli import REPO_ROOT

PRIVATE_KEY = "0x" + "4c" * 32
ADDRESS = Account.from_key(PRIVATE_KEY).address
TX = {
    "type": 2,
    "chainId": 31337,
    "nonce": 0,
    "to": "0x" + "11" * 20,
    "value": 0,
    "data": "0x",
    "gas": 21_000,
    "maxFeePerGas": 10**9,
    "maxPriorityFeePerGas": 10**8,
}


@pytest.fixture
def key_file(tmp_path):
    secrets_key = generate_secrets_key()
    path = tmp_path / "relayer-key.json"
    write_encrypted_key(path, PRIVATE_KEY, bytes.fromhex(secrets_key))
    return path, secrets_key


def test_key_file__owner_only_and_no_plaintext_key(key_file):
    path, _ = key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert PRIVATE_KEY[2:] not in text.lower()
    assert json.loads(text)["address"] == ADDRESS


def test_key_file__not_overwritten_unless_asked(key_file):
    path, secrets_key = key_file
    before = path.read_text()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        write_encrypted_key(path, "0x" + "22" * 32, bytes.fromhex(secrets_key))
    assert path.read_text() == before
    write_encrypted_key(path, "0x" + "22" * 32, bytes.fromhex(secrets_key), overwrite=True)
    assert path.read_text() != before


def test_signer__signs_as_the_key_would(key_file):
    path, secrets_key = key_file
    signer = load_relayer_signer(load_settings(relayer_key_file=path, secrets_key=secrets_key))
    expected = Account.from_key(PRIVATE_KEY).sign_transaction(TX)
    signed = signer.sign_transaction(TX)
    assert signer.address == ADDRESS
    assert signed.raw == "0x" + expected.raw_transaction.hex()
    assert signed.hash == "0x" + expected.hash.hex()


def test_signer__never_shows_the_key(key_file, caplog):
    path, secrets_key = key_file
    signer = load_relayer_signer(load_settings(relayer_key_file=path, secrets_key=secrets_key))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("copyvault.test").info("signer %s %r", signer, signer)
    shown = repr(signer) + str(signer) + caplog.text + " ".join(dir(signer))
    assert ADDRESS in repr(signer)
    assert PRIVATE_KEY[2:] not in shown.lower()
    assert not hasattr(signer, "key") and not hasattr(signer, "private_key")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        copy.deepcopy(signer)
    with pytest.raises(AttributeError):
        signer.address = "0x" + "00" * 20


def test_load__wrong_secrets_key__refused(key_file):
    path, _ = key_file
    settings = load_settings(relayer_key_file=path, secrets_key=generate_secrets_key())
    with pytest.raises(ConfigError, match="COPYVAULT_SECRETS_KEY is not the key"):
        load_relayer_signer(settings)


def test_load__address_edited__refused(key_file):
    path, secrets_key = key_file
    content = json.loads(path.read_text())
    content["address"] = Account.create().address
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match="did not decrypt"):
        load_relayer_signer(load_settings(relayer_key_file=path, secrets_key=secrets_key))


@pytest.mark.parametrize(
    "settings, message",
    [
        ({}, "COPYVAULT_RELAYER_KEY_FILE is not set"),
        ({"relayer_key_file": "missing.json"}, "does not exist"),
        ({"relayer_key_file": "KEY", "secrets_key": None}, "COPYVAULT_SECRETS_KEY is not set"),
        ({"relayer_key_file": "KEY", "secrets_key": "00" * 3}, "must be 64 hex digits"),
        ({"relayer_key_file": "NOT_JSON"}, "not readable JSON"),
    ],
)
def test_load__missing_or_bad_settings__name_the_variable(key_file, tmp_path, settings, message):
    path, _ = key_file
    (tmp_path / "NOT_JSON").write_text("{not json")
    replace = {"KEY": str(path), "NOT_JSON": str(tmp_path / "NOT_JSON")}
    settings = {k: replace.get(v, v) if isinstance(v, str) else v for k, v in settings.items()}
    if "relayer_key_file" in settings and settings["relayer_key_file"] == "missing.json":
        settings["relayer_key_file"] = str(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match=message):
        load_relayer_signer(load_settings(**settings))


@pytest.fixture
def keystore(tmp_path):
    # PBKDF2 with few iterations keeps the test fast; the format is what geth and cast write.
    content = Account.encrypt(PRIVATE_KEY, "correct horse", kdf="pbkdf2", iterations=1_000)
    path = tmp_path / "keystore.json"
    path.write_text(json.dumps(content))
    return path


def test_keystore__opens_with_its_password(keystore):
    settings = load_settings(relayer_key_file=keystore, relayer_keystore_password="correct horse")
    assert load_relayer_signer(settings).address == ADDRESS


def test_keystore__wrong_or_missing_password__refused(keystore):
    wrong = load_settings(relayer_key_file=keystore, relayer_keystore_password="wrong horse")
    with pytest.raises(ConfigError, match="does not open"):
        load_relayer_signer(wrong)
    with pytest.raises(ConfigError, match="COPYVAULT_RELAYER_KEYSTORE_PASSWORD is not set"):
        load_relayer_signer(load_settings(relayer_key_file=keystore))


def _cli(*args, env, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "relayer-key", *args],
        cwd=REPO_ROOT,
        env=os.environ | env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli__secrets_key_new_import_address(tmp_path):
    made = _cli("secrets-key", env={})
    assert made.returncode == 0, made.stderr
    secrets_key = made.stdout.strip()
    assert len(bytes.fromhex(secrets_key)) == 32
    env = {"COPYVAULT_SECRETS_KEY": secrets_key}

    imported = _cli("import", "--out", str(tmp_path / "k.json"), env=env, stdin=PRIVATE_KEY)
    assert imported.returncode == 0, imported.stderr
    assert ADDRESS in imported.stdout
    assert PRIVATE_KEY[2:] not in (imported.stdout + imported.stderr).lower()

    env["COPYVAULT_RELAYER_KEY_FILE"] = str(tmp_path / "k.json")
    shown = _cli("address", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == ADDRESS

    again = _cli("new", "--out", str(tmp_path / "k.json"), env=env)
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr
    fresh = _cli("new", "--out", str(tmp_path / "n.json"), env=env)
    assert fresh.returncode == 0, fresh.stderr
    assert stat.S_IMODE((tmp_path / "n.json").stat().st_mode) == 0o600


def test_cli__without_secrets_key__clear_error(tmp_path):
    result = _cli("new", "--out", str(tmp_path / "k.json"), env={"COPYVAULT_SECRETS_KEY": ""})
    assert result.returncode != 0
    assert "COPYVAULT_SECRETS_KEY" in result.stderr
    assert not (tmp_path / "k.json").exists()
