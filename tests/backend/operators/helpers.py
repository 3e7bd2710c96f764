"""Helpers of the operator tests: `OpsEnv` (the API with operator settings and a movable clock),
operators of any role with a known password and TOTP seed, and their sign-in."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.operator_models import Operator
from backend.security.encryption import generate_secrets_key, parse_secrets_key
from backend.security.relayer_key import write_encrypted_key
from backend.services import operators
from tests.backend.api.helpers import ApiEnv, open_env
from tests.backend.conftest import Chain, StoreFactory

PASSWORD = "correct horse battery staple"
SESSION_SECONDS = 3_600


class Clock:
    """The time operator checks see; `tick()` moves it to the next 30-second TOTP step."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def tick(self) -> None:
        self.advance(operators.TOTP_STEP)


@dataclass
class Op:
    """An operator the test knows the secrets of, and its session once signed in."""

    username: str
    role: str
    seed: str
    password: str = PASSWORD
    token: str | None = None
    device_id: str | None = None

    def code(self, clock: Clock) -> str:
        return pyotp.TOTP(self.seed).at(clock.now)


@dataclass
class OpsEnv:
    api: ApiEnv
    clock: Clock
    guardian_address: str

    @property
    def chain(self) -> Chain:
        return self.api.chain

    @property
    def settings(self):
        return self.api.settings

    @property
    def engine(self):
        return self.api.engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def make_operator(self, role: str, *, status: str = "active", prefix: str = "") -> Op:
        """An operator inserted straight into the store (enrolment is tested on its own)."""
        op = Op(f"{prefix or role}-{secrets.token_hex(4)}", role, pyotp.random_base32())
        now = self.clock.now
        with self.session() as s:
            s.add(
                Operator(
                    username=op.username,
                    role=role,
                    status=status,
                    password_hash=operators.hash_password(op.password),
                    totp_secret=operators.seal_totp(op.seed, op.username, self.settings),
                    created_at=now,
                    updated_at=now,
                )
            )
            s.commit()
        return op

    def operator_row(self, username: str) -> Operator:
        with self.session() as s:
            row = s.scalar(select(Operator).where(Operator.username == username))
            assert row is not None
            return row

    def sign_in(self, op: Op, *, code: str | None = None, **headers: str) -> Any:
        """POST /v1/operator/sign-in at the next TOTP step (unless `code` is given)."""
        if code is None:
            self.clock.tick()
            code = op.code(self.clock)
        if op.device_id and "X-Copyvault-Device" not in headers:
            headers["X-Copyvault-Device"] = op.device_id
        self.api.client.cookies.clear()  # every request says who it is explicitly
        response = self.api.post(
            "/v1/operator/sign-in",
            json={"username": op.username, "password": op.password, "totp": code},
            headers=headers,
        )
        if response.status_code == 200:
            op.token = response.json()["token"]
            op.device_id = response.json()["device_id"]
        return response

    def signed_in(self, role: str, **kwargs: Any) -> Op:
        op = self.make_operator(role, **kwargs)
        response = self.sign_in(op)
        assert response.status_code == 200, response.text
        return op

    def call(
        self,
        method: str,
        path: str,
        op: Op | None = None,
        *,
        totp: str | None | bool = True,
        json: Any = None,
    ) -> Any:
        """A request as `op` (bearer token); `totp=True` sends a fresh step-up code."""
        headers = {}
        if op is not None and op.token is not None:
            headers["Authorization"] = f"Bearer {op.token}"
        if totp is True and op is not None:
            self.clock.tick()
            totp = op.code(self.clock)
        if isinstance(totp, str):
            headers["X-Copyvault-TOTP"] = totp
        self.api.client.cookies.clear()
        return self.api.client.request(method, path, headers=headers, json=json)


def error_code(response: Any) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


@contextmanager
def open_ops(
    chain: Chain, stores: StoreFactory, folder: Path, **overrides: Any
) -> Iterator[OpsEnv]:
    secrets_key = generate_secrets_key()
    guardian_key = secrets.token_hex(32)
    guardian_file = folder / f"guardian-{secrets.token_hex(3)}.json"
    guardian_address = write_encrypted_key(
        guardian_file, guardian_key, parse_secrets_key(secrets_key), purpose="guardian-key"
    )
    chain.rpc("anvil_setBalance", guardian_address, hex(10**20))
    a = chain.actions
    a.sender(chain.deployer).send(
        chain.deployment.factory, a.factory_abi.call_data("setGuardian", guardian_address)
    )
    settings = {
        "secrets_key": secrets_key,
        "guardian_key_file": guardian_file,
        "operator_session_seconds": SESSION_SECONDS,
    } | overrides
    with open_env(chain, stores, folder, **settings) as api:
        clock = Clock()
        api.app.state.operator_clock = clock
        yield OpsEnv(api, clock, guardian_address)
