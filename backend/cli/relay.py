"""`copyvault relay`: relayer workers alone, in the foreground (several processes may share one
PostgreSQL store; see backend/relayer/worker.py)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--workers", type=click.IntRange(1, 32), default=1, show_default=True, help="Worker threads."
)
def relay(workers: int) -> None:
    """Relay accepted intents of the store (COPYVAULT_DATABASE_URL) until interrupted."""
    import signal
    import socket
    import threading

    from backend.api.app import build_relayer, build_state
    from backend.config import load_settings
    from backend.exceptions import CopyvaultError
    from backend.relayer.worker import run_in_thread

    settings = load_settings(indexer_enabled=False)
    try:
        state = build_state(settings)
        host = socket.gethostname()
        started = [
            run_in_thread(build_relayer(settings, state, worker_id=f"{host}-{i}"))
            for i in range(workers)
        ]
    except CopyvaultError as exc:
        raise click.ClickException(str(exc)) from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    click.echo(f"relaying with {workers} worker(s); Ctrl-C to stop", err=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    for _, stop in started:
        stop.set()
    for thread, _ in started:
        thread.join(30)
    state.dispose()
