"""Helpers of the API tests: the app over a chain and a store (`ApiEnv`), signed proposal bodies."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from backend.api.app import create_app
from backend.api.schemas import intent_submission_body
from backend.chain import eip712
from backend.chain.actions import Key
from backend.chain.node import free_port
from backend.config import Settings, load_settings
from backend.db.proposal_models import Proposal, ProposalSignature
from backend.indexer.indexer import Indexer, IndexerConfig
from tests.backend.conftest import Chain, StoreFactory

HOUR = 3_600


@dataclass
class ApiEnv:
    """The app (through a TestClient), its store and a chain, plus a manual indexer."""

    chain: Chain
    settings: Settings
    app: FastAPI
    client: TestClient
    engine: Engine
    indexer: Indexer
    backend: str
    scenario: dict[str, Any]

    def index(self) -> None:
        assert self.indexer.sync_once()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(path, **kwargs)

    def ok(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def count(self, model: Any) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(model)) or 0

    def proposal_rows(self) -> tuple[int, int]:
        """(proposals, signatures) stored: what "nothing stored" compares."""
        return self.count(Proposal), self.count(ProposalSignature)


def api_settings(chain: Chain, folder: Path, url: str, **overrides: Any) -> Settings:
    deployment_file = folder / f"deployment-{secrets.token_hex(3)}.json"
    chain.deployment.save(deployment_file)
    values = {
        "rpc_url": chain.node.url,
        "deployment_file": deployment_file,
        "database_url": url,
        "data_dir": folder / "data",
        "indexer_enabled": False,
        "confirmations": 0,
        "poll_interval": 0.05,
        "api_stream_poll_interval": 0.05,
        # The API tests are about the API, not its rate limits (tests/backend/platform/ are).
        "rate_limit_enabled": False,
    }
    return load_settings(**(values | overrides))


@contextmanager
def open_env(
    chain: Chain,
    stores: StoreFactory,
    folder: Path,
    scenario: dict[str, Any] | None = None,
    **overrides: Any,
) -> Iterator[ApiEnv]:
    url = stores.url()
    engine = stores.engine(url)
    indexer = Indexer(engine, chain.client, chain.deployment, config=IndexerConfig(confirmations=0))
    indexer.sync_once()
    settings = api_settings(chain, folder, url, **overrides)
    app = create_app(settings)
    with TestClient(app) as client:
        yield ApiEnv(chain, settings, app, client, engine, indexer, stores.backend, scenario or {})


@contextmanager
def uvicorn_server(app: FastAPI) -> Iterator[str]:
    """`app` (already started by a TestClient) also served by a real uvicorn server in a thread:
    its own thread pool and real concurrency, which the TestClient does not give. Its base URL."""
    port = free_port()
    # No lifespan: the TestClient's already built the app's state, which both then share.
    # proxy_headers off, as `copyvault serve` runs it: only COPYVAULT_TRUSTED_PROXIES are believed.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


# ----------------------------------------------------------------------------- signing


def vault_domain(chain: Chain, vault: str) -> eip712.Domain:
    return eip712.Domain(chain_id=chain.deployment.chain_id, verifying_contract=vault)


def sign(key: Key, chain: Chain, vault: str, message: eip712.Message) -> str:
    return "0x" + eip712.sign(key.private_key, vault_domain(chain, vault), message).hex()


def withdrawal_body(
    chain: Chain,
    vault: str,
    proposer: Key,
    *,
    token: str,
    amount: int,
    to: str,
    nonce: int,
    deadline: int,
    signer: Key | None = None,
    send_nonce: bool = True,
) -> dict[str, Any]:
    """A withdrawal proposal body, signed by `signer` (default: the proposer)."""
    message = eip712.Withdrawal(token=token, amount=amount, to=to, nonce=nonce, deadline=deadline)
    body = {
        "token": token,
        "amount": str(amount),
        "to": to,
        "deadline": deadline,
        "proposer": proposer.address,
        "signature": sign(signer or proposer, chain, vault, message),
    }
    if send_nonce:
        body["nonce"] = nonce
    return body


def config_body(
    chain: Chain,
    vault: str,
    proposer: Key,
    *,
    data: bytes,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    message = eip712.ConfigChange(data=data, nonce=nonce, deadline=deadline)
    return {
        "data": "0x" + data.hex(),
        "deadline": deadline,
        "nonce": nonce,
        "proposer": proposer.address,
        "signature": sign(proposer, chain, vault, message),
    }


def intent_body(intent: tuple, signature: bytes) -> dict[str, Any]:
    """The POST /v1/intents body of a signed intent given as its ABI tuple."""
    return intent_submission_body(eip712.TradeIntent(*intent), signature)


@contextmanager
def store_write_locked(api: ApiEnv, table: str = "proposals") -> Iterator[None]:
    """Another client holds the store's write lock (PostgreSQL: on `table`) until the block
    ends."""
    if api.backend == "sqlite":
        conn = api.engine.raw_connection()
        conn.driver_connection.isolation_level = None
        conn.driver_connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.driver_connection.execute("ROLLBACK")
            conn.close()
        return
    url = api.engine.url.set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        # Never forever, even before the fix (a write then waited for the lock without limit).
        release = threading.Timer(8, conn.rollback)
        release.start()
        try:
            yield
        finally:
            release.cancel()
            conn.rollback()
