"""`copyvault db`: the store's migrations, and the explicit removal of off-chain records.

There is no "reset": the index is rebuilt with `copyvault reindex`, which keeps proposals,
signatures, intents and relay history; removing those needs `db purge-offchain` and a backup."""

from __future__ import annotations

from pathlib import Path

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


@db.command("purge-offchain")
@click.option(
    "--backup",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="New JSON file that receives every row before anything is deleted.",
)
@click.option("--yes", is_flag=True, help="Confirm: the off-chain records are deleted.")
def purge_offchain(backup: Path, yes: bool) -> None:
    """Delete proposals, owner signatures, intents and relay history (none of it is on chain,
    no re-index brings it back) after writing all of it to --backup. The index is kept."""
    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.db.offchain import purge_offchain as run_purge

    if not yes:
        raise click.UsageError("this deletes records that are not on chain: pass --yes to confirm")
    engine = create_migrated_engine(load_settings().sqlalchemy_url)
    try:
        removed = run_purge(engine, backup)
    finally:
        engine.dispose()
    rows = ", ".join(f"{count} {table}" for table, count in removed.items())
    click.echo(f"backup written to {backup}; deleted {rows}")


# ----------------------------------------------------------------------------- audit trail


@db.command("app-role")
@click.argument("name")
@click.option(
    "--password-env",
    default=None,
    help="Name of an environment variable holding the role's password (never an argument).",
)
def app_role(name: str, password_env: str | None) -> None:
    """PostgreSQL: create role NAME for the application (run as the owner, after `db upgrade`).
    It may do everything the application does, but only INSERT into and SELECT from the audit
    trail's tables; point COPYVAULT_DATABASE_URL of the running services at it."""
    import os

    from backend.config import load_settings
    from backend.db.engine import create_store_engine
    from backend.db.roles import create_app_role
    from backend.exceptions import CopyvaultError

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise click.ClickException(f"the environment variable {password_env} is not set")
    engine = create_store_engine(load_settings().sqlalchemy_url)
    try:
        create_app_role(engine, name, password=password)
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"role {name}: insert-only on the audit trail, read-write elsewhere")
