"""The same Alembic migrations build the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from backend.db.migrate import (
    check_current,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from backend.db.models import Base
from backend.exceptions import StoreError


def test_migrations__up_from_empty__creates_every_table(stores):
    url = stores.url()
    engine = stores.engine(url, migrate=False)
    assert current_revision(engine) is None
    with pytest.raises(StoreError, match="copyvault db upgrade"):
        check_current(engine)
    upgrade(url)
    assert current_revision(engine) == head_revision()
    check_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_migrations__schema_equals_the_models(stores):
    """Nothing for autogenerate to add: the migrations and the models describe the same schema."""
    engine = stores.engine()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations__upgrade_twice_is_a_no_op(stores):
    url = stores.url()
    upgrade(url)
    upgrade(url)
    assert current_revision(stores.engine(url, migrate=False)) == head_revision()


def test_migrations__down_to_base_and_up_again(stores):
    url = stores.url()
    engine = stores.engine(url)
    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
