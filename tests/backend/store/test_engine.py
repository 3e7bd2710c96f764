"""Engines: SQLite by default under the data folder, WAL and foreign keys on; PostgreSQL through
psycopg 3 only."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.config import load_settings
from backend.db.engine import check_connection, create_store_engine, reading_engine, sqlite_path
from backend.exceptions import StoreError


def test_sqlite__default_is_a_file_under_the_data_folder(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'data' / 'copyvault.db'}"
    engine = create_store_engine(settings.sqlalchemy_url)
    check_connection(engine)
    assert sqlite_path(settings.sqlalchemy_url).is_file()
    engine.dispose()


def test_sqlite__wal_and_foreign_keys(sqlite_stores):
    engine = sqlite_stores.engine()
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_default_relative_data_dir_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings().sqlalchemy_url == "sqlite:///data/copyvault.db"


def test_postgresql__only_the_psycopg_driver(pg_database):
    with pytest.raises(StoreError, match=r"postgresql\+psycopg://"):
        create_store_engine(pg_database.set(drivername="postgresql+asyncpg").render_as_string())
    engine = create_store_engine(pg_database.render_as_string(hide_password=False))
    check_connection(engine)
    engine.dispose()


def test_unreachable_store__clear_error():
    engine = create_store_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreError, match="cannot connect to the store"):
        check_connection(engine)


def _transaction_status(session: Session) -> TransactionStatus:
    return session.connection().connection.dbapi_connection.info.transaction_status


def test_reading_engine__postgresql_reads_send_no_begin_sqlite_unchanged(stores):
    """Read sessions (intake's checks) on PostgreSQL run in autocommit: no transaction is open on
    the server after a read, so none is begun or rolled back; the pool's connections still begin
    one for every other session afterwards. SQLite keeps its engine as it is."""
    engine = stores.engine()
    reading = reading_engine(engine)
    if stores.backend == "sqlite":
        assert reading is engine
        return
    for _ in range(2):  # the second time on a connection the read session has used
        with Session(reading) as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
            assert _transaction_status(session) == TransactionStatus.IDLE
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            assert _transaction_status(session) == TransactionStatus.INTRANS
