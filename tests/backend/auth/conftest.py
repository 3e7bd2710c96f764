"""Fixtures of the identity tests: the API over a fresh chain and store (both backends) with a
sign-in domain set, and helpers that write and sign EIP-4361 messages and create API keys.

Actors: `chain.leader` (registered in the LeaderRegistry by `registered`), `chain.delegate`,
`chain.owners`, and `attacker` (an anvil key with no role)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import defunct_hash_message, encode_defunct
from sqlalchemy import update

from backend.chain.actions import Key
from tests.backend.api.helpers import ApiEnv, open_env, uvicorn_server
from tests.backend.helpers import admit_leader
from tests.backend.intents.conftest import IntakeEnv, assert_error
from tests.utils.safe import deploy_safe

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from siwe import SiweMessage

DOMAIN = "copyvault.test"
ORIGIN = f"https://{DOMAIN}"

__all__ = ["DOMAIN", "ORIGIN", "IdentityEnv", "assert_error", "iso"]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class IdentityEnv:
    api: ApiEnv

    @property
    def chain(self):
        return self.api.chain

    @property
    def attacker(self) -> Key:
        return self.chain.keys[1]

    # ------------------------------------------------------------------ sign-in

    def nonce(self) -> str:
        response = self.api.post("/v1/auth/nonce")
        assert response.status_code == 201, response.text
        return response.json()["nonce"]

    def message(self, address: str, nonce: str | None = None, **overrides: Any) -> str:
        now = datetime.now(UTC)
        fields: dict[str, Any] = {
            "domain": DOMAIN,
            "address": address,
            "uri": f"{ORIGIN}/sign-in",
            "version": "1",
            "chain_id": self.chain.deployment.chain_id,
            "nonce": nonce or self.nonce(),
            "issued_at": iso(now),
            "expiration_time": iso(now + timedelta(minutes=5)),
            "statement": "Sign in to copyvault.",
        }
        fields.update(overrides)
        fields = {k: v for k, v in fields.items() if v is not None}
        return SiweMessage(**fields).prepare_message()

    @staticmethod
    def sign(key: Key, text: str) -> str:
        """personal_sign (EIP-191) of `text` with `key`."""
        signed = Account.sign_message(encode_defunct(text=text), key.private_key)
        return "0x" + bytes(signed.signature).hex()

    def sign_in_response(self, text: str, signature: str, *, bearer: bool = True):
        return self.api.post(
            "/v1/auth/sign-in", json={"message": text, "signature": signature, "bearer": bearer}
        )

    def sign_in(self, key: Key, address: str | None = None) -> str:
        """A session token (bearer) for `address` (default: the key's own), signed by `key`."""
        text = self.message(address or key.address)
        response = self.sign_in_response(text, self.sign(key, text))
        assert response.status_code == 201, response.text
        return response.json()["token"]

    # ------------------------------------------------------------------ requests

    def get(self, path: str, token: str | None = None, **kwargs: Any):
        return self.api.client.get(path, headers=bearer(token), **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any):
        return self.api.client.post(path, headers=bearer(token), **kwargs)

    def delete(self, path: str, token: str | None = None):
        return self.api.client.delete(path, headers=bearer(token))

    # ------------------------------------------------------------------ leaders and keys

    def register(self, leader: Key | None = None) -> None:
        """Register `leader` (default: the chain's) with a funded follower, so that intake
        admits its intents too."""
        leader = leader or self.chain.leader
        admit_leader(self.chain, leader, salt=int(leader.address, 16) % 1_000_000)
        self.api.index()

    def create_key(self, token: str, **overrides: Any) -> dict[str, Any]:
        body = {"name": "bot", "expires_in_days": 30, "rate_per_minute": 60} | overrides
        response = self.post("/v1/auth/keys", token, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def intent(self, signer: Key | None = None, **overrides: Any) -> dict[str, Any]:
        """A POST /v1/intents body (default: the leader's intent, signed by the leader)."""
        intake = IntakeEnv(self.api)
        return intake.body(intake.message(**overrides), signer)

    def contract_wallet(self, key: Key) -> str:
        """A smart-contract account (EIP-1271, the tests' MockERC1271Wallet) approving what
        `key` signs."""
        return IntakeEnv(self.api).contract_leader(key)

    def safe(self, owners: list[Key], threshold: int) -> str:
        """A real Safe 1.4.1 proxy (npm bytecode) owned by `owners`, with the
        CompatibilityFallbackHandler that answers EIP-1271 for it."""
        return deploy_safe(self.chain.client, self.chain.deployer, owners, threshold)

    def safe_sign(self, safe: str, owners: list[Key], text: str) -> str:
        """The Safe's EIP-1271 signature of the sign-in text, as Safe's tooling makes it: each
        owner signs the EIP-712 SafeMessage(bytes message = abi.encode(EIP-191 hash of the text))
        on the Safe's domain; 65-byte signatures concatenated in ascending owner order."""
        digest = bytes(defunct_hash_message(text=text))
        typed = {
            "domain_data": {"chainId": self.chain.deployment.chain_id, "verifyingContract": safe},
            "message_types": {"SafeMessage": [{"name": "message", "type": "bytes"}]},
            "message_data": {"message": encode(["bytes32"], [digest])},
        }
        ordered = sorted(owners, key=lambda k: int(k.address, 16))
        return (
            "0x"
            + b"".join(
                bytes(Account.sign_typed_data(k.private_key, **typed).signature) for k in ordered
            ).hex()
        )

    def expire(self, model: Any, **where: Any) -> None:
        """Move a row's `expires_at` an hour into the past."""
        past = datetime.now(UTC) - timedelta(hours=1)
        with self.api.engine.begin() as conn:
            conn.execute(
                update(model)
                .where(*(getattr(model, k) == v for k, v in where.items()))
                .values(expires_at=past)
            )


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


SETTINGS = {"siwe_domain": DOMAIN, "siwe_uri_origins": [ORIGIN]}


@pytest.fixture
def ident(anvil_chain, stores, tmp_path) -> Iterator[IdentityEnv]:
    with open_env(anvil_chain, stores, tmp_path, **SETTINGS) as api:
        yield IdentityEnv(api)


@pytest.fixture
def ident_strict(anvil_chain, stores, tmp_path) -> Iterator[IdentityEnv]:
    """Intake requires credentials (COPYVAULT_INTENTS_REQUIRE_CREDENTIALS=true)."""
    with open_env(
        anvil_chain, stores, tmp_path, intents_require_credentials=True, **SETTINGS
    ) as api:
        yield IdentityEnv(api)


@pytest.fixture
def ident_server(ident) -> Iterator[tuple[IdentityEnv, str]]:
    """The same app also served by a real uvicorn server (real concurrency)."""
    with uvicorn_server(ident.api.app) as url:
        yield ident, url
