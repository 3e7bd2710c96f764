"""`copyvault compliance ...`: load a sanctions list, screen the index, purge old KYC evidence.

Decisions on screening cases and KYC attestations are the compliance operators' (through the
API, with two-factor); these commands only feed and maintain what they decide on. Each can run
from a scheduler (cron, a systemd timer) while `serve` runs: they take the store's write lock
only for their own short transactions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click


@click.group()
def compliance() -> None:
    """Sanctions list, screening and KYC evidence retention."""


@compliance.command("load-list")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_list(file: Path) -> None:
    """Replace the sanctions list with FILE's Ethereum addresses (OFAC SDN.XML or SDN.CSV); the
    next `screen` checks every known address against it."""
    from sqlalchemy.orm import Session

    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.services.sanctions_list import load_list as load

    settings = load_settings()
    engine = create_migrated_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as s:
            count = load(s, file, datetime.now(UTC))
    finally:
        engine.dispose()
    click.echo(f"sanctions list loaded: {count} Ethereum addresses from {file.name}")


@compliance.command("screen")
def screen() -> None:
    """Screen the depositors, new vaults' owners and registered leaders the index saw since the
    last run against the sanctions list and the factory's sanctions oracle; print the cases
    opened."""
    from sqlalchemy.orm import Session

    from backend.chain.client import ChainClient
    from backend.chain.deploy import Deployment
    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.services.screening import screen as run_screen

    settings = load_settings()
    chain_id = Deployment.load(settings.deployment_file).chain_id
    client = ChainClient.from_settings(settings)
    engine = create_migrated_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as s:
            report = run_screen(s, chain_id=chain_id, client=client, now=datetime.now(UTC))
    finally:
        engine.dispose()
    click.echo(
        f"screened blocks {report.from_block + 1}..{report.to_block}: {report.addresses} "
        f"addresses, {len(report.opened)} cases opened"
        + (f" (ids {', '.join(map(str, report.opened))})" if report.opened else "")
    )


@compliance.command("purge-evidence")
def purge_evidence() -> None:
    """Delete KYC evidence older than COPYVAULT_KYC_EVIDENCE_RETENTION_DAYS (decisions stay)."""
    from sqlalchemy.orm import Session

    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.services.kyc import purge_evidence as purge

    settings = load_settings()
    engine = create_migrated_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as s:
            days = settings.kyc_evidence_retention_days
            count = purge(s, now=datetime.now(UTC), retention_days=days)
    finally:
        engine.dispose()
    click.echo(f"KYC evidence purged from {count} attestations (older than {days} days)")
