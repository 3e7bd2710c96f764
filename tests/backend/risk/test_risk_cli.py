"""`copyvault risk webhook-secret`: a random secret, written encrypted (mode 0600), printed once
for the receiver, and read back by the alerter from the same settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.config import load_settings
from backend.risk.alerts import load_secret
from backend.security.encryption import generate_secrets_key

REPO_ROOT = Path(__file__).resolve().parents[3]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "risk", "webhook-secret", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_webhook_secret__written_encrypted_printed_once_and_loadable(tmp_path):
    key = generate_secrets_key()
    out = tmp_path / "webhook.json"
    env = os.environ | {"COPYVAULT_SECRETS_KEY": key, "COPYVAULT_DATA_DIR": str(tmp_path)}
    done = _run(env, "--out", str(out))
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert len(printed) == 64 and printed not in out.read_text()
    assert (out.stat().st_mode & 0o777) == 0o600
    settings = load_settings(secrets_key=key, risk_webhook_secret_file=out, data_dir=tmp_path)
    assert load_secret(settings).hex() == printed
    again = _run(env, "--out", str(out))
    assert again.returncode != 0 and "exists" in again.stderr


def test_webhook_secret__no_secrets_key__clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COPYVAULT_SECRETS_KEY"}
    done = _run(env | {"COPYVAULT_DATA_DIR": str(tmp_path)}, "--out", str(tmp_path / "w.json"))
    assert done.returncode != 0 and "COPYVAULT_SECRETS_KEY is not set" in done.stderr
