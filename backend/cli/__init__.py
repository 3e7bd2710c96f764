"""The `copyvault` command line. One module per command group; each imports its heavy
dependencies (web3, SQLAlchemy, FastAPI) inside the command, so `copyvault --help` is instant.

    copyvault node                      start a local anvil node
    copyvault deploy --rpc URL --out F  deploy the contracts and write a deployment file
    copyvault serve [--local]           the API with the indexer in-process
    copyvault index                     the indexer alone
    copyvault reindex                   rebuild the index from the chain and check it
    copyvault relay [--workers N]       relayer workers alone (intents -> mirrorAggregated)
    copyvault guardian-key new|import   the platform guardian's encrypted key
    copyvault operator create-admin U   the first operator admin (password, TOTP)
    copyvault db upgrade                the store's migrations
    copyvault db purge-offchain         delete off-chain records (after a backup)
    copyvault backup [--every S]        an encrypted backup of the store (or one every S seconds)
    copyvault restore FILE|--latest     replace the store with a backup
    copyvault compliance load-list F    the sanctions list (OFAC SDN.XML or SDN.CSV)
    copyvault compliance screen         screen new depositors, owners, leaders; open cases
    copyvault compliance purge-evidence delete KYC evidence past its retention
    copyvault keys rotate               re-encrypt every secret under a new master key
    copyvault db app-role NAME          PostgreSQL role the application runs as (audit_log: insert)
    copyvault audit verify|prove|anchor the audit trail and its on-chain anchors
    copyvault risk webhook-secret       the risk alerts' webhook secret, encrypted

User commands (backend/cli/user/, docs/cli.md): vault, withdrawal, config, leader, intent.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

# Command name -> "module:attribute", imported only when the command (or the help) needs it.
COMMANDS = {
    "node": "backend.cli.node:node",
    "deploy": "backend.cli.deploy:deploy",
    "serve": "backend.cli.serve:serve",
    "index": "backend.cli.index:index",
    "reindex": "backend.cli.reindex:reindex",
    "relay": "backend.cli.relay:relay",
    "relayer-key": "backend.cli.relayer_key:relayer_key",
    "guardian-key": "backend.cli.guardian_key:guardian_key",
    "operator": "backend.cli.operator:operator",
    "db": "backend.cli.db:db",
    # backups
    "backup": "backend.cli.backup:backup",
    "restore": "backend.cli.backup:restore",
    # User command line (issue 14): followers, co-owners and leaders; docs/cli.md.
    "vault": "backend.cli.user.vault:vault",
    "withdrawal": "backend.cli.user.proposals:withdrawal",
    "config": "backend.cli.user.proposals:config",
    "leader": "backend.cli.user.leader:leader",
    "intent": "backend.cli.user.intent:intent",
    # compliance and keys (engineer H's block)
    "compliance": "backend.cli.compliance:compliance",
    "keys": "backend.cli.keys:keys",
    # audit trail
    "audit": "backend.cli.audit:audit",
    # risk engine (docs/risk.md)
    "risk": "backend.cli.risk:risk",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)


def _version() -> str:
    """The installed package's version, else the one pyproject.toml declares (a source checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("copyvault")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


def _print_version(ctx: click.Context, _param: click.Parameter, wanted: bool) -> None:
    if wanted and not ctx.resilient_parsing:
        click.echo(f"copyvault {_version()}")
        ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print copyvault's version and exit.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="How much to log.",
)
def cli(log_level: str) -> None:
    """copyvault: security-first on-chain copy trading (contracts, indexer, API).

    Settings come from COPYVAULT_* environment variables (each option's help names its
    variable; docs/backend.md lists them all); options override them.
    """
    level = getattr(logging, log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic narrates every migration step at INFO; keep it for --log-level debug.
    if level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the `copyvault` script: copyvault errors print as one line, exit code 1."""
    from backend.chain.redact import scrub
    from backend.exceptions import CopyvaultError

    try:
        return cli.main(args=argv, prog_name="copyvault", standalone_mode=False)
    except click.exceptions.Abort as exc:
        # Click turns Ctrl-C into Abort; a shell expects 130 (128 + SIGINT) for it.
        interrupted = isinstance(exc.__context__, KeyboardInterrupt)
        click.echo("interrupted" if interrupted else "aborted", err=True)
        sys.exit(130 if interrupted else 1)
    except click.ClickException as exc:
        exc.message = scrub(exc.message)
        exc.show()
        sys.exit(exc.exit_code)
    except CopyvaultError as exc:
        click.echo(f"error: {scrub(str(exc))}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
