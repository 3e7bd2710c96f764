"""`copyvault backup` and `copyvault restore`: encrypted copies of the store and bringing one back.

A restore replaces the store with what it held at the backup; the index is then brought up to the
chain's head by `copyvault reindex` (or by the indexer, which carries on from the restored cursor).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the backups (default: COPYVAULT_BACKUP_DIR, else <data_dir>/backups).",
)


def _settings_and_key():
    from backend.config import load_settings
    from backend.security.encryption import parse_secrets_key

    settings = load_settings()
    secret = settings.require("backup_key")
    return settings, parse_secrets_key(secret.get_secret_value(), name="COPYVAULT_BACKUP_KEY")


def _directory(settings, directory: Path | None) -> Path:
    return directory or settings.backup_dir or settings.data_dir / "backups"


@click.command()
@DIR_OPTION
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    help="Keep running: a backup every this many seconds (until Ctrl-C).",
)
@click.option(
    "--keep", type=click.IntRange(min=1), default=24, show_default=True, help="Newest kept."
)
@click.option("--list", "list_only", is_flag=True, help="List the backups and exit.")
@click.option("--new-key", is_flag=True, help="Print a new COPYVAULT_BACKUP_KEY and exit.")
def backup(
    directory: Path | None, every: float | None, keep: int, list_only: bool, new_key: bool
) -> None:
    """Seal a copy of the store (COPYVAULT_DATABASE_URL) with COPYVAULT_BACKUP_KEY into a new file:
    SQLite through its online backup API, PostgreSQL through pg_dump. The API may keep running."""
    from backend.db import backup as backups

    if new_key:
        from backend.security.encryption import generate_secrets_key

        click.echo(generate_secrets_key())
        return
    if list_only:
        _list(backups, _directory(_load_settings(), directory))
        return
    settings, key = _settings_and_key()
    folder = _directory(settings, directory)
    if every is None:
        path = backups.create_backup(settings.sqlalchemy_url, folder, key)
        backups.prune(folder, keep)
        click.echo(f"backup written to {path}")
        return
    _run_scheduled(backups, settings.sqlalchemy_url, folder, key, every, keep)


def _load_settings():
    from backend.config import load_settings

    return load_settings()


def _list(backups, folder: Path) -> None:
    paths = sorted(folder.glob(f"copyvault-*{backups.SUFFIX}")) if folder.exists() else []
    if not paths:
        click.echo(f"no backups in {folder}")
    for path in paths:
        info = backups.describe(path)
        click.echo(f"{path}  {info.store}  {info.created_at}  schema {info.revision}")


def _run_scheduled(backups, url: str, folder: Path, key: bytes, every: float, keep: int) -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"a backup every {every:g} s into {folder}, keeping {keep}; Ctrl-C stops")
    backups.run_schedule(
        url,
        folder,
        key,
        every_seconds=every,
        keep=keep,
        stop=stop,
        on_backup=lambda path: click.echo(f"backup written to {path}"),
    )


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@DIR_OPTION
@click.option("--latest", is_flag=True, help="Restore the newest backup in --dir.")
@click.option("--yes", is_flag=True, help="Confirm: the store's current content is replaced.")
def restore(file: Path | None, directory: Path | None, latest: bool, yes: bool) -> None:
    """Replace the store (COPYVAULT_DATABASE_URL) with a backup, then migrate it to this version's
    schema. Stop the API, indexer and relayer first. The backup is decrypted and authenticated
    completely before the store is touched."""
    from backend.db import backup as backups
    from backend.db.migrate import upgrade

    if (file is None) == (not latest):
        raise click.UsageError("name a backup FILE or pass --latest (not both)")
    if not yes:
        raise click.UsageError("this replaces the store's content: pass --yes to confirm")
    settings, key = _settings_and_key()
    path = file or backups.latest_backup(_directory(settings, directory))
    info = backups.restore_backup(path, settings.sqlalchemy_url, key)
    upgrade(settings.sqlalchemy_url)
    backups.record(
        settings.sqlalchemy_url,
        "backup.restore",
        {"file": path.name, "store": info.store, "made_at": info.created_at},
    )
    click.echo(
        f"restored {path.name} ({info.store}, made {info.created_at}); now run "
        "`copyvault reindex` to bring the index up to the chain"
    )
