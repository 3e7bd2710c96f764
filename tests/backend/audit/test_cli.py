"""`copyvault audit verify|prove|anchorer-key` as an operator runs them (a subprocess over the
store's URL and a deployment file): exit 0 and "ok" on an intact log, exit 1 naming the first
problem otherwise; `prove` prints the proof as JSON, checked on chain."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from backend.security.encryption import generate_secrets_key
from tests.backend.audit.conftest import START

REPO_ROOT = Path(__file__).resolve().parents[3]


def _run(audit_world, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    deployment = audit_world.chain.deployment
    contracts = deployment.contracts | {"AuditAnchor": audit_world.contract.address}
    dataclasses.replace(deployment, contracts=contracts).save(tmp_path / "deployment.json")
    environment = os.environ | {
        "COPYVAULT_DATABASE_URL": audit_world.engine.url.render_as_string(hide_password=False),
        "COPYVAULT_DEPLOYMENT_FILE": str(tmp_path / "deployment.json"),
        "COPYVAULT_RPC_URL": audit_world.chain.node.url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "audit", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_audit_verify__intact_then_an_entry_deleted__exit_1_naming_it(audit_world, tmp_path):
    audit_world.entries(4)
    audit_world.anchorer.anchor_if_due()
    intact = _run(audit_world, tmp_path, "verify", "--max-unanchored-seconds", "1000000000")
    assert intact.returncode == 0, intact.stderr
    assert "4 entries, 1 anchors on chain" in intact.stdout and "ok" in intact.stderr

    audit_world.sql("DELETE FROM audit_log WHERE seq = 2")
    broken = _run(audit_world, tmp_path, "verify", "--json")

    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False
    assert (report["findings"][0]["kind"], report["findings"][0]["seq"]) == ("deleted", 2)


def test_audit_prove__anchored_intent__json_proof_verified_on_chain(audit_world, tmp_path):
    digest = audit_world.intent(START - 40)
    audit_world.intent(START - 20)
    audit_world.anchorer.anchor_if_due()

    proved = _run(audit_world, tmp_path, "prove", digest)

    assert proved.returncode == 0, proved.stderr
    document = json.loads(proved.stdout)
    assert document["digest"] == digest and document["verified_on_chain"] is True
    assert document["accepted_at"] == START - 40 and len(document["proof"]) == 1
    missing = _run(audit_world, tmp_path, "prove", "0x" + "ef" * 32)
    assert missing.returncode == 1 and "no intent with digest" in missing.stderr


def test_anchorer_key__new_then_address__encrypted_for_its_purpose(tmp_path):
    key_file = tmp_path / "anchorer.json"
    env = os.environ | {
        "COPYVAULT_SECRETS_KEY": generate_secrets_key(),
        "COPYVAULT_ANCHORER_KEY_FILE": str(key_file),
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "backend.cli", "audit", "anchorer-key", *args]
        return subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    created = run("new", "--out", str(key_file))
    assert created.returncode == 0, created.stderr
    address = created.stdout.strip().rsplit(" ", 1)[-1]
    assert json.loads(key_file.read_text())["purpose"] == "anchorer-key"
    shown = run("address")
    assert shown.returncode == 0 and shown.stdout.strip() == address
