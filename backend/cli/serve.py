"""`copyvault serve`: the API with the indexer running in the same process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# Open event streams (/v1/stream) never end by themselves: give them this long, then stop.
GRACEFUL_SHUTDOWN_SECONDS = 5
# TLS 1.2 cipher suites `serve` accepts: ECDHE key exchange (forward secrecy), AEAD only.
MODERN_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

if TYPE_CHECKING:
    from backend.chain.node import AnvilNode
    from backend.config import Settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (COPYVAULT_API_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (COPYVAULT_API_PORT).")
@click.option(
    "--local",
    is_flag=True,
    help="Start anvil, deploy to it and serve on a fresh "
    "SQLite store under <data_dir>/local: no other set-up needed.",
)
@click.option("--no-indexer", is_flag=True, help="Serve without the in-process indexer.")
@click.option(
    "--no-seed",
    is_flag=True,
    help="With --local: deploy only, without the demo's leader, vaults and deposits.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM certificate (chain) to serve HTTPS with (COPYVAULT_TLS_CERTFILE).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM private key of the certificate (COPYVAULT_TLS_KEYFILE).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="API processes. Above 1, the indexer and the relayer (when enabled) run as processes "
    "of their own beside them (`copyvault index`, `copyvault relay`).",
)
def serve(
    host: str | None,
    port: int | None,
    local: bool,
    no_indexer: bool,
    no_seed: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    workers: int,
) -> None:
    """Serve the API (and the indexer) for the deployment in COPYVAULT_DEPLOYMENT_FILE."""
    import uvicorn

    from backend.api.app import create_app
    from backend.config import load_settings

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["api_host"] = host
    if port is not None:
        overrides["api_port"] = port
    if no_indexer:
        overrides["indexer_enabled"] = False
    if tls_cert is not None:
        overrides["tls_certfile"] = tls_cert
    if tls_key is not None:
        overrides["tls_keyfile"] = tls_key
    settings = load_settings(**overrides)
    if workers > 1:
        if local:
            raise click.UsageError("--local serves one process; leave out --workers")
        serve_processes(settings, workers)
        return
    if not local:
        from backend.chain.deploy import Deployment

        Deployment.load(settings.deployment_file)  # a clear error now, not a failed startup
        uvicorn.run(create_app(settings, server_process=True), **server_options(settings))
        return

    node, local_settings = start_local(settings, overrides, seed_demo=not no_seed)
    try:
        _announce_local(local_settings, seeded=not no_seed)
        uvicorn.run(
            create_app(local_settings, server_process=True), **server_options(local_settings)
        )
    finally:
        if node is not None:
            node.stop()


def _announce_local(settings: Settings, *, seeded: bool) -> None:
    """Where everything is, and who is who: what a person needs to open the app with a wallet."""
    from backend.chain.demo_world import describe_accounts

    scheme = "https" if settings.tls_certfile is not None else "http"
    base = f"{scheme}://{settings.api_host}:{settings.api_port}"
    lines = [
        f"local chain {settings.rpc_url} (point the wallet there); deployment "
        f"{settings.deployment_file}; store {settings.sqlalchemy_url}",
        "indexer and relayer running in this process",
        f"the web app: {base}/   API reference: {base}/docs",
    ]
    if seeded:
        lines += ["the demo's vaults: a leader, six followers, one vault of another leader"]
        lines += [describe_accounts()]
    lines += ["Ctrl-C stops the server (and the chain, if this command started it)."]
    click.echo("\n".join(lines), err=True)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `settings`: address, TLS, and the limits against slow clients.

    uvicorn's own X-Forwarded-* handling is off (by default it believes them from 127.0.0.1): the
    app reads them from COPYVAULT_TRUSTED_PROXIES only (backend/api/platform.py)."""
    from backend.api.http_protocol import EnvGuardedHttpToolsProtocol

    options: dict[str, Any] = {
        "host": settings.api_host,
        "port": settings.api_port,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "http": EnvGuardedHttpToolsProtocol,
        "proxy_headers": False,
        "limit_concurrency": settings.api_max_connections,
        "server_header": False,
    }
    if settings.tls_certfile is not None:
        options["ssl_certfile"] = str(settings.tls_certfile)
        options["ssl_keyfile"] = str(settings.tls_keyfile)
        if settings.tls_key_password is not None:
            options["ssl_keyfile_password"] = settings.tls_key_password.get_secret_value()
        options["ssl_context_factory"] = modern_tls_context
    return options


def modern_tls_context(_config: Any, default: Any) -> Any:
    """uvicorn's TLS context with TLS 1.2 as the floor and only forward-secret AEAD ciphers for
    TLS 1.2 (TLS 1.3's suites are all of that kind), whatever the Python or OpenSSL defaults."""
    import ssl

    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(MODERN_TLS12_CIPHERS)
    return context


