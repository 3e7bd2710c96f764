"""`copyvault db app-role` (backend/db/roles.py): on PostgreSQL the application's role appends to
the audit log and reads it, but cannot UPDATE, DELETE or TRUNCATE it, whatever the triggers."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.db.engine import create_store_engine
from backend.db.roles import create_app_role
from backend.exceptions import StoreError
from backend.services import audit_log


@pytest.fixture
def app_engine(pg_stores):
    """(owner engine, an engine connected as a fresh application role) on one migrated store."""
    url = pg_stores.url()
    owner = pg_stores.engine(url)
    role = f"cv_app_{secrets.token_hex(4)}"
    create_app_role(owner, role)
    app = create_store_engine(make_url(url).set(username=role).render_as_string(False))
    yield owner, app
    app.dispose()
    with owner.begin() as conn:
        conn.execute(text(f'DROP OWNED BY "{role}"'))
        conn.execute(text(f'DROP ROLE "{role}"'))


def _append(engine) -> None:
    with Session(engine) as s:
        audit_log.append(s, category="backup", actor="system:backup", action="backup.take")
        s.commit()


def test_app_role__appends_and_reads_the_audit_log(app_engine):
    owner, app = app_engine
    _append(app)
    _append(app)
    with Session(app) as s:
        assert audit_log.head(s)[0] == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_anchors SET head_seq = 0",
        "DELETE FROM audit_anchors",
    ],
)
def test_app_role__rewriting_the_record__permission_denied_even_without_triggers(
    app_engine, statement
):
    owner, app = app_engine
    _append(app)
    with owner.begin() as conn:  # the owner removes the trigger: privileges still hold
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    with pytest.raises(DBAPIError, match="permission denied"), app.begin() as conn:
        conn.execute(text(statement))


def test_app_role__other_tables__written_as_usual(app_engine):
    owner, app = app_engine
    with app.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO relayer_controls (chain_id, paused, changed_at) "
                "VALUES (1, true, now())"
            )
        )
        conn.execute(text("UPDATE relayer_controls SET paused = false WHERE chain_id = 1"))
        conn.execute(text("DELETE FROM relayer_controls WHERE chain_id = 1"))


def test_app_role__on_sqlite__refused_with_the_reason(sqlite_stores):
    with pytest.raises(StoreError, match="PostgreSQL feature"):
        create_app_role(sqlite_stores.engine(), "cv_app")


def test_db_app_role_command__creates_the_role_and_refuses_sqlite(pg_stores, sqlite_stores):
    import os
    import subprocess
    import sys
    from pathlib import Path

    def run(url: str, role: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "backend.cli", "db", "app-role", role],
            cwd=Path(__file__).resolve().parents[3],
            env=os.environ | {"COPYVAULT_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )

    url = pg_stores.url()
    owner = pg_stores.engine(url)
    role = f"cv_app_{secrets.token_hex(4)}"
    done = run(url, role)
    assert done.returncode == 0, done.stderr
    assert "insert-only on the audit trail" in done.stdout
    with owner.begin() as conn:
        granted = conn.scalar(
            text(
                "SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) "
                "FROM information_schema.role_table_grants "
                "WHERE grantee = :r AND table_name = 'audit_log'"
            ),
            {"r": role},
        )
        conn.execute(text(f'DROP OWNED BY "{role}"'))
        conn.execute(text(f'DROP ROLE "{role}"'))
    assert granted == "INSERT,SELECT"
    refused = run(sqlite_stores.url(), "cv_app")
    assert refused.returncode == 1 and "PostgreSQL feature" in refused.stderr
