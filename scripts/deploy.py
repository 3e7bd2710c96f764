"""Deploy copyvault on any Ape network:

    ape run deploy --network ethereum:mainnet:node --account ALIAS --admin SAFE_ADDRESS
    ape run deploy --network http://127.0.0.1:8545 --account TEST::0     (a running anvil)

Idempotent: a second run finds deployments/<chain-id>.json and does only what is missing. The
tokens, feeds and venues come from deployments/networks.yaml; the admin Safe's follow-up actions
are written as a Safe Transaction Builder batch (deployments/<chain-id>.safe-tx.json). The same run
as `copyvault deploy` (backend/chain/deploy_run.py); docs/deploy.md walks through it.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, account_option

from backend.cli.deploy import run_options


def _rpc_url(provider) -> str:
    url = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not url:
        raise click.UsageError(
            f"the provider {provider.name} has no HTTP endpoint: choose a network with one "
            "(`ape networks list`), or pass its URL as --network"
        )
    return url


@click.command(cls=ConnectedProviderCommand, short_help="Deploy copyvault (idempotent)")
@account_option()
@run_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Deployment file. Default: deployments/<chain-id>.json.",
)
def cli(provider, account, admin, force, fresh, anchorer, out, networks_file):
    """Deploy copyvault, register the network's venues and feeds, check the code."""
    from backend.chain.ape_accounts import ape_sender
    from backend.chain.artifacts import ensure_compiled
    from backend.chain.client import ChainClient
    from backend.chain.deploy_run import run_deploy, summary
    from backend.exceptions import CopyvaultError

    ensure_compiled()
    client = ChainClient(_rpc_url(provider))
    try:
        report, path = run_deploy(
            client,
            ape_sender(client, account),
            out=out,
            admin=admin,
            force=force,
            fresh=fresh,
            networks_file=networks_file,
            anchorer=anchorer,
            log=lambda m: click.echo(m, err=True),
        )
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    for line in summary(report, path):
        click.echo(line)
