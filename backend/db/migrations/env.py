"""Alembic environment of the copyvault store: one set of migrations for SQLite and PostgreSQL.

The URL comes from `config.attributes["url"]` (set by backend.db.migrate.upgrade) or else from the
settings (COPYVAULT_DATABASE_URL), never from alembic.ini. SQLite runs in batch mode, so that later
migrations can alter tables (SQLite has almost no ALTER TABLE).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from backend.db.engine import create_store_engine
from backend.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url is None:
        from backend.config import load_settings

        url = load_settings().sqlalchemy_url
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_store_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
