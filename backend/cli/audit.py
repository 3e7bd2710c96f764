"""`copyvault audit`: check the audit trail against its on-chain anchors, prove an intent's
acceptance, run the anchorer, and make the anchorer's key.

    copyvault audit verify               recompute the log, check it against the anchors; exit 1
                                         naming the first tampered, deleted, reordered or
                                         unanchored entry
    copyvault audit prove DIGEST         the intent's Merkle proof (JSON), checked against the chain
    copyvault audit anchor [--once]      the anchorer alone (or one anchor if due)
    copyvault audit anchorer-key new|import|address
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import click

from backend.cli.relayer_key import _force, _out, _write, read_private_key

ANCHORER_PURPOSE = "anchorer-key"


@click.group()
def audit() -> None:
    """The audit trail (docs/audit-trail.md)."""


def _context() -> tuple[Any, Any, Any, Any]:
    """(settings, engine, deployment, anchor contract) for the configured store and chain."""
    from backend.audit.anchors import AnchorContract
    from backend.chain.artifacts import load
    from backend.chain.client import ChainClient
    from backend.chain.deploy import Deployment
    from backend.config import load_settings
    from backend.db.engine import create_store_engine
    from backend.db.migrate import check_current

    settings = load_settings()
    engine = create_store_engine(settings.sqlalchemy_url)
    check_current(engine)
    deployment = Deployment.load(settings.deployment_file)
    client = ChainClient.from_settings(settings)
    contract = AnchorContract(client, deployment.audit_anchor, load(settings.artifacts_file))
    return settings, engine, deployment, contract


@audit.command()
@click.option(
    "--max-unanchored-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Entries older than this and not yet anchored are findings "
    "[default: twice COPYVAULT_ANCHOR_INTERVAL_SECONDS plus the settle delay].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(max_unanchored_seconds: int | None, as_json: bool) -> None:
    """Recompute every entry from the store and check it against the anchors on chain."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from backend.audit.verify import verify_log

    settings, engine, deployment, contract = _context()
    if max_unanchored_seconds is None:
        max_unanchored_seconds = (
            2 * settings.anchor_interval_seconds + settings.anchor_settle_seconds
        )
    with Session(engine) as session:
        report = verify_log(
            session,
            contract.all(),
            chain_id=deployment.chain_id,
            now=datetime.now(UTC),
            max_unanchored_seconds=max_unanchored_seconds,
        )
    engine.dispose()
    if as_json:
        document = {
            "ok": report.ok,
            "entries": report.entries,
            "anchors": report.anchors,
            "findings": [f.to_json() for f in report.findings],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(f"{report.entries} entries, {report.anchors} anchors on chain")
        for finding in report.findings:
            click.echo(f"{finding.kind}: {finding.message}")
        click.echo("ok: the log matches its anchors" if report.ok else "FAILED", err=True)
    if not report.ok:
        raise SystemExit(1)


@audit.command()
@click.argument("digest")
def prove(digest: str) -> None:
    """Print the Merkle proof that intent DIGEST was accepted (JSON), and check it on chain."""
    from sqlalchemy.orm import Session

    from backend.audit.prove import accepted_at
    from backend.audit.prove import prove as make_proof
    from backend.exceptions import CopyvaultError

    digest = _digest(digest)
    settings, engine, deployment, contract = _context()
    try:
        with Session(engine) as session:
            second = accepted_at(session, deployment.chain_id, digest)
            anchor = contract.covering(second)
            proof = make_proof(
                session, chain_id=deployment.chain_id, digest=digest, anchor=anchor, second=second
            )
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    on_chain = contract.verify_intent(
        proof.anchor.index, bytes.fromhex(digest[2:]), second, proof.proof_bytes
    )
    click.echo(json.dumps(proof.to_json() | {"verified_on_chain": on_chain}, indent=2))
    if not on_chain:
        raise click.ClickException("the contract does not accept this proof")


def _digest(value: str) -> str:
    text = value.strip().lower()
    if len(text) != 66 or not text.startswith("0x"):
        raise click.BadParameter("a digest is 0x and 64 hex digits", param_hint="DIGEST")
    try:
        bytes.fromhex(text[2:])
    except ValueError:
        raise click.BadParameter("a digest is 0x and 64 hex digits", param_hint="DIGEST") from None
    return text


@audit.command()
@click.option("--once", is_flag=True, help="Publish one anchor if one is due, then exit.")
def anchor(once: bool) -> None:
    """The anchorer alone, in the foreground (COPYVAULT_ANCHORER_KEY_FILE signs)."""
    import signal
    import threading

    from backend.api.app import build_anchorer, build_state
    from backend.audit.anchorer import run_in_thread
    from backend.config import load_settings
    from backend.exceptions import CopyvaultError

    try:
        state = build_state(load_settings(indexer_enabled=False))
        anchorer = build_anchorer(state.settings, state)
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    if once:
        row = anchorer.anchor_if_due()
        click.echo(f"anchor {row.anchor_index}: tx {row.tx_hash}" if row else "no anchor due")
        state.dispose()
        return
    thread, stop = run_in_thread(anchorer)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    click.echo(f"anchoring: {anchorer!r}; Ctrl-C to stop", err=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    stop.set()
    thread.join(30)
    state.dispose()


@audit.group(name="anchorer-key")
def anchorer_key() -> None:
    """The anchorer's key, encrypted at rest (COPYVAULT_ANCHORER_KEY_FILE)."""


@anchorer_key.command()
@_out
@_force
def new(out: Path, force: bool) -> None:
    """Generate an anchorer key, encrypted with COPYVAULT_SECRETS_KEY; print its address."""
    _write(out, secrets.token_hex(32), force, ANCHORER_PURPOSE, "anchorer")


@anchorer_key.command(name="import")
@_out
@_force
def import_key(out: Path, force: bool) -> None:
    """Encrypt an existing private key read from standard input (hex, 0x optional)."""
    _write(out, read_private_key(), force, ANCHORER_PURPOSE, "anchorer")


@anchorer_key.command()
def address() -> None:
    """Decrypt COPYVAULT_ANCHORER_KEY_FILE with the configured secret and print its address."""
    from backend.config import load_settings
    from backend.exceptions import CopyvaultError
    from backend.security.anchorer_key import load_anchorer_signer

    try:
        click.echo(load_anchorer_signer(load_settings()).address)
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
