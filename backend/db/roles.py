"""The PostgreSQL role the application runs as (`copyvault db app-role`): it reads and writes the
store's tables like the owner, except the audit trail's, which it may only INSERT into and SELECT
from. Migrations keep running as the owner; the API, indexer, relayer and anchorer connect as
this role, so a bug or an attacker in them cannot rewrite the record, even with the triggers gone.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from backend.db.audit_models import AUDIT_TABLES
from backend.exceptions import StoreError

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_app_role(engine: Engine, role: str, *, password: str | None = None) -> None:
    """Create `role` (LOGIN) if missing and grant it the store's tables in the engine's schema;
    run it again after each migration (new tables need their grants)."""
    if engine.dialect.name != "postgresql":
        raise StoreError(
            "application roles are a PostgreSQL feature; on SQLite the audit log's triggers "
            "refuse updates and deletes, and the file's permissions guard the rest"
        )
    if not _ROLE_NAME.match(role):
        raise StoreError(
            f"{role!r} is not a plain role name: use lowercase letters, digits and _ (max 63)"
        )
    with engine.begin() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if not exists:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        if password is not None:
            literal = "'" + password.replace("'", "''") + "'"
            conn.execute(text(f'ALTER ROLE "{role}" PASSWORD {literal}'))
        schema = conn.scalar(text("SELECT current_schema()"))
        quoted = f'"{schema}"'
        conn.execute(text(f'GRANT USAGE ON SCHEMA {quoted} TO "{role}"'))
        conn.execute(
            text(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {quoted} TO "{role}"'
            )
        )
        conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quoted} TO "{role}"'))
        for model in AUDIT_TABLES:
            table = f'{quoted}."{model.__tablename__}"'
            conn.execute(text(f'REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM "{role}"'))
