"""Running the store's Alembic migrations from code: `upgrade(url)` brings any database (empty or
older) to the current schema; the same migrations serve SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from backend.db.engine import create_store_engine
from backend.exceptions import StoreError

ALEMBIC_INI: Final = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    if url is not None:
        # Through attributes, not set_main_option: ConfigParser would choke on a "%" in a password.
        config.attributes["url"] = url
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (default: the latest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def check_current(engine: Engine) -> None:
    """StoreError unless the database is at the latest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StoreError(
            f"the store is at migration {current or '(empty)'} but the code needs {head}: run "
            "`copyvault db upgrade` (or start `copyvault serve`, which migrates by default)"
        )


def create_migrated_engine(url: str) -> Engine:
    """Migrate `url` to the latest schema, then return an engine for it."""
    upgrade(url)
    return create_store_engine(url)
