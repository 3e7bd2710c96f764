"""`copyvault operator create-admin` (password never in argv; TOTP confirmed before anything is
stored; only while no admin exists) and `copyvault guardian-key` (encrypted, address printed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend.db.audit_models import AuditEntry
from backend.db.operator_models import Operator, OperatorAction
from backend.security.encryption import generate_secrets_key
from backend.services import operators

REPO_ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "a long admin passphrase 2026"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return os.environ | {
        "COPYVAULT_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "COPYVAULT_SECRETS_KEY": generate_secrets_key(),
        **extra,
    }


def _create_admin(env: dict[str, str], username: str, *, wrong_code: bool = False):
    """Run create-admin as a script would: the password, then the code for the printed URI."""
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "operator", "create-admin", username],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(PASSWORD + "\n")
    process.stdin.flush()
    uri = process.stdout.readline().strip()
    if not uri.startswith("otpauth://"):
        out, err = process.communicate(timeout=60)
        return process.returncode, uri + out, err, None
    seed = parse_qs(urlsplit(uri).query)["secret"][0]
    code = pyotp.TOTP(seed).now()
    if wrong_code:
        code = f"{(int(code) + 1) % 10**6:06d}"
    out, err = process.communicate(code + "\n", timeout=120)
    return process.returncode, uri + "\n" + out, err, seed


def _rows(tmp_path: Path, model):
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with Session(engine) as s:
            return list(s.scalars(select(model)))
    finally:
        engine.dispose()


def test_create_admin__password_on_stdin_and_first_code__active_admin_recorded(tmp_path):
    env = _env(tmp_path)
    code, out, err, seed = _create_admin(env, "alice")
    assert code == 0, err
    assert "admin alice created and enrolled" in err
    (admin,) = _rows(tmp_path, Operator)
    assert (admin.username, admin.role, admin.status) == ("alice", "admin", "active")
    # The production profile (the test process itself hashes at a lower cost: tests/conftest.py).
    profile = operators.PASSWORD_PROFILE
    assert (profile.time_cost, profile.memory_cost, profile.parallelism) == (3, 65_536, 4)
    assert admin.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    raw = (tmp_path / "store.db").read_bytes()
    assert PASSWORD.encode() not in raw and seed.encode() not in raw
    assert PASSWORD not in out + err
    (action,) = _rows(tmp_path, OperatorAction)
    assert (action.action, action.client_address) == ("operator.create_admin", "command line")
    (entry,) = _rows(tmp_path, AuditEntry)  # and in the audit trail's hash chain
    assert (entry.category, entry.action, entry.subject) == (
        "operator_action",
        "operator.create_admin",
        "alice",
    )
    # A second admin from the command line is refused: admins create operators through the API.
    code, out, err, _ = _create_admin(env, "mallory")
    assert code == 1 and "an active admin exists" in err
    assert [o.username for o in _rows(tmp_path, Operator)] == ["alice"]


def test_create_admin__wrong_first_code__nothing_stored(tmp_path):
    code, _out, err, _seed = _create_admin(_env(tmp_path), "alice", wrong_code=True)
    assert code == 1 and "TOTP code does not match" in err
    assert _rows(tmp_path, Operator) == []


def test_create_admin__no_password_option_in_argv(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "operator", "create-admin", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "--password" not in result.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "backend.cli", "operator", "create-admin", "bob", "--password", "x"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
    )
    assert refused.returncode != 0 and "No such option" in refused.stderr


def test_guardian_key__new_then_address__encrypted_file_and_same_address(tmp_path):
    env = _env(tmp_path, COPYVAULT_GUARDIAN_KEY_FILE=str(tmp_path / "guardian.json"))

    def run(*args: str):
        return subprocess.run(
            [sys.executable, "-m", "backend.cli", "guardian-key", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = run("new", "--out", str(tmp_path / "guardian.json"))
    assert created.returncode == 0, created.stderr
    address = created.stdout.strip().rsplit(" ", 1)[-1]
    content = json.loads((tmp_path / "guardian.json").read_text())
    assert content["purpose"] == "guardian-key" and content["address"] == address
    assert (tmp_path / "guardian.json").stat().st_mode & 0o777 == 0o600
    shown = run("address")
    assert shown.returncode == 0 and shown.stdout.strip() == address
    # A relayer key file is not a guardian key file (the envelope's purpose is authenticated).
    relayer = subprocess.run(
        [
            sys.executable,
            "-m",
            "backend.cli",
            "relayer-key",
            "new",
            "--out",
            str(tmp_path / "r.json"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert relayer.returncode == 0, relayer.stderr
    env["COPYVAULT_GUARDIAN_KEY_FILE"] = str(tmp_path / "r.json")
    wrong = run("address")
    assert wrong.returncode == 1 and "'relayer-key', not 'guardian-key'" in wrong.stderr


def test_purge_offchain__operator_accounts_controls_and_record__are_kept():
    from backend.db.offchain import offchain_tables
    from backend.db.operator_models import PLATFORM_TABLES

    purged = {table.name for table in offchain_tables()}
    kept = {model.__table__.name for model in PLATFORM_TABLES}
    assert kept == {
        "operators",
        "operator_sessions",
        "operator_devices",
        "operator_sign_ins",
        "operator_actions",
        "relayer_controls",
        "deny_list",
    }
    assert not purged & kept and {"intents", "proposals"} <= purged
