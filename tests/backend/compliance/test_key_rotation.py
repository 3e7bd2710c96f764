"""`copyvault keys rotate`: every secret (relayer and guardian key files, operators' TOTP seeds,
KYC evidence) re-encrypted under the new key, the store in one transaction; afterwards the new
key opens everything and the old key nothing; the raw SQLite file and a pg_dump hold no
plaintext secret before or after; a secret the old key cannot open stops the rotation with
nothing changed. Both stores."""

from __future__ import annotations

import json
import secrets
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from eth_account import Account
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.cli import cli
from backend.config import Settings, load_settings
from backend.db.audit_models import AuditEntry
from backend.db.compliance_models import KycAttestation
from backend.db.operator_models import Operator
from backend.exceptions import ConfigError
from backend.risk import alerts
from backend.security.anchorer_key import load_anchorer_signer
from backend.security.encryption import (
    SecretDecryptionError,
    decrypt,
    generate_secrets_key,
    parse_secrets_key,
)
from backend.security.guardian_key import load_guardian_signer
from backend.security.relayer_key import load_relayer_signer, write_encrypted_key
from backend.services import kyc, operators
from backend.services.key_rotation import rotate

EVIDENCE = {"name": "Oswin Featherstonehaugh-Ybarra", "document": "ID-CARD-QK55310982"}


