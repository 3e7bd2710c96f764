"""Real store outages for the tests of what the backend does while its store is gone: PostgreSQL
refusing connections to the test database (its open connections terminated), SQLite's file
replaced by a directory (`unable to open database file`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.backend.conftest import PG_ADMIN_URL, _psycopg_conninfo


@contextmanager
def postgresql_refuses(database: str) -> Iterator[None]:
    with psycopg.connect(_psycopg_conninfo(make_url(PG_ADMIN_URL)), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')


@contextmanager
def store_down(engine: Engine) -> Iterator[None]:
    """The store of `engine` unreachable until the block ends, on either backend."""
    if engine.dialect.name == "postgresql":
        with postgresql_refuses(engine.url.database):
            yield
        return
    path = Path(engine.url.database)
    aside = path.with_name(path.name + ".aside")
    engine.dispose()  # no pooled connection keeps the file open
    os.replace(path, aside)
    path.mkdir()
    try:
        yield
    finally:
        shutil.rmtree(path)
        os.replace(aside, path)
        engine.dispose()
