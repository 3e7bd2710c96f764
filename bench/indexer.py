"""Indexer backfill throughput into SQLite and PostgreSQL (docs/protocol.md §4: at least 5,000
events/s into SQLite).

    python -m bench.indexer [--events 100000] [--backends sqlite,postgresql]
                            [--json reports/bench-indexer.json]

What runs:

- a private anvil (automine, a high block gas limit) with copyvault deployed by
  backend/chain/deploy.py;
- the events are real copyvault events from real calls, batched through Safe's
  MultiSendCallOnly (its npm bytecode), which calls the factory and the vaults directly: about 11%
  come from vault creations (VaultCreated and the nine initialisation events each: owners,
  threshold, leader, policy, oracle, allowlists, guardian, copying), 1% are owners stopping
  copying, and the rest are `deposit` calls (Deposited; the tokens' own Transfer and Approval logs
  are not followed and not counted). Up to 1,000 calls per transaction, so generating 100,000
  events takes about a hundred blocks;
- for each backend, a fresh store and a fresh indexer backfill every block from the deployment to
  the head with the default settings (no confirmations), timed end to end: eth_getLogs, decoding,
  inserts, derived state, commits. The indexer's own timers say where the time goes.

Prints a table and writes JSON. PostgreSQL: a temporary database on the server at
COPYVAULT_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped
afterwards.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.chain.abi import ContractAbi
from backend.chain.actions import Actions, Key
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_system, npm_abi
from backend.chain.node import start_anvil
from backend.chain.tx import UnlockedSender, created_address, wait_for_receipt
from bench.report import machine, packed_call, text_table, write_json

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = "reports/bench-indexer.json"
DEFAULT_EVENTS = 100_000
SQLITE_TARGET = 5_000  # events/s, docs/protocol.md §4
# events/s, docs/protocol.md §4 (Ponder on a 2-core machine, 100,000 simple events)
PONDER_REFERENCE = 6_600
CALLS_PER_TX = 1_000
CREATIONS_PER_TX = 40
EVENTS_PER_CREATION = 10  # 1 owner, 1 asset, 1 venue: see the module docstring
GAS_PER_DEPOSIT = 70_000
GAS_PER_CREATION = 400_000
BLOCK_GAS_LIMIT = 4_000_000_000
PG_URL = os.environ.get(
    "COPYVAULT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Generated:
    events: int
    deposits: int
    vaults: int
    stops: int
    transactions: int
    blocks: int
    seconds: float


@dataclass
class Result:
    backend: str
    events: int
    seconds: float
    events_per_second: float
    ranges: int
    breakdown: dict[str, float] = field(default_factory=dict)
    error: str | None = None


# ----------------------------------------------------------------------------- generating events


class Generator:
    def __init__(self, client: ChainClient, deployment: Deployment, log):
        self.client = client
        self.d = deployment
        self.log = log
        self.actions = Actions(client, deployment)
        self.sender = UnlockedSender(client, Key.anvil(0).address)
        self.multisend_abi = npm_abi("MultiSendCallOnly")
        receipt = self.sender.send(None, self.multisend_abi.contract.bytecode)
        self.multisend = created_address(receipt)
        self.transactions = 0

    def _send_batches(self, batches: list[tuple[bytes, int]]) -> list[dict[str, Any]]:
        """Submit every batch, then wait for all receipts (anvil mines one block per tx)."""
        hashes = []
        for payload, gas in batches:
            data = self.multisend_abi.call_data("multiSend", payload)
            hashes.append(self.sender.submit(self.multisend, data, gas=gas))
        receipts = [wait_for_receipt(self.client, h) for h in hashes]
        for r in receipts:
            if int(r["status"], 16) != 1:
                raise RuntimeError(f"benchmark transaction {r['transactionHash']} reverted")
        self.transactions += len(receipts)
        return receipts

    def run(self, target_events: int) -> Generated:
        started = time.perf_counter()
        start_block = self.client.block_number()
        a = self.actions
        weth = a.token("WETH")
        factory: ContractAbi = a.factory_abi
        vault_abi, token_abi = a.vault_abi, a.token_abi
        n_vaults = max(1, target_events // 9 // EVENTS_PER_CREATION)
        n_stops = max(1, target_events // 100)
        n_deposits = max(0, target_events - n_vaults * EVENTS_PER_CREATION - n_stops)

        # Vaults owned by the MultiSend contract (so it may stop their copying).
        create = factory.fn("createVault")
        policy = (5_000, 100, 3_600, 10, 0)
        calls = [
            packed_call(
                self.d.factory,
                create.encode(
                    [self.multisend],
                    1,
                    Key.anvil(2).address,
                    policy,
                    self.d.oracle,
                    [weth],
                    [a.venue],
                    False,
                    i.to_bytes(32, "big"),
                ),
            )
            for i in range(n_vaults)
        ]
        batches = [
            (b"".join(calls[i : i + CREATIONS_PER_TX]), CREATIONS_PER_TX * GAS_PER_CREATION)
            for i in range(0, len(calls), CREATIONS_PER_TX)
        ]
        vaults = []
        for receipt in self._send_batches(batches):
            vaults += a.created_vaults(receipt)
        self.log(f"  {len(vaults):,} vaults created")

        # Tokens for the deposits, and one approval per vault.
        amount = 10**15
        setup = [
            packed_call(weth, token_abi.call_data("mint", self.multisend, amount * n_deposits))
        ]
        setup += [packed_call(weth, token_abi.call_data("approve", v, 2**256 - 1)) for v in vaults]
        self._send_batches(
            [
                (b"".join(setup[i : i + CALLS_PER_TX]), CALLS_PER_TX * 60_000)
                for i in range(0, len(setup), CALLS_PER_TX)
            ]
        )

        deposit = vault_abi.fn("deposit")
        deposits = [
            packed_call(vaults[i % len(vaults)], deposit.encode(weth, amount))
            for i in range(n_deposits)
        ]
        stops = [packed_call(v, vault_abi.call_data("stopCopying")) for v in vaults[:n_stops]]
        calls = deposits + stops
        self._send_batches(
            [
                (b"".join(calls[i : i + CALLS_PER_TX]), CALLS_PER_TX * GAS_PER_DEPOSIT + 1_000_000)
                for i in range(0, len(calls), CALLS_PER_TX)
            ]
        )
        stops_done = min(n_stops, len(vaults))
        return Generated(
            events=len(vaults) * EVENTS_PER_CREATION + n_deposits + stops_done,
            deposits=n_deposits,
            vaults=len(vaults),
            stops=stops_done,
            transactions=self.transactions,
            blocks=self.client.block_number() - start_block,
            seconds=time.perf_counter() - started,
        )


# ----------------------------------------------------------------------------- stores


@contextmanager
def sqlite_store() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="copyvault-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgres_store() -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(PG_URL)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"copyvault_bench_{secrets.token_hex(5)}"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


STORES = {"sqlite": sqlite_store, "postgresql": postgres_store}


def parse_backends(text: str, parser: argparse.ArgumentParser) -> list[str]:
    """The stores of a `--backends sqlite,postgresql` option (a usage error for unknown ones)."""
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in STORES]
    if not names or unknown:
        parser.error(f"--backends takes {', '.join(STORES)}; got {text!r}")
    return names


def backfill(backend: str, client_url: str, deployment: Deployment) -> Result:
    from sqlalchemy import func, select

    from backend.db.migrate import create_migrated_engine
    from backend.db.models import Event
    from backend.indexer.indexer import Indexer, IndexerConfig

    with STORES[backend]() as url:
        engine = create_migrated_engine(url)
        try:
            indexer = Indexer(
                engine,
                ChainClient(client_url, timeout=600),
                deployment,
                config=IndexerConfig(confirmations=0),
            )
            indexer.prepare()
            started = time.perf_counter()
            assert indexer.sync_once()
            seconds = time.perf_counter() - started
            with engine.connect() as conn:
                stored = conn.scalar(select(func.count()).select_from(Event))
            assert stored == indexer.stats.events, (stored, indexer.stats.events)
        finally:
            engine.dispose()
    breakdown = {k: round(v, 3) for k, v in indexer.stats.seconds.items()}
    breakdown["other"] = round(seconds - sum(indexer.stats.seconds.values()), 3)
    return Result(
        backend=backend,
        events=indexer.stats.events,
        seconds=round(seconds, 3),
        events_per_second=round(indexer.stats.events / seconds, 1),
        ranges=indexer.stats.ranges,
        breakdown=breakdown,
    )


# ----------------------------------------------------------------------------- report


def format_table(generated: Generated, results: list[Result]) -> str:
    head = ("Backend", "Events", "Seconds", "Events/s", "Target", "Result")
    rows = [head]
    for r in results:
        if r.error:
            rows.append((r.backend, "-", "-", "-", "", f"ERROR: {r.error}"))
            continue
        target = f">= {SQLITE_TARGET:,}" if r.backend == "sqlite" else ""
        met = ("met" if r.events_per_second >= SQLITE_TARGET else "NOT MET") if target else ""
        rows.append(
            (
                r.backend,
                f"{r.events:,}",
                f"{r.seconds:.2f}",
                f"{r.events_per_second:,.0f}",
                target,
                met,
            )
        )
    lines = text_table(rows)
    lines.append("")
    lines.append("Where the time goes (seconds):")
    keys = ["rpc_logs", "rpc_headers", "decode", "db_events", "db_derived", "db_commit", "other"]
    lines.append("  " + "backend".ljust(10) + "".join(k.rjust(12) for k in keys))
    for r in results:
        if not r.error:
            lines.append(
                "  " + r.backend.ljust(10) + "".join(f"{r.breakdown.get(k, 0):12.2f}" for k in keys)
            )
    lines.append("")
    lines.append(
        f"Events: {generated.events:,} ({generated.vaults:,} vault creations x "
        f"{EVENTS_PER_CREATION}, {generated.deposits:,} deposits, {generated.stops:,} stops) in "
        f"{generated.blocks:,} blocks / {generated.transactions:,} transactions, generated in "
        f"{generated.seconds:.1f}s. Reference: Ponder ~{PONDER_REFERENCE:,} events/s "
        "(docs/protocol.md §4)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events to generate")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--json", default=DEFAULT_JSON, help="where to write the JSON report")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(STORES)
    if unknown:
        parser.error(f"unknown backends: {sorted(unknown)}")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    node = start_anvil(extra=["--gas-limit", str(BLOCK_GAS_LIMIT), "--code-size-limit", "100000"])
    try:
        client = ChainClient(node.url, timeout=600)
        deployment = deploy_system(client, UnlockedSender(client, Key.anvil(0).address))
        log(f"generating ~{args.events:,} events on anvil at {node.url}")
        generated = Generator(client, deployment, log).run(args.events)
        log(
            f"  {generated.events:,} events in {generated.blocks:,} blocks "
            f"({generated.seconds:.1f}s)"
        )
        results = []
        for backend in backends:
            log(f"backfilling into {backend}")
            try:
                results.append(backfill(backend, node.url, deployment))
            except Exception as exc:  # report it; a benchmark run is not a test
                results.append(
                    Result(backend, 0, 0.0, 0.0, 0, error=f"{type(exc).__name__}: {exc}")
                )
    finally:
        node.stop()

    print(format_table(generated, results))
    report = {
        "meta": {
            "events_requested": args.events,
            "generated": asdict(generated),
            "event_mix": {
                "vault_creations": generated.vaults,
                "events_per_creation": EVENTS_PER_CREATION,
                "deposits": generated.deposits,
                "copying_stopped": generated.stops,
                "how": "real vault and factory calls batched through Safe's MultiSendCallOnly",
            },
            **machine(),
            "indexer_settings": "defaults (block_range_initial 2000, logs_per_request 10000), "
            "confirmations 0",
        },
        "results": [asdict(r) for r in results],
        "targets": {
            "sqlite_events_per_second": SQLITE_TARGET,
            "sqlite_met": next(
                (
                    r.events_per_second >= SQLITE_TARGET
                    for r in results
                    if r.backend == "sqlite" and not r.error
                ),
                None,
            ),
            "ponder_reference_events_per_second": PONDER_REFERENCE,
        },
    }
    if args.json:
        write_json(args.json, report, log)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
