"""`copyvault backup` / `copyvault restore` on both stores, and the recovery drill: destroy the
store, restore the latest backup, reindex what the chain holds; nothing off-chain that existed at
the backup is lost and the index equals the chain."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from backend.db import backup as backups
from backend.db.audit_models import AuditEntry
from backend.db.backup import BackupError
from tests.backend.cli.test_cli import _run
from tests.backend.cli.test_reindex import (
    OFFCHAIN_NAMES,
    _add_offchain_records,
    _env,
    _indexed_with_offchain_records,
    _tables,
)
from tests.backend.helpers import assert_matches_chain, dump_store, run_scenario

KEY = "a1" * 32
OTHER_KEY = "b2" * 32


def _backup_env(anvil_chain, url: str, tmp_path: Path, key: str = KEY) -> dict[str, str]:
    return _env(anvil_chain, url, tmp_path) | {
        "COPYVAULT_BACKUP_KEY": key,
        "COPYVAULT_BACKUP_DIR": str(tmp_path / "backups"),
    }


def _destroy(url: str, engine: Engine) -> None:
    """Lose the store: the SQLite file is deleted; the PostgreSQL store's schema is dropped."""
    engine.dispose()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    schema = backups._pg_schema(parsed)
    conninfo = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_recovery_drill__destroy_restore_latest_reindex__offchain_kept_and_index_equals_chain(
    anvil_chain, stores, make_indexer, tmp_path
):
    url, engine = _indexed_with_offchain_records(anvil_chain, stores, make_indexer)
    offchain_at_backup = _tables(engine, OFFCHAIN_NAMES)
    env = _backup_env(anvil_chain, url, tmp_path)
    made = _run("backup", env=env)
    assert made.returncode == 0, made.stderr
    run_scenario(anvil_chain, salt=2)  # the chain moves on after the backup
    assert make_indexer(engine).sync_once()

    _destroy(url, engine)
    restored = _run("restore", "--latest", "--yes", env=env)
    assert restored.returncode == 0, restored.stderr
    assert _tables(engine, OFFCHAIN_NAMES) == offchain_at_backup

    reindexed = _run("reindex", env=env)
    assert reindexed.returncode == 0, reindexed.stderr
    assert "vaults and balances match" in reindexed.stdout
    assert _tables(engine, OFFCHAIN_NAMES) == offchain_at_backup
    assert_matches_chain(engine, anvil_chain)
    with engine.connect() as conn:  # the audit trail says a backup was taken, then restored
        recorded = conn.execute(
            select(AuditEntry.action, AuditEntry.after).where(AuditEntry.category == "backup")
        ).all()
    assert [action for action, _ in recorded] == ["backup.create", "backup.restore"]
    assert recorded[0].after["file"] == recorded[1].after["file"]


@pytest.fixture
def backed_up(stores, tmp_path):
    """A store with a row in every off-chain table, its environment and one backup of it (no
    chain needed: restoring touches only the store)."""
    url = stores.url()
    engine = stores.engine(url)
    _add_offchain_records(engine)
    env = {
        "COPYVAULT_DATABASE_URL": url,
        "COPYVAULT_DATA_DIR": str(tmp_path),
        "COPYVAULT_BACKUP_KEY": KEY,
        "COPYVAULT_BACKUP_DIR": str(tmp_path / "backups"),
    }
    made = _run("backup", env=env)
    assert made.returncode == 0, made.stderr
    return url, engine, env, backups.latest_backup(tmp_path / "backups")


def test_restore__another_key__refused_and_the_store_untouched(backed_up):
    url, engine, env, path = backed_up
    before = dump_store(engine)
    result = _run("restore", str(path), "--yes", env=env | {"COPYVAULT_BACKUP_KEY": OTHER_KEY})
    assert result.returncode == 1
    assert "sealed with another key" in result.stderr
    assert dump_store(engine) == before


def test_restore__an_edited_backup__refused_naming_the_chunk_and_the_store_untouched(backed_up):
    url, engine, env, path = backed_up
    before = dump_store(engine)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x40
    path.write_bytes(bytes(data))
    result = _run("restore", str(path), "--yes", env=env)
    assert result.returncode == 1
    assert "does not open: the file was edited" in result.stderr
    assert dump_store(engine) == before


def test_restore__needs_confirmation_and_one_source(backed_up):
    _, _, env, path = backed_up
    assert "pass --yes" in _run("restore", str(path), env=env).stderr
    assert "not both" in _run("restore", str(path), "--latest", "--yes", env=env).stderr


def test_backup__the_file_holds_no_plaintext_of_the_store(sqlite_stores, tmp_path):
    url = sqlite_stores.url()
    sqlite_stores.engine(url)
    marker = "copyvault-marker-" + "c3" * 20
    with sqlite3.connect(make_url(url).database) as conn:  # a row the store certainly holds
        conn.execute("CREATE TABLE marker (v TEXT)")
        conn.execute("INSERT INTO marker VALUES (?)", (marker,))
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # into the main file, to be seen there
    path = backups.create_backup(url, tmp_path / "backups", bytes.fromhex(KEY))
    assert marker.encode() in Path(make_url(url).database).read_bytes()
    assert marker.encode() not in path.read_bytes()


def test_restore__a_sqlite_backup_into_postgresql__refused(sqlite_stores, tmp_path, pg_database):
    url = sqlite_stores.url()
    sqlite_stores.engine(url)
    path = backups.create_backup(url, tmp_path, bytes.fromhex(KEY))
    pg_url = pg_database.render_as_string(hide_password=False)
    with pytest.raises(BackupError, match="is a sqlite backup"):
        backups.restore_backup(path, pg_url, bytes.fromhex(KEY))


def test_schedule__backs_up_repeatedly_and_keeps_the_newest(sqlite_stores, tmp_path):
    url = sqlite_stores.url()
    sqlite_stores.engine(url)
    folder, made, stop = tmp_path / "backups", [], threading.Event()

    def on_backup(path: Path) -> None:
        made.append(path)
        if len(made) == 4:
            stop.set()

    backups.run_schedule(
        url, folder, bytes.fromhex(KEY), every_seconds=0, keep=2, stop=stop, on_backup=on_backup
    )
    assert sorted(folder.iterdir()) == made[-2:]
