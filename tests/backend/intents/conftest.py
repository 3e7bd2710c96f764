"""Fixtures of the intake tests: the API over a fresh chain and store (both backends), and
helpers that sign TradeIntents as a leader, a delegate, another key or a contract wallet."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from backend.api.schemas import intent_submission_body
from backend.chain import eip712
from backend.chain.abi import ContractAbi
from backend.chain.actions import HOUR, Key
from backend.chain.tx import created_address
from backend.db.relay_models import Intent
from tests.backend.api.helpers import ApiEnv, open_env, uvicorn_server
from tests.backend.helpers import admit_leader


@dataclass
class IntakeEnv:
    api: ApiEnv

    @property
    def chain(self):
        return self.api.chain

    def message(self, **overrides: Any) -> eip712.TradeIntent:
        a = self.chain.actions
        values = {
            "leader": self.chain.leader.address,
            "venue": a.venue,
            "token_in": a.token("WETH"),
            "token_out": a.token("USDC"),
            "fraction_bps": 1_000,
            "min_price": 0,
            "nonce": 1,
            "deadline": a.timestamp() + HOUR,
        }
        return eip712.TradeIntent(**(values | overrides))

    def domain(self, **overrides: Any) -> eip712.Domain:
        return replace(self.chain.actions.domain(self.chain.deployment.registry), **overrides)

    def body(
        self, message: eip712.TradeIntent, signer: Key | None = None, **domain: Any
    ) -> dict[str, Any]:
        """The POST body of `message` signed by `signer` (default: the leader)."""
        key = signer or self.chain.leader
        signature = eip712.sign(key.private_key, self.domain(**domain), message)
        return body_of(message, "0x" + signature.hex())

    def post(self, body: dict[str, Any]):
        return self.api.post("/v1/intents", json=body)

    def digest(self, message: eip712.TradeIntent) -> str:
        return "0x" + eip712.digest(self.domain(), message).hex()

    def stored(self) -> int:
        return self.api.count(Intent)

    def contract_leader(self, key: Key, *, salt: int = 901) -> str:
        """A smart-contract account (EIP-1271) approving what `key` signs, admitted: registered
        (through its execute) and followed by a vault holding WETH; the chain indexed."""
        a = self.chain.actions
        wallet_abi = ContractAbi(a.artifacts.get("MockERC1271Wallet"))
        wallet = created_address(
            a.sender(self.chain.deployer).send(None, wallet_abi.deploy_data(key.address))
        )
        register = a.registry_abi.call_data("register", "ipfs://contract-leader")
        a.sender(key).send(
            wallet, wallet_abi.call_data("execute", self.chain.deployment.registry, register)
        )
        admit_leader(self.chain, wallet, salt=salt)
        self.api.index()
        return wallet


def post_all_at_once(url: str, bodies: list[dict[str, Any]]) -> list[tuple[Any, str | None]]:
    """POST every body to `url`/v1/intents at once (one thread and connection each, released
    together): (status or the transport error, the error code or None) per answer, in any order."""
    answers: list[tuple[Any, str | None]] = []
    start = threading.Barrier(len(bodies))

    def submit(body):
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            try:
                response = client.post("/v1/intents", json=body)
            except httpx.HTTPError as exc:
                answers.append((repr(exc), None))
                return
            answers.append((response.status_code, (response.json().get("error") or {}).get("code")))

    threads = [threading.Thread(target=submit, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def body_of(message: eip712.TradeIntent, signature: str) -> dict[str, Any]:
    return intent_submission_body(message, bytes.fromhex(signature.removeprefix("0x")))


def assert_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert len(message) > 20, message
    return message


@pytest.fixture
def intake(anvil_chain, stores, tmp_path) -> Iterator[IntakeEnv]:
    """The leader is admitted: registered, and followed by a vault holding WETH (the default
    tokenIn of `IntakeEnv.message`)."""
    admit_leader(anvil_chain)
    with open_env(anvil_chain, stores, tmp_path) as api:
        yield IntakeEnv(api)


@pytest.fixture
def bare_intake(anvil_chain, stores, tmp_path) -> Iterator[IntakeEnv]:
    """Intake over a chain where no leader is registered and no vault exists."""
    with open_env(anvil_chain, stores, tmp_path) as api:
        yield IntakeEnv(api)


@pytest.fixture
def intake_server(intake) -> Iterator[tuple[IntakeEnv, str]]:
    """The same app also served by a real uvicorn server (its own thread pool, real concurrency,
    which the TestClient does not give): (the env, the server's base URL)."""
    with uvicorn_server(intake.api.app) as url:
        yield intake, url
