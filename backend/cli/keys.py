"""`copyvault keys rotate`: re-encrypt every secret under a new COPYVAULT_SECRETS_KEY.

The new key comes from COPYVAULT_NEW_SECRETS_KEY (an environment variable, never an argument:
arguments show in `ps` and shell history); `copyvault relayer-key secrets-key` makes one. Stop
every copyvault process first; start them again with COPYVAULT_SECRETS_KEY set to the new key.
"""

from __future__ import annotations

import click


@click.group()
def keys() -> None:
    """The master key that encrypts secrets at rest."""


@keys.command("rotate")
def rotate() -> None:
    """Re-encrypt the relayer and guardian key files, TOTP seeds and KYC evidence from
    COPYVAULT_SECRETS_KEY to COPYVAULT_NEW_SECRETS_KEY (the store in one transaction)."""
    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.services.key_rotation import rotate as run_rotate

    settings = load_settings()
    engine = create_migrated_engine(settings.sqlalchemy_url)
    try:
        report = run_rotate(engine, settings)
    finally:
        engine.dispose()
    for where, count in report.stored.items():
        click.echo(f"re-encrypted {count} in {where}")
    for path in report.files:
        click.echo(f"re-encrypted key file {path}")
    click.echo(
        "done: set COPYVAULT_SECRETS_KEY to the new key (and unset COPYVAULT_NEW_SECRETS_KEY) "
        "before starting copyvault again",
        err=True,
    )
