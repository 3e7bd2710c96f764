"""`copyvault relayer-key`: make and check the relayer's encrypted sender key.

The private key is never an argument (arguments show in `ps` and shell history) and never
printed: `import` reads it from standard input, `new` draws it from the OS's random source.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click


@click.group(name="relayer-key")
def relayer_key() -> None:
    """The relayer's sender key, encrypted at rest (COPYVAULT_RELAYER_KEY_FILE)."""


@relayer_key.command(name="secrets-key")
def secrets_key() -> None:
    """Print a new random COPYVAULT_SECRETS_KEY (64 hex digits); store it as a secret."""
    from backend.security.encryption import generate_secrets_key

    click.echo(generate_secrets_key())


_out = click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Key file."
)
_force = click.option("--force", is_flag=True, help="Overwrite an existing key file.")


@relayer_key.command()
@_out
@_force
def new(out: Path, force: bool) -> None:
    """Generate a sender key, write it encrypted with COPYVAULT_SECRETS_KEY; print its address."""
    _write(out, secrets.token_hex(32), force)


@relayer_key.command(name="import")
@_out
@_force
def import_key(out: Path, force: bool) -> None:
    """Encrypt an existing private key read from standard input (hex, 0x optional)."""
    _write(out, read_private_key(), force)


@relayer_key.command()
def address() -> None:
    """Decrypt COPYVAULT_RELAYER_KEY_FILE with the configured secret and print its address."""
    from backend.config import load_settings
    from backend.exceptions import CopyvaultError
    from backend.security.relayer_key import load_relayer_signer

    try:
        click.echo(load_relayer_signer(load_settings()).address)
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None


def _write(
    out: Path, key_hex: str, force: bool, purpose: str = "relayer-key", label: str = "relayer"
) -> None:
    from backend.config import load_settings
    from backend.exceptions import ConfigError, CopyvaultError
    from backend.security.encryption import parse_secrets_key
    from backend.security.relayer_key import write_encrypted_key

    try:
        settings = load_settings()
        if settings.secrets_key is None:
            raise ConfigError(
                "COPYVAULT_SECRETS_KEY is not set; `copyvault relayer-key secrets-key` makes one"
            )
        key = parse_secrets_key(settings.secrets_key.get_secret_value())
        written = write_encrypted_key(out, key_hex, key, overwrite=force, purpose=purpose)
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} (mode 0600) for {label} address {written}")
    click.echo(f"set COPYVAULT_{label.upper()}_KEY_FILE={out}", err=True)


def read_private_key() -> str:
    """A private key from standard input (a hidden prompt on a terminal)."""
    if sys.stdin.isatty():
        return click.prompt("private key", hide_input=True)
    return sys.stdin.readline()
