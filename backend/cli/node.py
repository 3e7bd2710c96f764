"""`copyvault node`: a local anvil node in the foreground."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8545, show_default=True, help="JSON-RPC port.")
@click.option(
    "--block-time",
    type=float,
    default=None,
    help="Seconds between blocks (default: a block per transaction).",
)
@click.argument("anvil_args", nargs=-1, type=click.UNPROCESSED)
def node(host: str, port: int, block_time: float | None, anvil_args: tuple[str, ...]) -> None:
    """Start anvil (from the project's npm packages) until interrupted.

    Extra arguments after `--` go to anvil, e.g. `copyvault node -- --chain-id 1337`.
    """
    import os

    from backend.chain.node import anvil_command

    cmd = anvil_command(port, host, block_time=block_time, extra=anvil_args)
    click.echo(f"starting anvil on http://{host}:{port} ({' '.join(cmd[1:])})", err=True)
    os.execv(cmd[0], cmd)
