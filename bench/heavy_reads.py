"""Heavy anonymous reads (issue 10, item 4): one vault with 2,000 proposals, 32 concurrent
`GET /v1/vaults/{v}/proposals?status=executed&limit=1` against the real server, and a deposit made
on chain meanwhile: no answer may be a 500 and the deposit must reach the index within 2 s.

    python -m bench.heavy_reads [--proposals 2000] [--concurrency 32] [--requests 320]
                                [--backends sqlite,postgresql]
                                [--json reports/bench-heavy-reads.json]

What runs, per store:

- a private anvil with copyvault deployed; a vault (one owner, threshold 1) with a deposit and one
  withdrawal executed on chain (operation nonce 0), so exactly one proposal can be `executed`;
- the real server (`python -m backend.cli serve`: one uvicorn process with its indexer thread) on a
  fresh store, once its index has caught up;
- `seed_proposals` writes the proposals straight into the store (valid rows: real EIP-712 digests
  and owner signatures; statuses mixed: the executed one is the oldest, so the filtered list has to
  pass over every other proposal of the vault to find it);
- `--requests` filtered lists from `--concurrency` concurrent connections (aiohttp), each timed
  from send to full response; GET /v1/health timed alone in the middle of the storm; a deposit
  sent once the storm runs, and the time until `/v1/vaults/{v}/events` lists it.

The client runs on the same machine. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Engine, insert

from backend.chain import eip712
from backend.chain.actions import HOUR, Actions, Key
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_system
from backend.chain.node import start_anvil
from backend.chain.tx import UnlockedSender
from backend.db.engine import create_store_engine
from backend.db.proposal_models import Proposal, ProposalSignature
from bench.indexer import STORES, parse_backends
from bench.report import machine, text_table, write_json
from tests.utils.server_process import indexed_through, poll_until, running_server

DEFAULT_JSON = "reports/bench-heavy-reads.json"
DEFAULT_PROPOSALS = 2_000
DEFAULT_CONCURRENCY = 32
DEFAULT_REQUESTS = 320
TARGET_DEPOSIT_SECONDS = 2.0
LEADER_ACCOUNT, OWNER_ACCOUNT, DEPOSITOR_ACCOUNT, RELAYER_ACCOUNT = 2, 6, 5, 3
WITHDRAWN = 10**6  # USDC units withdrawn on chain at operation nonce 0


# ----------------------------------------------------------------------------- the vault


@dataclass(frozen=True)
class ProposalWorld:
    """A vault whose operation nonce 0 was a withdrawal of `amount` of `token` to `recipient`."""

    chain_id: int
    vault: str
    owner: Key
    token: str
    recipient: str
    amount: int
    now: int  # the chain's time when the world was made


def make_vault_with_withdrawal(actions: Actions, chain_id: int) -> ProposalWorld:
    owner, depositor = Key.anvil(OWNER_ACCOUNT), Key.anvil(DEPOSITOR_ACCOUNT)
    usdc = actions.token("USDC")
    vault = actions.create_vault(
        [owner], threshold=1, leader=Key.anvil(LEADER_ACCOUNT).address, salt=4242
    )
    actions.deposit(vault, usdc, 100 * WITHDRAWN, depositor)
    actions.withdraw(
        vault, usdc, WITHDRAWN, depositor.address, [owner], relayer=Key.anvil(RELAYER_ACCOUNT)
    )
    return ProposalWorld(
        chain_id, vault, owner, usdc, depositor.address, WITHDRAWN, actions.timestamp()
    )


def _row_terms(world: ProposalWorld, i: int) -> tuple[str, int, int, int, bool]:
    """(expected status, nonce, amount, deadline, signed by the owner) of proposal `i`.
    0: the withdrawal executed at nonce 0; then in turn: stale (nonce 0 used by another
    operation), ready (next nonce, signed), pending (queued behind the next nonce), stale
    (deadline passed)."""
    ahead, past = world.now + 30 * 24 * HOUR, world.now - HOUR
    if i == 0:
        return "executed", 0, world.amount, ahead, True
    kind = i % 4
    if kind == 1:
        return "stale", 0, world.amount + i, ahead, True
    if kind == 2:
        return "ready", 1, i, ahead, True
    if kind == 3:
        return "pending", 2 + i, i, ahead, True
    return "stale", 1, i, past, False


def seed_proposals(engine: Engine, world: ProposalWorld, count: int) -> Counter[str]:
    """Write `count` withdrawal proposals of the vault straight into the store (valid rows: the
    digest the vault would compute, the owner's real signature where one is stored); the number
    expected in each status."""
    domain = eip712.Domain(chain_id=world.chain_id, verifying_contract=world.vault)
    expected: Counter[str] = Counter()
    created = datetime.now(UTC)
    proposals, signatures = [], []
    for i in range(count):
        status, nonce, amount, deadline, signed = _row_terms(world, i)
        expected[status] += 1
        message = eip712.Withdrawal(
            token=world.token, amount=amount, to=world.recipient, nonce=nonce, deadline=deadline
        )
        proposals.append(
            {
                "id": i + 1,
                "chain_id": world.chain_id,
                "digest": "0x" + eip712.digest(domain, message).hex(),
                "vault": world.vault,
                "kind": "withdrawal",
                "nonce": nonce,
                "deadline": deadline,
                "token": world.token,
                "amount": amount,
                "recipient": world.recipient,
                "proposer": world.owner.address,
                "created_at": created,
            }
        )
        if signed:
            signature = eip712.sign(world.owner.private_key, domain, message)
            signatures.append(
                {
                    "proposal_id": i + 1,
                    "signer": world.owner.address,
                    "signature": "0x" + signature.hex(),
                    "method": "ecdsa",
                    "created_at": created,
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(Proposal), proposals)
        conn.execute(insert(ProposalSignature), signatures)
        if engine.dialect.name == "postgresql":  # explicit ids: move the identity past them
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('proposals', 'id'), "
                "(SELECT max(id) FROM proposals))"
            )
    return expected


# ----------------------------------------------------------------------------- the storm


@dataclass
class StoreResult:
    backend: str
    proposals: int
    requests: int
    concurrency: int
    statuses: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    health_ms: float = 0.0
    deposit_indexed_s: float | None = None
    executed_found: bool = False

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if int(status) >= 500)

    @property
    def met(self) -> bool:
        return (
            self.server_errors == 0
            and self.executed_found
            and self.deposit_indexed_s is not None
            and self.deposit_indexed_s <= TARGET_DEPOSIT_SECONDS
        )


async def _storm(url: str, path: str, requests: int, concurrency: int):
    """(status counts, latencies in ms, the first 200 body) of `requests` GETs of `path`."""
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    first_ok: list[Any] = []
    remaining = iter(range(requests))
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(url, timeout=timeout) as session:

        async def worker() -> None:
            for _ in remaining:
                started = time.perf_counter()
                async with session.get(path) as response:
                    body = await response.json(content_type=None)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[str(response.status)] += 1
                if response.status == 200 and not first_ok:
                    first_ok.append(body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses, latencies, (first_ok[0] if first_ok else None)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def _deposit_indexed_after(api, actions: Actions, world: ProposalWorld) -> float | None:
    """Seconds from a deposit's receipt until the API lists its event (None: not within 30 s)."""
    deposits = f"/v1/vaults/{world.vault}/events"
    before = len(api.get(deposits, params={"name": "Deposited"}).json()["items"])
    actions.deposit(world.vault, world.token, WITHDRAWN, Key.anvil(DEPOSITOR_ACCOUNT))
    mined = time.perf_counter()

    def listed() -> bool:
        events = api.get(deposits, params={"name": "Deposited"})
        return events.status_code == 200 and len(events.json()["items"]) > before

    return time.perf_counter() - mined if poll_until(listed, 30, every=0.05) else None


def measure_store(backend: str, node_url: str, deployment: Deployment, world, args, log):
    client = ChainClient(node_url)
    actions = Actions(client, deployment)
    with STORES[backend]() as url, tempfile.TemporaryDirectory(prefix="copyvault-reads-") as tmp:
        with running_server(node_url, deployment, Path(tmp), url, timeout=60) as (api, server):
            head = client.block_number()
            if not poll_until(lambda: indexed_through(api, head), 120):
                raise RuntimeError("the server's indexer did not catch up with the chain")
            engine = create_store_engine(url)
            try:
                expected = seed_proposals(engine, world, args.proposals)
            finally:
                engine.dispose()
            log(f"  {backend}: {args.proposals:,} proposals seeded ({dict(expected)})")
            result = StoreResult(backend, args.proposals, args.requests, args.concurrency)
            path = f"/v1/vaults/{world.vault}/proposals?status=executed&limit=1"
            side: dict[str, float | None] = {}

            def during_storm() -> None:
                time.sleep(0.2)  # let the storm start first
                started = time.perf_counter()
                api.get("/v1/health")
                side["health_ms"] = (time.perf_counter() - started) * 1000
                side["deposit_s"] = _deposit_indexed_after(api, actions, world)

            helper = threading.Thread(target=during_storm)
            helper.start()
            statuses, latencies, body = asyncio.run(
                _storm(server["url"], path, args.requests, args.concurrency)
            )
            helper.join(60)
            result.statuses = dict(statuses)
            result.p50_ms = round(_percentile(latencies, 0.5), 1)
            result.p99_ms = round(_percentile(latencies, 0.99), 1)
            result.max_ms = round(max(latencies, default=0.0), 1)
            result.health_ms = round(side.get("health_ms") or 0.0, 1)
            deposit = side.get("deposit_s")
            result.deposit_indexed_s = round(deposit, 2) if deposit is not None else None
            items = body["items"] if body else []
            result.executed_found = len(items) == 1 and items[0]["status"] == "executed"
            log(f"  {backend}: {result.statuses}, p99 {result.p99_ms} ms, deposit {deposit}")
            return result


# ----------------------------------------------------------------------------- report


def format_table(results: list[StoreResult]) -> str:
    head = ("Store", "Proposals", "Requests", "Answers", "5xx", "p50 ms", "p99 ms", "max ms",
            "Health ms", "Deposit indexed s", "Result")  # fmt: skip
    rows = [head]
    for r in results:
        answers = ", ".join(f"{n}×{s}" for s, n in sorted(r.statuses.items()))
        deposit = f"{r.deposit_indexed_s:.2f}" if r.deposit_indexed_s is not None else "never"
        rows.append(
            (
                r.backend,
                f"{r.proposals:,}",
                f"{r.requests:,}",
                answers,
                str(r.server_errors),
                f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}",
                f"{r.max_ms:.1f}",
                f"{r.health_ms:.1f}",
                deposit,
                "met" if r.met else "NOT MET",
            )
        )
    lines = text_table(rows)
    lines.append("")
    lines.append(
        f"GET /v1/vaults/{{v}}/proposals?status=executed&limit=1, "
        f"{results[0].concurrency if results else 0} concurrent connections, on the same machine "
        f"({os.cpu_count()} CPUs). Target (issue 10): no 5xx, the executed proposal found, a "
        f"deposit made during the storm indexed within {TARGET_DEPOSIT_SECONDS:.0f} s."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=DEFAULT_PROPOSALS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", default=DEFAULT_JSON, help="where to write the JSON report")
    args = parser.parse_args(argv)
    if min(args.proposals, args.concurrency, args.requests) < 1:
        parser.error("--proposals, --concurrency and --requests must be positive")
    backends = parse_backends(args.backends, parser)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: list[StoreResult] = []
    for backend in backends:
        node = start_anvil()  # a chain per store: each server indexes it from the start
        try:
            client = ChainClient(node.url)
            deployment = deploy_system(client, UnlockedSender(client, Key.anvil(0).address))
            world = make_vault_with_withdrawal(Actions(client, deployment), deployment.chain_id)
            results.append(measure_store(backend, node.url, deployment, world, args, log))
        finally:
            node.stop()

    print(format_table(results))
    report = {
        "meta": {
            "proposals": args.proposals,
            "requests": args.requests,
            "concurrency": args.concurrency,
            "target_deposit_seconds": TARGET_DEPOSIT_SECONDS,
            "machine": machine(),
        },
        "results": [asdict(r) | {"server_errors": r.server_errors, "met": r.met} for r in results],
    }
    write_json(args.json, report, log)
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
