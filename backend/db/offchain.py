"""The store's off-chain records: every table that is not part of the index (`INDEX_TABLES`).

Proposals, owner signatures, intents and the relayer's batches, transactions, outcomes and
senders record what people submitted and what the relayer did; no chain holds them, so no
re-index can bring them back. Removing them is `purge_offchain`, which first writes every row to a
JSON backup and deletes nothing unless that backup is complete on disk."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, Table, delete, select

from backend.db.audit_models import AUDIT_TABLES
from backend.db.compliance_models import COMPLIANCE_TABLES
from backend.db.engine import write_transaction
from backend.db.models import INDEX_TABLES, Base
from backend.db.operator_models import PLATFORM_TABLES
from backend.exceptions import StoreError

BACKUP_FORMAT: Final = "copyvault-offchain-backup/1"


def offchain_tables() -> list[Table]:
    """The tables the chain cannot rebuild, parents before children (`backend.db` registers the
    proposal and relay models in `Base.metadata`). Operators' accounts, controls and record
    (`PLATFORM_TABLES`), the audit trail (`AUDIT_TABLES`) and compliance's record
    (`COMPLIANCE_TABLES`) are not off-chain records: they stay."""
    kept = {
        model.__table__.name
        for model in (*INDEX_TABLES, *PLATFORM_TABLES, *AUDIT_TABLES, *COMPLIANCE_TABLES)
    }
    return [table for table in Base.metadata.sorted_tables if table.name not in kept]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLite gives back naive datetimes; the store writes every time in UTC.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def _lock_against_writers(conn: Connection, tables: list[Table]) -> None:
    """No row may be added between the backup and the delete. SQLite: the write transaction
    already holds the database's write lock. PostgreSQL: lock the tables (reads go on)."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
        conn.exec_driver_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")


def _write_backup(path: Path, document: dict[str, Any]) -> None:
    """Write `document` to `path` completely (flushed to disk) or not at all."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("x", encoding="utf-8") as out:
        json.dump(document, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def purge_offchain(engine: Engine, backup: Path) -> dict[str, int]:
    """Back every off-chain row up to `backup` (a new JSON file), then delete them all, in one
    transaction. Returns the rows removed per table."""
    if backup.exists():
        raise StoreError(f"the backup file {backup} already exists: choose a new path")
    if not backup.parent.is_dir():
        raise StoreError(f"the backup's folder {backup.parent} does not exist")
    tables = offchain_tables()
    with write_transaction(engine) as conn:
        _lock_against_writers(conn, tables)
        rows = {
            table.name: [
                {key: _jsonable(value) for key, value in row.items()}
                for row in conn.execute(select(table)).mappings()
            ]
            for table in tables
        }
        _write_backup(backup, {"format": BACKUP_FORMAT, "tables": rows})
        for table in reversed(tables):
            conn.execute(delete(table))
    return {name: len(table_rows) for name, table_rows in rows.items()}
