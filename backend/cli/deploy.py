"""`copyvault deploy`: deploy (or complete) copyvault on a node and write the deployment file.

The same run as `ape run deploy` (backend/chain/deploy_run.py); this one reaches the node by URL.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click


def run_options(command):
    """The options `copyvault deploy` and `ape run deploy` share (one definition for both)."""
    options = (
        click.option(
            "--admin",
            default=None,
            help="The platform admin, holder of every platform role from construction (a Safe "
            "on a real network). Default: the deployer.",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="Accept an admin without code (a single key) on a network that is not local.",
        ),
        click.option(
            "--fresh", is_flag=True, help="Ignore an existing deployment file (node was reset)."
        ),
        click.option(
            "--anchorer",
            default=None,
            help="Address that publishes audit anchors (`copyvault audit anchorer-key "
            "address`); default: the admin.",
        ),
        click.option(
            "--networks-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="Tokens, feeds and venues per chain id. Default: deployments/networks.yaml.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@click.option(
    "--rpc",
    "rpc_url",
    envvar="COPYVAULT_RPC_URL",
    default="http://127.0.0.1:8545",
    show_default=True,
    help="JSON-RPC URL of the node.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("deployment.json"),
    show_default=True,
    help="The deployment JSON (the file `copyvault serve` reads by default). An existing one is "
    "completed, not replaced.",
)
@click.option(
    "--account",
    default=None,
    help="Deploy from this Ape account (alias from `ape accounts list`; TEST::0 for a test "
    "account). Ape asks for its passphrase when it signs.",
)
@run_options
@click.option(
    "--from",
    "from_address",
    default=None,
    help="Deploy from this account, signed by the node (anvil's dev accounts).",
)
@click.option(
    "--test-assets/--no-test-assets",
    default=None,
    help="Local chains: deploy test tokens, mock feeds and a seeded Uniswap V2 venue (default: "
    "as the networks file says).",
)
def deploy(
    rpc_url: str,
    out: Path,
    account: str | None,
    admin: str | None,
    force: bool,
    fresh: bool,
    networks_file: Path | None,
    from_address: str | None,
    test_assets: bool | None,
    anchorer: str | None,
) -> None:
    """Deploy copyvault to the node (idempotent: only what is missing), register the network's
    venues and feeds, and write the deployment file."""
    from backend.chain.artifacts import ensure_compiled
    from backend.chain.client import ChainClient
    from backend.chain.deploy_run import run_deploy, summary
    from backend.config import load_settings

    settings = load_settings(rpc_url=rpc_url)
    ensure_compiled(settings.artifacts_file)
    client = ChainClient.from_settings(settings)
    with _ape_connected(rpc_url, account):
        report, path = run_deploy(
            client,
            _sender(client, settings, account, from_address),
            out=out,
            admin=admin,
            force=force,
            fresh=fresh,
            networks_file=networks_file,
            test_assets=test_assets,
            anchorer=anchorer,
            log=lambda m: click.echo(m, err=True),
        )
    for line in summary(report, path):
        click.echo(line)


def _ape_connected(rpc_url: str, account: str | None):
    """Ape on the same node when an Ape account signs (it shows each transaction first)."""
    if account is None:
        return contextlib.nullcontext()
    from backend.chain.ape_accounts import connected

    return connected(rpc_url)


def _sender(client, settings, account: str | None, from_address: str | None):
    """The deployer: an Ape account, an account the node signs for, or COPYVAULT_DEPLOYER_KEY."""
    from backend.chain.tx import KeySender, UnlockedSender
    from backend.exceptions import DeploymentError

    if account is not None:
        from backend.chain.ape_accounts import ape_sender, load_account

        return ape_sender(client, load_account(account))
    if from_address is not None:
        return UnlockedSender(client, from_address)
    if settings.deployer_key is not None:
        return KeySender(client, settings.deployer_key.get_secret_value())
    accounts = client.request("eth_accounts")
    if not accounts:
        raise DeploymentError(
            "the node manages no accounts: pass --account ALIAS (an Ape account: `ape accounts "
            "import ALIAS`), or set COPYVAULT_DEPLOYER_KEY to the deployer's private key (0x-hex)"
        )
    return UnlockedSender(client, accounts[0])
