"""`copyvault operator create-admin USERNAME`: the first operator admin, from the command line only.

The password is never an argument (arguments show in `ps` and shell history): it is prompted for
(twice, hidden) on a terminal, or read as the first line of standard input for scripts. The TOTP
provisioning URI is printed once; the admin is stored only after the first code from the
authenticator (prompted, or the next line of standard input) checks out.
"""

from __future__ import annotations

import sys

import click


def _line(prompt: str, *, hidden: bool, confirm: bool = False) -> str:
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=hidden, confirmation_prompt=confirm)
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException(f"standard input ended before the {prompt}")
    return line.rstrip("\r\n")


@click.group()
def operator() -> None:
    """Operator accounts (staff): the first admin. Admins create others through the API."""


@operator.command("create-admin")
@click.argument("username")
def create_admin(username: str) -> None:
    """Create the first admin USERNAME: password from a prompt or stdin, then TOTP enrolment."""
    from datetime import UTC, datetime

    import pyotp
    from sqlalchemy.orm import Session

    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.exceptions import CopyvaultError
    from backend.services import operators

    if not 1 <= len(username) <= 64 or not username.replace("-", "").replace(".", "").isalnum():
        raise click.UsageError("USERNAME has 1 to 64 letters, digits, '-' or '.'")
    try:
        settings = load_settings()
        password = _line("password", hidden=True, confirm=True)
        operators.check_password_rules(password, username)
        seed = pyotp.random_base32()
        uri = operators.provisioning_uri(seed, username)
        operators.seal_totp(seed, username, settings)  # fails early without COPYVAULT_SECRETS_KEY
        click.echo("add this to the admin's authenticator app (shown once):", err=True)
        click.echo(uri)
        code = _line("first TOTP code", hidden=False).strip()
        engine = create_migrated_engine(settings.sqlalchemy_url)
        try:
            with Session(engine) as s:
                operators.create_first_admin(
                    s,
                    username=username,
                    password=password,
                    seed=seed,
                    code=code,
                    settings=settings,
                    now=datetime.now(UTC),
                )
        finally:
            engine.dispose()
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"admin {username} created and enrolled", err=True)