class Secrets:
    """A store and key files holding known secrets, sealed under `old`."""

    def __init__(self, stores, folder: Path):
        self.url = stores.url()
        self.engine = stores.engine(self.url)
        self.old, self.new = generate_secrets_key(), generate_secrets_key()
        self.relayer_hex, self.guardian_hex = secrets.token_hex(32), secrets.token_hex(32)
        self.anchorer_hex = secrets.token_hex(32)
        self.relayer_file, self.guardian_file = folder / "relayer.json", folder / "guardian.json"
        self.anchorer_file = folder / "anchorer.json"
        self.webhook_secret, self.webhook_file = secrets.token_hex(32), folder / "webhook.json"
        write_encrypted_key(
            self.anchorer_file,
            self.anchorer_hex,
            parse_secrets_key(self.old),
            purpose="anchorer-key",
        )
        write_encrypted_key(self.relayer_file, self.relayer_hex, parse_secrets_key(self.old))
        write_encrypted_key(
            self.guardian_file,
            self.guardian_hex,
            parse_secrets_key(self.old),
            purpose="guardian-key",
        )
        self.seeds = {f"op-{i}": pyotp.random_base32() for i in range(2)}
        self.folder = folder
        alerts.write_secret_file(
            self.webhook_file,
            self.webhook_secret.encode(),
            self.settings(self.old),
            overwrite=False,
        )
        self._fill(self.settings(self.old))

    def settings(self, key: str, **more: Any) -> Settings:
        return load_settings(
            database_url=self.url,
            data_dir=self.folder / "data",
            secrets_key=key,
            relayer_key_file=self.relayer_file,
            guardian_key_file=self.guardian_file,
            anchorer_key_file=self.anchorer_file,
            risk_webhook_secret_file=self.webhook_file,
            **more,
        )

    def _fill(self, settings: Settings) -> None:
        now = datetime.now(UTC)
        with Session(self.engine) as s:
            for username, seed in self.seeds.items():
                s.add(
                    Operator(
                        username=username,
                        role="compliance",
                        status="active",
                        totp_secret=operators.seal_totp(seed, username, settings),
                        created_at=now,
                        updated_at=now,
                    )
                )
            s.add(
                Operator(
                    username="no-totp",
                    role="admin",
                    status="enrolling",
                    created_at=now,
                    updated_at=now,
                )
            )
            address = "0x" + "5a" * 20
            s.add(
                KycAttestation(
                    chain_id=1,
                    address=address,
                    status="verified",
                    evidence=kyc.seal_evidence(EVIDENCE, address, settings),
                    recorded_by="op-0",
                    recorded_at=now,
                )
            )
            s.commit()

    @property
    def key_files(self) -> tuple[Path, ...]:
        return (self.relayer_file, self.guardian_file, self.anchorer_file, self.webhook_file)

    def plaintexts(self) -> list[str]:
        return [
            *self.seeds.values(),
            self.relayer_hex,
            self.guardian_hex,
            self.anchorer_hex,
            self.webhook_secret,
            *EVIDENCE.values(),
            self.old,
            self.new,
        ]

    def envelopes(self) -> list[dict[str, Any]]:
        """Every envelope at rest: the store's and the key files'."""
        with Session(self.engine) as s:
            stored = [op.totp_secret for op in s.scalars(select(Operator)) if op.totp_secret]
            stored += [row.evidence for row in s.scalars(select(KycAttestation))]
        files = [json.loads(p.read_text()) for p in self.key_files]
        return stored + files

    def raw_store(self) -> bytes:
        """What an attacker with the database file or a dump sees."""
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite":
            self.engine.dispose()  # checkpoint nothing away: read the file and its WAL as they are
            db = Path(url.database)
            wal = db.with_name(db.name + "-wal")
            return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        schema = url.query["options"].removeprefix("-csearch_path=")
        conninfo = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        dump = subprocess.run(
            ["pg_dump", "--schema", schema, "--no-owner", conninfo],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return dump.stdout


def _opens(envelope: dict[str, Any], key: str) -> bool:
    context = tuple(
        k for k in envelope if k not in {"format", "cipher", "purpose", "nonce", "ciphertext"}
    )
    try:
        decrypt(
            envelope, parse_secrets_key(key), purpose=envelope["purpose"], context_fields=context
        )
    except SecretDecryptionError:
        return False
    return True


def _assert_no_plaintext(raw: bytes, known: list[str]) -> None:
    assert b"copyvault-secret-v1" in raw  # the envelopes are in what was read
    for plaintext in known:
        assert plaintext.encode() not in raw, plaintext[:6]
        assert plaintext.lower().encode() not in raw


@pytest.fixture
def held_secrets(stores, tmp_path) -> Secrets:
    return Secrets(stores, tmp_path)


def test_rotate__new_key_opens_everything_old_key_nothing_no_plaintext_at_rest(held_secrets):
    _assert_no_plaintext(held_secrets.raw_store(), held_secrets.plaintexts())
    report = rotate(
        held_secrets.engine,
        held_secrets.settings(held_secrets.old, new_secrets_key=held_secrets.new),
    )
    assert report.stored == {"operators.totp_secret": 2, "kyc_attestations.evidence": 1}
    assert sorted(report.files) == sorted(map(str, held_secrets.key_files))
    _assert_no_plaintext(held_secrets.raw_store(), held_secrets.plaintexts())
    envelopes = held_secrets.envelopes()
    assert len(envelopes) == 7  # 2 TOTP seeds, 1 KYC evidence, 4 key files
    assert all(_opens(e, held_secrets.new) for e in envelopes)
    assert not any(_opens(e, held_secrets.old) for e in envelopes)
    after = held_secrets.settings(held_secrets.new)
    with Session(held_secrets.engine) as s:
        for op in s.scalars(select(Operator).where(Operator.totp_secret.is_not(None))):
            if op.totp_secret:
                assert operators.open_totp(op.totp_secret, after) == held_secrets.seeds[op.username]
        row = s.scalars(select(KycAttestation)).one()
        assert kyc.open_evidence(row.evidence, after) == EVIDENCE
        entry = s.scalars(select(AuditEntry).where(AuditEntry.category == "key_rotation")).one()
        assert entry.after["rows"] == 3 and entry.after["key_files"] == [
            "COPYVAULT_RELAYER_KEY_FILE",
            "COPYVAULT_GUARDIAN_KEY_FILE",
            "COPYVAULT_ANCHORER_KEY_FILE",
            "COPYVAULT_RISK_WEBHOOK_SECRET_FILE",
        ]
    assert load_relayer_signer(after).address == Account.from_key(held_secrets.relayer_hex).address
    assert (
        load_guardian_signer(after).address == Account.from_key(held_secrets.guardian_hex).address
    )
    assert (
        load_anchorer_signer(after).address == Account.from_key(held_secrets.anchorer_hex).address
    )
    assert alerts.load_secret(after) == held_secrets.webhook_secret.encode()
    with pytest.raises(ConfigError):
        load_relayer_signer(held_secrets.settings(held_secrets.old))
    assert (held_secrets.relayer_file.stat().st_mode & 0o777) == 0o600
    assert not list(held_secrets.folder.glob("*.rotating"))


def test_rotate__a_secret_the_old_key_cannot_open__stops_with_nothing_changed(held_secrets):
    foreign = held_secrets.settings(generate_secrets_key())
    now = datetime.now(UTC)
    with Session(held_secrets.engine) as s:
        s.add(
            Operator(
                username="sealed-elsewhere",
                role="risk",
                status="active",
                totp_secret=operators.seal_totp(pyotp.random_base32(), "sealed-elsewhere", foreign),
                created_at=now,
                updated_at=now,
            )
        )
        s.commit()
    before = held_secrets.envelopes()
    files = [p.read_bytes() for p in held_secrets.key_files]
    with pytest.raises(ConfigError, match="operators .*did not decrypt"):
        rotate(
            held_secrets.engine,
            held_secrets.settings(held_secrets.old, new_secrets_key=held_secrets.new),
        )
    assert held_secrets.envelopes() == before
    assert [p.read_bytes() for p in held_secrets.key_files] == files
    assert not list(held_secrets.folder.glob("*.rotating"))
    with Session(held_secrets.engine) as s:
        assert s.scalars(select(AuditEntry)).all() == []


def test_cli_keys_rotate__needs_the_new_key__then_rotates(held_secrets, monkeypatch):
    monkeypatch.setenv("COPYVAULT_DATABASE_URL", held_secrets.url)
    monkeypatch.setenv("COPYVAULT_DATA_DIR", str(held_secrets.folder / "data"))
    monkeypatch.setenv("COPYVAULT_SECRETS_KEY", held_secrets.old)
    monkeypatch.setenv("COPYVAULT_RELAYER_KEY_FILE", str(held_secrets.relayer_file))
    monkeypatch.setenv("COPYVAULT_GUARDIAN_KEY_FILE", str(held_secrets.guardian_file))
    monkeypatch.setenv("COPYVAULT_ANCHORER_KEY_FILE", str(held_secrets.anchorer_file))
    monkeypatch.setenv("COPYVAULT_RISK_WEBHOOK_SECRET_FILE", str(held_secrets.webhook_file))
    monkeypatch.delenv("COPYVAULT_NEW_SECRETS_KEY", raising=False)
    missing = CliRunner().invoke(cli, ["keys", "rotate"])
    assert missing.exit_code != 0 and "COPYVAULT_NEW_SECRETS_KEY is not set" in str(
        missing.exception
    )
    monkeypatch.setenv("COPYVAULT_NEW_SECRETS_KEY", held_secrets.old)
    same = CliRunner().invoke(cli, ["keys", "rotate"])
    assert same.exit_code != 0 and "is the current key" in str(same.exception)
    monkeypatch.setenv("COPYVAULT_NEW_SECRETS_KEY", held_secrets.new)
    done = CliRunner().invoke(cli, ["keys", "rotate"])
    assert done.exit_code == 0, done.output
    assert "re-encrypted 2 in operators.totp_secret" in done.output
    assert all(_opens(e, held_secrets.new) for e in held_secrets.envelopes())
