"""`copyvault reindex`: drop the index, index the chain again, check the result against it."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--allow-unaccounted-tokens",
    is_flag=True,
    help="A vault holding more of a token than its events account for (tokens sent to it by a "
    "plain transfer) is not a mismatch.",
)
def reindex(allow_unaccounted_tokens: bool) -> None:
    """Rebuild the index (events, derived state, blocks, reorgs, cursor) from the deployment's
    start block, then compare it with the chain: the cursor's hash, the factory's vaults and
    every vault's balances. Proposals, signatures, intents and relay history are kept. Exits
    non-zero naming each mismatch. Stop `serve`/`index` on this store first."""
    from backend.chain.client import ChainClient
    from backend.chain.deploy import Deployment
    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.exceptions import IndexerError
    from backend.indexer.indexer import IndexerConfig
    from backend.indexer.reindex import check_against_chain
    from backend.indexer.reindex import reindex as run_reindex

    settings = load_settings()
    deployment = Deployment.load(settings.deployment_file)
    client = ChainClient.from_settings(settings)
    engine = create_migrated_engine(settings.sqlalchemy_url)
    try:
        indexer = run_reindex(engine, client, deployment, IndexerConfig.from_settings(settings))
        click.echo(
            f"reindexed blocks {deployment.start_block}..{indexer.stats.cursor}: "
            f"{indexer.stats.events} events"
        )
        mismatches = check_against_chain(
            engine, client, deployment, allow_unaccounted=allow_unaccounted_tokens
        )
    finally:
        engine.dispose()
    for mismatch in mismatches:
        click.echo(f"mismatch: {mismatch}", err=True)
    if mismatches:
        raise IndexerError(f"the index differs from the chain in {len(mismatches)} places")
    click.echo("checked against the chain: cursor hash, vaults and balances match")
