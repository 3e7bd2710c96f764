"""`copyvault keys rotate`: every secret re-encrypted under a new COPYVAULT_SECRETS_KEY.

What is re-encrypted (each envelope keeps its purpose and bound context, gets a fresh nonce):
- in the store, in ONE transaction: every column of `STORED_ENVELOPES` (operators' TOTP seeds,
  KYC evidence; a later table of secrets is one more entry there);
- the key files: COPYVAULT_RELAYER_KEY_FILE (when it is a copyvault envelope; a V3 keystore is
  protected by its own password and is left alone), COPYVAULT_GUARDIAN_KEY_FILE,
  COPYVAULT_ANCHORER_KEY_FILE (the audit anchorer's) and COPYVAULT_RISK_WEBHOOK_SECRET_FILE.

Order, so that a failure at any point leaves a state one of the two keys opens completely:
1. everything is decrypted with the old key and sealed with the new one in memory (a secret the
   old key does not open stops the rotation before anything is written);
2. the new key files are written beside the old ones (`<name>.rotating`, mode 0600, fsynced);
3. the store's transaction commits (on failure the `.rotating` files are removed: nothing
   changed);
4. each `.rotating` file replaces its key file (an atomic rename on one filesystem).
Only a crash between 3 and 4 needs a hand: the `.rotating` file then holds the key under the new
key; docs/operations.md says to rename it. Running processes keep the old key in memory: stop
them before rotating and start them with the new COPYVAULT_SECRETS_KEY.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, select, update

from backend.config import Settings
from backend.db.compliance_models import KycAttestation
from backend.db.engine import write_transaction
from backend.db.operator_models import Operator
from backend.exceptions import ConfigError
from backend.risk import alerts
from backend.security import anchorer_key, guardian_key, relayer_key
from backend.security.encryption import decrypt, encrypt, parse_secrets_key
from backend.services import audit_log

# Envelope fields that are not bound context (everything else in an envelope is).
_ENVELOPE_FIELDS = frozenset({"format", "cipher", "purpose", "nonce", "ciphertext"})

# (table's primary key column, envelope column): every secret the store holds.
STORED_ENVELOPES: tuple[tuple[Column, Column], ...] = (
    (Operator.__table__.c.id, Operator.__table__.c.totp_secret),
    (KycAttestation.__table__.c.id, KycAttestation.__table__.c.evidence),
)


@dataclass
class RotationReport:
    """How many secrets were re-encrypted, by where they live."""

    stored: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows
    files: list[str] = field(default_factory=list)  # the settings' names of the key files


def reseal(envelope: dict[str, Any], old: bytes, new: bytes) -> dict[str, Any]:
    """The same secret, purpose and context under `new` (raises if `old` does not open it)."""
    purpose = envelope.get("purpose")
    if not isinstance(purpose, str):
        raise ConfigError("an encrypted secret has no purpose: it is not a copyvault envelope")
    context = {k: str(v) for k, v in envelope.items() if k not in _ENVELOPE_FIELDS}
    plaintext = decrypt(envelope, old, purpose=purpose, context_fields=tuple(context))
    return encrypt(plaintext, new, purpose=purpose, context=context)


def _key_files(settings: Settings) -> Iterator[tuple[str, Path]]:
    """(variable, path) of every key file sealed with COPYVAULT_SECRETS_KEY."""
    if settings.relayer_key_file is not None:
        content = relayer_key.read_key_file(settings.relayer_key_file)
        if not relayer_key.is_keystore(content):
            yield "COPYVAULT_RELAYER_KEY_FILE", settings.relayer_key_file
    if settings.guardian_key_file is not None:
        yield guardian_key.VARIABLE, settings.guardian_key_file
    if settings.anchorer_key_file is not None:
        yield anchorer_key.VARIABLE, settings.anchorer_key_file
    if settings.risk_webhook_secret_file is not None:
        yield alerts.VARIABLE, settings.risk_webhook_secret_file


def _write_private(path: Path, document: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(document, file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.chmod(path, 0o600)


def _staged_files(settings: Settings, old: bytes, new: bytes) -> dict[Path, Path]:
    """Every key file resealed under `new` into `<file>.rotating`; {staged: target}."""
    sealed = {}
    for variable, path in _key_files(settings):
        envelope = relayer_key.read_key_file(path, variable)
        try:
            sealed[Path(path)] = reseal(envelope, old, new)
        except ConfigError as exc:
            raise ConfigError(f"{variable} ({path}): {exc}") from None
    staged = {}
    try:
        for path, envelope in sealed.items():
            rotating = path.with_name(path.name + ".rotating")
            _write_private(rotating, envelope)
            staged[rotating] = path
    except OSError as exc:
        _discard(staged)
        raise ConfigError(f"cannot write the re-encrypted key file ({exc})") from None
    return staged


def _discard(staged: dict[Path, Path]) -> None:
    for rotating in staged:
        rotating.unlink(missing_ok=True)


def _reseal_store(
    engine: Engine, old: bytes, new: bytes, report: RotationReport, key_files: list[str]
) -> None:
    with write_transaction(engine) as conn:
        for key_column, column in STORED_ENVELOPES:
            rows = conn.execute(select(key_column, column).where(column.is_not(None))).all()
            done = 0
            for key, envelope in rows:
                if envelope is None:  # a JSON null stored by an older version
                    continue
                try:
                    resealed = reseal(envelope, old, new)
                except ConfigError as exc:
                    raise ConfigError(f"{column.table.name} {key}: {exc}") from None
                conn.execute(
                    update(column.table).where(key_column == key).values({column.name: resealed})
                )
                done += 1
            report.stored[f"{column.table.name}.{column.name}"] = done
        # The audit trail names what was re-encrypted, never a secret (counts and names only).
        audit_log.append(
            conn,
            category="key_rotation",
            actor="system:copyvault keys rotate",
            action="secrets_key.rotate",
            after={
                "rows": sum(report.stored.values()),
                "tables": sorted({name.split(".")[0] for name in report.stored}),
                "key_files": key_files,
            },
        )


def rotate(engine: Engine, settings: Settings) -> RotationReport:
    """Re-encrypt every secret from COPYVAULT_SECRETS_KEY to COPYVAULT_NEW_SECRETS_KEY."""
    old = parse_secrets_key(settings.require("secrets_key").get_secret_value())
    new = parse_secrets_key(settings.require("new_secrets_key").get_secret_value())
    if old == new:
        raise ConfigError("COPYVAULT_NEW_SECRETS_KEY is the current key: make a new one")
    report = RotationReport()
    staged = _staged_files(settings, old, new)
    try:
        variables = [variable for variable, _path in _key_files(settings)]
        _reseal_store(engine, old, new, report, variables)
    except BaseException:
        _discard(staged)
        raise
    for rotating, path in staged.items():
        os.replace(rotating, path)
        report.files.append(str(path))
    return report
