"""Fixtures of the audit-trail tests: one anvil per module (each test deploys its own AuditAnchor,
so anchors never leak between tests), stores of both backends, and `AuditWorld`: an anchorer with
a clock the test moves, intents and entries written on demand, and the tampering a database
administrator could do (triggers dropped first)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from backend.audit.anchorer import Anchorer, AnchorPolicy
from backend.audit.anchors import AnchorContract
from backend.audit.verify import Report, verify_log
from backend.chain.abi import ContractAbi
from backend.chain.artifacts import load as load_artifacts
from backend.chain.node import start_anvil
from backend.chain.tx import UnlockedSender, created_address
from backend.db.relay_models import Intent
from backend.services import audit_log
from tests.backend.conftest import Chain, StoreFactory, deploy_chain

INTERVAL = 600
# Behind the chain's clock (anvil keeps real time), so every interval end is in the chain's past.
START = int(datetime.now(UTC).timestamp()) - 20_000


@pytest.fixture
def pg_stores(request, tmp_path) -> Iterator[StoreFactory]:
    """Stores on PostgreSQL only (what only PostgreSQL has: roles, TRUNCATE)."""
    factory = StoreFactory("postgresql", request, tmp_path, [])
    yield factory
    for cleanup in reversed(factory._cleanups):
        cleanup()


@pytest.fixture(scope="module")
def audit_chain() -> Iterator[Chain]:
    node = start_anvil()
    try:
        yield deploy_chain(node)
    finally:
        node.stop()


class WallClock:
    def __init__(self, start: int):
        self.now = start

    def __call__(self) -> float:
        return float(self.now)


@dataclass
class AuditWorld:
    engine: Engine
    chain: Chain
    contract: AnchorContract
    anchorer: Anchorer
    clock: WallClock
    backend: str

    def entries(self, n: int, *, actor: str = "operator:alice/admin") -> None:
        with Session(self.engine) as s:
            for i in range(n):
                audit_log.append(
                    s,
                    category="operator_action",
                    actor=actor,
                    action="relayer.pause",
                    subject=f"relayer:{i}",
                    before={"paused": False},
                    after={"paused": True},
                    client="198.51.100.4",
                    at=datetime.fromtimestamp(self.clock.now, UTC),
                )
            s.commit()

    def intent(self, accepted_at: int) -> str:
        digest = "0x" + secrets.token_hex(32)
        moment = datetime.fromtimestamp(accepted_at, UTC)
        zero = "0x" + "00" * 20
        with Session(self.engine) as s:
            s.add(
                Intent(
                    chain_id=self.chain.deployment.chain_id,
                    digest=digest,
                    leader=self.chain.leader.address,
                    signer=self.chain.leader.address,
                    venue=zero,
                    token_in=zero,
                    token_out=zero,
                    fraction_bps=100,
                    min_price=1,
                    nonce=secrets.randbelow(2**60),
                    deadline=2**40,
                    signature="0x00",
                    status="accepted",
                    plan_due=True,
                    received_at=moment,
                    updated_at=moment,
                )
            )
            s.commit()
        return digest

    def verify(self, max_unanchored_seconds: int = 10**9) -> Report:
        with Session(self.engine) as s:
            return verify_log(
                s,
                self.contract.all(),
                chain_id=self.chain.deployment.chain_id,
                now=datetime.fromtimestamp(self.clock.now, UTC),
                max_unanchored_seconds=max_unanchored_seconds,
            )

    def sql(self, *statements: str | tuple[str, dict]) -> None:
        """As the database's owner, with the append-only triggers out of the way; a statement
        may come with its bound parameters."""
        with self.engine.begin() as conn:
            if self.backend == "sqlite":
                conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
                conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
            else:
                conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            for statement in statements:
                sql, params = statement if isinstance(statement, tuple) else (statement, {})
                conn.execute(text(sql), params)

    def publish(self, head_seq: int, head_hash: str, root: bytes, start: int, end: int) -> None:
        """An anchor sent by hand with the anchorer's key (a wrong one, in the tamper tests)."""
        call = self.contract.anchor_call(head_seq, head_hash, root, start, end)
        self.anchorer.sender.send(self.contract.address, call)


def deploy_anchor(chain: Chain) -> AnchorContract:
    artifacts = load_artifacts()
    admin = UnlockedSender(chain.client, chain.deployer.address)
    data = ContractAbi(artifacts.get("AuditAnchor")).deploy_data(admin.address, admin.address)
    address = created_address(admin.send(None, data))
    return AnchorContract(chain.client, address, artifacts)


@pytest.fixture
def audit_world(audit_chain: Chain, stores: StoreFactory) -> AuditWorld:
    contract = deploy_anchor(audit_chain)
    engine = stores.engine()
    clock = WallClock(START)
    anchorer = Anchorer(
        engine,
        audit_chain.client,
        contract,
        UnlockedSender(audit_chain.client, audit_chain.deployer.address),
        chain_id=audit_chain.deployment.chain_id,
        policy=AnchorPolicy(interval_seconds=INTERVAL, after_entries=0, settle_seconds=0),
        wall_clock=clock,
    )
    return AuditWorld(engine, audit_chain, contract, anchorer, clock, stores.backend)
