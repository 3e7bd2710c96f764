"""`copyvault db`: the store's migrations."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """Manage the store (COPYVAULT_DATABASE_URL; default SQLite under ./data)."""


@db.command()
def upgrade() -> None:
    """Migrate the store to the latest schema (creates it when empty)."""
    from backend.config import load_settings
    from backend.db.migrate import head_revision
    from backend.db.migrate import upgrade as run_upgrade

    settings = load_settings()
    run_upgrade(settings.sqlalchemy_url)
    click.echo(f"store at migration {head_revision()}")


@db.command()
@click.option("--yes", is_flag=True, help="Confirm: every indexed row is deleted.")
def reset(yes: bool) -> None:
    """Drop every table and migrate again from empty (the index is rebuilt from the chain)."""
    from backend.config import load_settings
    from backend.db.migrate import downgrade, upgrade

    if not yes:
        raise click.UsageError("this deletes the whole index: pass --yes to confirm")
    settings = load_settings()
    downgrade(settings.sqlalchemy_url, "base")
    upgrade(settings.sqlalchemy_url)
    click.echo("store reset to an empty, migrated schema")
