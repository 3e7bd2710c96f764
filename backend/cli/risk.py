"""`copyvault risk`: the risk engine's secrets (docs/risk.md)."""

from __future__ import annotations

import secrets
from pathlib import Path

import click


@click.group(name="risk")
def risk() -> None:
    """The risk engine: the signed webhook of its alerts."""


@risk.command(name="webhook-secret")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write."
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
def webhook_secret(out: Path, force: bool) -> None:
    """Generate the alerts' HMAC secret, write it encrypted with COPYVAULT_SECRETS_KEY, and print
    it once (hex) for the receiver, which verifies each alert's signature with it."""
    from backend.config import load_settings
    from backend.exceptions import CopyvaultError
    from backend.risk.alerts import SECRET_BYTES, VARIABLE, write_secret_file

    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        write_secret_file(out, secret, load_settings(), overwrite=force)
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(secret.hex())
    click.echo(
        f"wrote {out} (mode 0600); set {VARIABLE}={out} and give the receiver the secret above "
        "(shown once)",
        err=True,
    )
