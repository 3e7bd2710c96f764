"""Encrypted backups of the store, and restoring them.

SQLite is copied with its online backup API (a consistent snapshot while the API and indexer go
on writing); PostgreSQL with its own `pg_dump --format=custom` and `pg_restore`, the tools that
know every object of the database. Either dump is sealed (`backend.security.sealed_file`) with
COPYVAULT_BACKUP_KEY, a key of its own so that rotating the secrets key never orphans old backups.

What a backup cannot hold is what happened after it: the index is rebuilt from the chain after a
restore (`copyvault reindex`); off-chain records written after the backup (proposals, signatures,
intents) are lost, which is why backups are scheduled (`copyvault backup --every`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL, make_url

from backend.db.engine import create_store_engine, write_transaction
from backend.db.migrate import current_revision
from backend.exceptions import ConfigError, StoreError
from backend.security.sealed_file import read_header, seal_file, unseal_file

FORMAT: Final = "copyvault-backup/1"
SUFFIX: Final = ".cvbak"
PG_TIMEOUT_SECONDS: Final = 3600


class BackupError(StoreError):
    """A backup could not be made or restored; the message says which step and why."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    store: str
    created_at: str
    revision: str | None


def _store_kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"backups support SQLite and PostgreSQL stores, not {backend!r}")
    return backend


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigError("an in-memory SQLite store has nothing to back up")
    return Path(url.database)


def _pg_environment(url: URL) -> dict[str, str]:
    """libpq's environment for `url`: the password never appears in a command line (`ps`)."""
    env = {"PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    for name, value in (("PGUSER", url.username), ("PGPASSWORD", url.password)):
        if value:
            env[name] = str(value)
    env["PGDATABASE"] = url.database or "postgres"
    return os.environ | env


def _pg_schema(url: URL) -> str | None:
    """The schema a URL's `options=-csearch_path=...` selects (one database, several stores)."""
    options = url.query.get("options", "")
    text = options if isinstance(options, str) else " ".join(options)
    for part in text.split():
        if part.startswith("-csearch_path="):
            return part.split("=", 1)[1].split(",")[0].strip('"')
    return None


def _run_pg_tool(args: list[str], url: URL, what: str) -> None:
    if shutil.which(args[0]) is None:
        raise BackupError(f"{args[0]} is not installed (Debian: postgresql-client): cannot {what}")
    result = subprocess.run(
        args, env=_pg_environment(url), capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS
    )
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed to {what}: {result.stderr.strip()[-2000:]}")


def _dump(url: URL, plain: Path) -> None:
    if _store_kind(url) == "sqlite":
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"no SQLite store at {source}")
        with sqlite3.connect(source) as src, sqlite3.connect(plain) as dst:
            src.backup(dst)
        return
    args = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={plain}"]
    schema = _pg_schema(url)
    if schema:
        args.append(f"--schema={schema}")
    _run_pg_tool(args, url, "dump the store")


def _revision(url: str) -> str | None:
    """The store's schema revision, recorded in the backup's header."""
    engine = create_store_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def record(url: str, action: str, after: dict[str, str | None]) -> None:
    """An entry in the store's audit trail (category `backup`): a backup taken (recorded before
    the dump, so the backup holds it) or restored (recorded in the restored store, so the trail
    says when it was rolled back and to what)."""
    from backend.services import audit_log

    engine = create_store_engine(url)
    try:
        with write_transaction(engine) as conn:
            audit_log.append(conn, category="backup", actor="cli", action=action, after=after)
    finally:
        engine.dispose()


def backup_name(store: str, moment: datetime) -> str:
    return f"copyvault-{store}-{moment.strftime('%Y%m%dT%H%M%S%fZ')}{SUFFIX}"


def create_backup(url: str, directory: Path, key: bytes, *, now: datetime | None = None) -> Path:
    """Dump the store at `url`, seal it with `key` into a new file in `directory`; its path."""
    parsed = make_url(url)
    store = _store_kind(parsed)
    moment = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / backup_name(store, moment)
    record(url, "backup.create", {"file": target.name, "store": store})
    header = {
        "format": FORMAT,
        "store": store,
        "created_at": moment.isoformat(),
        "revision": _revision(url),
    }
    with tempfile.TemporaryDirectory(prefix="copyvault-backup-") as work:
        plain = Path(work) / "dump"
        _dump(parsed, plain)
        seal_file(plain, target, key, header)
    return target


def describe(path: Path) -> BackupInfo:
    """What a backup file says of itself (read without the key; authenticated on restore)."""
    with path.open("rb") as source:
        header, _ = read_header(source)
    if header.get("format") != FORMAT:
        raise BackupError(f"{path.name} is not a copyvault backup ({header.get('format')!r})")
    return BackupInfo(path, header["store"], header["created_at"], header.get("revision"))


def latest_backup(directory: Path) -> Path:
    """The newest backup in `directory` (by the time in its name, which sorts)."""
    found = sorted(directory.glob(f"copyvault-*{SUFFIX}"))
    if not found:
        raise BackupError(f"no backup ({SUFFIX}) in {directory}")
    return found[-1]


def _load_sqlite(plain: Path, url: URL) -> None:
    """Copy the restored database into the store's file through SQLite's backup API: one
    transaction on the target, so readers see the old store or the restored one, never a mix."""
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(plain) as src, sqlite3.connect(target, timeout=30) as dst:
        src.backup(dst)


def _load_postgresql(plain: Path, url: URL) -> None:
    args = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges"]
    args += ["--single-transaction", "--exit-on-error", f"--dbname={url.database or 'postgres'}"]
    _run_pg_tool([*args, str(plain)], url, "restore the store")


def restore_backup(path: Path, url: str, key: bytes) -> BackupInfo:
    """Replace the store at `url` with the backup at `path`. The whole file is decrypted and
    authenticated before the store is touched: a wrong key or an edited file changes nothing."""
    info = describe(path)
    parsed = make_url(url)
    if info.store != _store_kind(parsed):
        raise BackupError(f"{path.name} is a {info.store} backup; the store is {parsed.drivername}")
    with tempfile.TemporaryDirectory(prefix="copyvault-restore-") as work:
        plain = Path(work) / "dump"
        unseal_file(path, plain, key)
        if info.store == "sqlite":
            _load_sqlite(plain, parsed)
        else:
            _load_postgresql(plain, parsed)
    return info


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in `directory`; the deleted paths."""
    found = sorted(directory.glob(f"copyvault-*{SUFFIX}"))
    doomed = found[:-keep] if keep > 0 else found
    for path in doomed:
        path.unlink()
    return doomed


def run_schedule(
    url: str,
    directory: Path,
    key: bytes,
    *,
    every_seconds: float,
    keep: int,
    stop: threading.Event,
    on_backup=lambda path: None,
) -> None:
    """A backup now and every `every_seconds` until `stop` is set, keeping the newest `keep`."""
    while not stop.is_set():
        path = create_backup(url, directory, key)
        prune(directory, keep)
        on_backup(path)
        stop.wait(every_seconds)