def start_local(
    settings: Settings, overrides: dict[str, Any], *, seed_demo: bool = True
) -> tuple[AnvilNode | None, Settings]:
    """A local chain (anvil started here, or the one COPYVAULT_RPC_URL names if it is an anvil),
    the system deployed on it, the demo's world seeded unless told not to, the relayer's key
    (an anvil dev account's) encrypted for this run, and a fresh SQLite store: (the node started
    here or None, the settings to serve with)."""
    from backend.chain.actions import Actions, Key
    from backend.chain.artifacts import ensure_compiled
    from backend.chain.client import ChainClient
    from backend.chain.demo_world import RELAYER, seed
    from backend.chain.deploy import deploy_system
    from backend.chain.tx import UnlockedSender
    from backend.config import load_settings
    from backend.security.encryption import generate_secrets_key
    from backend.security.relayer_key import write_encrypted_key

    folder = Path(settings.data_dir) / "local"
    folder.mkdir(parents=True, exist_ok=True)
    ensure_compiled(settings.artifacts_file)
    node, rpc_url = _local_node(settings)
    try:
        client = ChainClient(rpc_url)
        deployment = deploy_system(
            client,
            UnlockedSender(client, client.request("eth_accounts")[0]),
            log=lambda m: click.echo(m, err=True),
        )
        if seed_demo:
            seed(Actions(client, deployment))
        deployment_file = folder / "deployment.json"
        deployment.save(deployment_file)
        secrets_key = generate_secrets_key()
        key_file = folder / "relayer-key.json"
        key_file.unlink(missing_ok=True)
        write_encrypted_key(key_file, Key.anvil(RELAYER).private_key, bytes.fromhex(secrets_key))
        # A new deployment every time: start from an empty store.
        database = folder / "copyvault.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        local_settings = load_settings(
            **overrides,
            rpc_url=rpc_url,
            deployment_file=deployment_file,
            database_url=f"sqlite:///{database}",
            confirmations=0,
            poll_interval=0.5,
            relayer_enabled=True,
            relayer_key_file=key_file,
            secrets_key=secrets_key,
            relayer_confirmations=0,
        )
    except BaseException:
        if node is not None:
            node.stop()
        raise
    return node, local_settings


def _local_node(settings: Settings) -> tuple[AnvilNode | None, str]:
    """(the anvil started here or None, its URL): an anvil already at COPYVAULT_RPC_URL, when that
    is set, is reused (it must have the demo's dev accounts); otherwise a new one starts."""
    from backend.chain.client import ChainClient
    from backend.chain.demo_world import ACCOUNTS
    from backend.chain.node import start_anvil
    from backend.exceptions import ChainError

    if "rpc_url" in settings.model_fields_set:
        probe = ChainClient(settings.rpc_url, timeout=2, retries=0)
        try:
            version = str(probe.request("web3_clientVersion"))
            accounts = probe.request("eth_accounts")
        except ChainError:
            version, accounts = "", []
        if version.startswith("anvil"):
            if len(accounts) < ACCOUNTS:
                raise click.UsageError(
                    f"the anvil at {settings.rpc_url} has {len(accounts)} dev accounts; the demo "
                    f"uses {ACCOUNTS}: start it with `anvil --accounts {ACCOUNTS}`"
                )
            click.echo(f"reusing the anvil at {settings.rpc_url}", err=True)
            return None, settings.rpc_url
    node = start_anvil(accounts=ACCOUNTS)
    return node, node.url


def serve_processes(settings: Settings, workers: int) -> None:
    """`workers` uvicorn processes for the API, and the indexer and relayer as processes of their
    own: each API process would otherwise run its own indexer and relayer threads. The store is
    migrated once, here, before any process opens it."""
    import os
    import subprocess
    import sys

    import uvicorn

    from backend.chain.deploy import Deployment
    from backend.db.migrate import upgrade

    Deployment.load(settings.deployment_file)
    if settings.auto_migrate:
        upgrade(settings.sqlalchemy_url)
    helpers = []
    if settings.indexer_enabled:
        helpers.append(subprocess.Popen([sys.executable, "-m", "backend.cli", "index"]))
    if settings.relayer_enabled:
        helpers.append(subprocess.Popen([sys.executable, "-m", "backend.cli", "relay"]))
    if settings.anchorer_enabled:
        helpers.append(subprocess.Popen([sys.executable, "-m", "backend.cli", "audit", "anchor"]))
    # The API processes read their settings from the environment: only the API runs in them.
    os.environ |= {
        "COPYVAULT_INDEXER_ENABLED": "false",
        "COPYVAULT_RELAYER_ENABLED": "false",
        "COPYVAULT_ANCHORER_ENABLED": "false",
        "COPYVAULT_AUTO_MIGRATE": "false",
    }
    try:
        uvicorn.run(
            "backend.api.app:create_app_from_environment",
            factory=True,
            workers=workers,
            **server_options(settings),
        )
    finally:
        for helper in helpers:
            helper.terminate()
        for helper in helpers:
            try:
                helper.wait(30)
            except subprocess.TimeoutExpired:
                helper.kill()
