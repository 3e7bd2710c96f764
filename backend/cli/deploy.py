"""`copyvault deploy`: deploy the contracts to a node and write the deployment file."""

from __future__ import annotations

from pathlib import Path

import click


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
    help="Where to write the deployment JSON.",
)
@click.option(
    "--admin",
    default=None,
    help="Final holder of every platform role "
    "(a Safe behind a timelock in production). Default: the deployer.",
)
@click.option(
    "--from",
    "from_address",
    default=None,
    help="Deploy from this account, signed by the node (anvil). Default: "
    "COPYVAULT_DEPLOYER_KEY if set, else the node's first account.",
)
@click.option(
    "--test-assets/--no-test-assets",
    default=True,
    show_default=True,
    help="Also deploy test tokens, mock feeds and a seeded Uniswap V2 venue.",
)
@click.option(
    "--anchorer",
    default=None,
    help="Address that publishes audit anchors (`copyvault audit anchorer-key address`); "
    "default: the admin.",
)
def deploy(
    rpc_url: str,
    out: Path,
    admin: str | None,
    from_address: str | None,
    test_assets: bool,
    anchorer: str | None,
) -> None:
    """Deploy registry, oracle, factory (and router), plus test assets, to any node."""
    from backend.chain.artifacts import ensure_compiled
    from backend.chain.client import ChainClient
    from backend.chain.deploy import deploy_system
    from backend.chain.tx import KeySender, Sender, UnlockedSender
    from backend.config import load_settings
    from backend.exceptions import DeploymentError

    settings = load_settings(rpc_url=rpc_url)
    ensure_compiled(settings.artifacts_file)
    client = ChainClient.from_settings(settings)
    sender: Sender
    if from_address is not None:
        sender = UnlockedSender(client, from_address)
    elif settings.deployer_key is not None:
        sender = KeySender(client, settings.deployer_key.get_secret_value())
    else:
        accounts = client.request("eth_accounts")
        if not accounts:
            raise DeploymentError(
                "the node manages no accounts: set COPYVAULT_DEPLOYER_KEY to the deployer's "
                "private key (0x-hex), or pass --from with an account the node unlocks"
            )
        sender = UnlockedSender(client, accounts[0])
    deployment = deploy_system(
        client,
        sender,
        admin=admin,
        test_assets=test_assets,
        anchorer=anchorer,
        log=lambda m: click.echo(m, err=True),
    )
    deployment.save(out)
    click.echo(
        f"deployment written to {out} (chain {deployment.chain_id}, start block "
        f"{deployment.start_block})"
    )
