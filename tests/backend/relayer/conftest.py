"""Fixtures of the relayer tests: the API (intake) over a real chain and store, follower vaults,
and relayer workers driven round by round, signing with a real encrypted key.

`relay` (per test, on SQLite and PostgreSQL): an `ApiEnv` whose app runs without an in-process
relayer, so each test decides when workers run (`env.worker().run_until_idle()`) and can stop one
between any two steps, as a crash would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.chain.actions import Key
from backend.chain.deploy import DEFAULT_POLICY
from backend.config import load_settings
from backend.db.relay_models import Intent, RelayBatch, RelayOutcome, RelayTransaction
from backend.relayer.worker import RelayerConfig, RelayerWorker
from backend.security.encryption import generate_secrets_key
from backend.security.relayer_key import load_relayer_signer, write_encrypted_key
from tests.backend.api.helpers import ApiEnv, intent_body, open_env

WETH = 10**18
USDC = 10**6


@dataclass
class RelayEnv:
    api: ApiEnv
    signer: Any
    key_settings: dict[str, Any]

    @property
    def chain(self):
        return self.api.chain

    @property
    def actions(self):
        return self.api.chain.actions

    def worker(self, worker_id: str = "w1", *, client=None, **config: Any) -> RelayerWorker:
        return RelayerWorker(
            self.api.engine,
            client or self.chain.client,
            self.chain.deployment,
            self.signer,
            config=RelayerConfig(**config),
            worker_id=worker_id,
        )

    def follower(
        self,
        owner: Key,
        *,
        weth: int = WETH,
        usdc: int = 0,
        policy: tuple = DEFAULT_POLICY,
        assets: list[str] | None = None,
        leader: str | None = None,
        salt: int,
    ) -> str:
        a = self.actions
        vault = a.create_vault(
            [owner],
            leader=leader or self.chain.leader.address,
            policy=policy,
            assets=assets,
            salt=salt,
        )
        if weth:
            a.deposit(vault, a.token("WETH"), weth, owner)
        if usdc:
            a.deposit(vault, a.token("USDC"), usdc, owner)
        return vault

    def followers(self, count: int, *, first_salt: int = 1, **kwargs: Any) -> list[str]:
        owners = self.chain.owners
        return [
            self.follower(owners[i % len(owners)], salt=first_salt + i, **kwargs)
            for i in range(count)
        ]

    def submit(self, *, nonce: int, leader: Key | None = None, **kwargs: Any) -> str:
        """Sign an intent as the leader (default: the chain's), index the chain first, POST it;
        its digest."""
        self.api.index()
        intent, signature = self.actions.intent(leader or self.chain.leader, nonce=nonce, **kwargs)
        response = self.api.post("/v1/intents", json=intent_body(intent, signature))
        assert response.status_code == 202, response.text
        return response.json()["digest"]

    def status(self, digest: str) -> dict[str, Any]:
        return self.api.ok(f"/v1/intents/{digest}")

    def outcomes(self, digest: str) -> dict[str, dict[str, Any]]:
        return {v["vault"]: v for v in self.status(digest)["vaults"]}

    def rows(self, model: Any) -> list[Any]:
        with Session(self.api.engine) as session:
            return list(session.scalars(select(model)))

    def transactions(self) -> list[RelayTransaction]:
        return self.rows(RelayTransaction)

    def batches(self) -> list[RelayBatch]:
        return self.rows(RelayBatch)

    def intents(self) -> list[Intent]:
        return self.rows(Intent)

    def outcome_rows(self) -> list[RelayOutcome]:
        return self.rows(RelayOutcome)

    def executed(self, vault: str, nonce: int) -> bool:
        a = self.actions
        return a.view(a.vault_abi, vault, "isIntentExecuted", self.chain.leader.address, nonce)

    def rpc(self, method: str, *params: Any) -> Any:
        return self.chain.client.request(method, list(params))

    @contextmanager
    def mining_paused(self) -> Iterator[None]:
        """Transactions wait in the node's pool until `evm_mine` (automine off meanwhile)."""
        self.rpc("evm_setAutomine", False)
        try:
            yield
        finally:
            self.rpc("evm_setAutomine", True)


def _key_settings(chain, folder: Path) -> dict[str, Any]:
    """An encrypted key file for the relayer's account and the settings that open it."""
    secrets_key = generate_secrets_key()
    path = folder / "relayer-key.json"
    write_encrypted_key(path, chain.relayer.private_key, bytes.fromhex(secrets_key))
    return {"relayer_key_file": path, "secrets_key": secrets_key}


@pytest.fixture
def relay(anvil_chain, stores, tmp_path) -> Iterator[RelayEnv]:
    """The leader is registered (intake admits its intents once a follower holds their tokenIn)."""
    anvil_chain.actions.register(anvil_chain.leader, "ipfs://leader")
    with open_env(anvil_chain, stores, tmp_path) as api:
        key_settings = _key_settings(anvil_chain, tmp_path)
        signer = load_relayer_signer(load_settings(**key_settings))
        assert signer.address == anvil_chain.relayer.address
        yield RelayEnv(api, signer, key_settings)
