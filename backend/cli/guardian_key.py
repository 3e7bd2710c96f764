"""`copyvault guardian-key`: make, import and check the platform guardian's encrypted key.

Like the relayer key: never an argument, never printed; `import` reads it from standard input.
Its address is what the platform admin passes to the factory's `setGuardian`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from backend.cli.relayer_key import _force, _out, _write, read_private_key

PURPOSE = "guardian-key"


@click.group(name="guardian-key")
def guardian_key() -> None:
    """The platform guardian's key, encrypted at rest (COPYVAULT_GUARDIAN_KEY_FILE)."""


@guardian_key.command()
@_out
@_force
def new(out: Path, force: bool) -> None:
    """Generate a guardian key, write it encrypted with COPYVAULT_SECRETS_KEY; print its address."""
    _write(out, secrets.token_hex(32), force, PURPOSE, "guardian")


@guardian_key.command(name="import")
@_out
@_force
def import_key(out: Path, force: bool) -> None:
    """Encrypt an existing private key read from standard input (hex, 0x optional)."""
    _write(out, read_private_key(), force, PURPOSE, "guardian")


@guardian_key.command()
def address() -> None:
    """Decrypt COPYVAULT_GUARDIAN_KEY_FILE with the configured secret and print its address."""
    from backend.config import load_settings
    from backend.exceptions import CopyvaultError
    from backend.security.guardian_key import load_guardian_signer

    try:
        click.echo(load_guardian_signer(load_settings()).address)
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
