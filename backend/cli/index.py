"""`copyvault index`: the indexer alone, in the foreground."""

from __future__ import annotations

import click


@click.command()
@click.option("--once", is_flag=True, help="Index up to the head, then exit.")
def index(once: bool) -> None:
    """Follow the deployment's events into the store (COPYVAULT_DATABASE_URL) until interrupted."""
    import signal
    import threading

    from backend.chain.client import ChainClient
    from backend.chain.deploy import Deployment
    from backend.config import load_settings
    from backend.db.migrate import create_migrated_engine
    from backend.indexer.indexer import Indexer, IndexerConfig

    settings = load_settings()
    deployment = Deployment.load(settings.deployment_file)
    engine = create_migrated_engine(settings.sqlalchemy_url)
    indexer = Indexer(
        engine,
        ChainClient.from_settings(settings),
        deployment,
        config=IndexerConfig.from_settings(settings),
    )
    if once:
        indexer.sync_once()
        click.echo(f"indexed up to block {indexer.stats.cursor} ({indexer.stats.events} events)")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        indexer.run(stop)
    except KeyboardInterrupt:
        stop.set()
