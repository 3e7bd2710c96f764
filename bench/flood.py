"""Flood: one abusive client at five times the normal rate against legitimate clients, through the
real server with its relayer on.

    python -m bench.flood [--seconds 20] [--legit-clients 2] [--rate 8] [--abuse-factor 5]
                          [--vaults 4] [--workers 2] [--backends sqlite,postgresql]
                          [--json reports/bench-flood.json]

What runs, for each store:

- a private anvil with copyvault deployed by backend/chain/deploy.py; one registered leader per
  legitimate client, each with `--vaults` following vaults holding WETH (the intents' tokenIn; the
  vaults' policy allows many trades a day, so no trade is skipped by the daily cap);
- the node mines one block a second (`evm_setIntervalMining`) and the real server runs
  (`python -m backend.cli serve`, `--workers` API processes, its indexer and relayer on, the relayer
  signing with a dev account used by nothing else), once its index lists every follower;
- for `--seconds`, open-loop (each request leaves on its schedule, whatever the answers before it):
  ``legitimate`` clients, each at `--rate` requests a second from its own loopback address
  (127.0.1.x): one real intent of its leader a second (WETH -> USDC, 10 %), the rest cheap reads
  (the intent it posted last, one of its leader's vaults);
  ``abuser``: one client at `--abuse-factor` x `--rate` requests a second from 127.0.2.1: half of
  them intents each signed by a fresh key, the key itself as leader (registered nowhere, no
  follower), the other half expensive reads (the longest pages of vaults and leaders, a vault's
  detail with its valuation), every request with a made-up `X-Forwarded-For` (a server that
  believed it from an untrusted peer would count each request as a new client's);
- then the bench waits (up to `--drain-seconds`) until every intent that was answered 202 has a
  final status (`done` or `rejected`) and reads each one back.

Measured, with the target each must meet:

- legitimate p99 latency over all their requests: under 200 ms;
- every legitimate intent relayed within 2 blocks: the block of its last mirrored vault minus the
  head the bench had seen when the 202 arrived (polled every 50 ms, so a block mined in those
  50 ms counts against the relayer);
- the abuser's answers by status: some 429 (rate limits), no spam intent accepted (admission);
- nothing accepted lost: every 202 (legitimate or spam) is stored and reaches a final status.

Every request's answer is counted by status; a request that got no answer (connection error or
timeout) is counted as status 0. Prints a table and writes JSON. PostgreSQL: a temporary database
on COPYVAULT_BENCH_POSTGRES_URL (default: the local server), dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
from eth_account import Account

from backend.api.schemas import intent_submission_body
from backend.chain import eip712
from backend.chain.actions import HOUR, Actions, Key
from backend.chain.client import ChainClient
from backend.chain.deploy import deploy_system
from backend.chain.node import start_anvil
from backend.chain.tx import UnlockedSender
from backend.config import Settings
from bench.indexer import STORES, parse_backends
from bench.relay import Setup, _followers_indexed
from bench.report import machine, text_table, tree_cpu_seconds, write_json
from tests.utils.server_process import running_server

DEFAULT_JSON = "reports/bench-flood.json"
TARGET_P99_MS = 200.0
TARGET_BLOCKS = 2
BLOCK_TIME = 1  # seconds, interval mining during the flood
LEADER_ACCOUNTS = (2, 3, 4, 5, 6)  # one registered leader per legitimate client
RELAYER_ACCOUNT = 9  # the relayer's key: no other role here uses this dev account
# Many trades a day, so the daily cap never skips a vault: (maxFractionBps, maxSlippageBps,
# maxOracleAge, maxTradesPerDay, lossBudgetBps).
FLOOD_POLICY = (5_000, 100, 3_600, 10_000, 0)
FRACTION_BPS = 1_000
HEAD_POLL_SECONDS = 0.05
REQUEST_TIMEOUT_SECONDS = 30
FINAL = ("done", "rejected")
LEGIT_ADDRESS = "127.0.1.{}"
ABUSER_ADDRESS = "127.0.2.1"
# The server runs with the rate and connection limits a deployment gets by default (the other
# benches raise them so that their one load-generating address is never refused).
PRODUCT_LIMITS = {
    f"COPYVAULT_{name.upper()}": str(Settings.model_fields[name].default)
    for name in (
        "rate_limit_per_address",
        "rate_limit_per_credential",
        "rate_limit_per_leader",
        "api_max_connections_per_client",
    )
}

Log = Callable[[str], None]


@dataclass
class Answer:
    client: str  # "legit-1", ... or "abuser"
    kind: str  # "intent", "read", "spam", "expensive-read"
    status: int  # 0: no answer
    ms: float
    digest: str | None = None
    head: int | None = None  # the head the bench had seen when a 202 arrived


@dataclass
class LegitIntent:
    client: str
    digest: str
    accepted_head: int
    status: str | None = None
    mirrored: int = 0
    vaults: int = 0
    last_block: int | None = None

    @property
    def blocks(self) -> int | None:
        return None if self.last_block is None else self.last_block - self.accepted_head


@dataclass
class Result:
    backend: str
    seconds: float
    legit_clients: int
    rate: float
    abuser_rate: float
    legit_requests: int = 0
    legit_by_status: dict[str, int] = field(default_factory=dict)
    legit_p50_ms: float = 0.0
    legit_p99_ms: float = 0.0
    legit_intents: int = 0
    legit_intents_accepted: int = 0
    legit_relayed_within_target: int = 0
    legit_blocks_max: int | None = None
    legit_blocks: dict[str, int] = field(default_factory=dict)  # blocks -> intents
    abuser_requests: int = 0
    abuser_by_status: dict[str, int] = field(default_factory=dict)
    spam_by_status: dict[str, int] = field(default_factory=dict)
    expensive_reads_by_status: dict[str, int] = field(default_factory=dict)
    accepted_total: int = 0  # every 202, legitimate and spam
    accepted_lost: int = 0  # a 202 whose intent cannot be read back
    accepted_unfinished: int = 0  # read back, but no final status within the drain time
    drain_seconds: float = 0.0
    server_cpu_ms_per_request: float | None = None
    intents: list[LegitIntent] = field(default_factory=list)
    error: str | None = None

    @property
    def checks(self) -> dict[str, bool]:
        return {
            "legit p99 < 200 ms": self.legit_p99_ms < TARGET_P99_MS
            and not self.legit_by_status.get("0"),
            "legit intents relayed <= 2 blocks": self.legit_intents > 0
            and self.legit_relayed_within_target == self.legit_intents,
            "abuser gets 429": self.abuser_by_status.get("429", 0) > 0,
            "spam refused (no 202)": not self.spam_by_status.get("202"),
            "nothing accepted lost": self.accepted_lost == 0 and self.accepted_unfinished == 0,
        }

    @property
    def met(self) -> bool:
        return self.error is None and all(self.checks.values())


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ----------------------------------------------------------------------------- requests


def _intent_body(actions: Actions, key: Key, leader: str, nonce: int, deadline: int) -> bytes:
    message = eip712.TradeIntent(
        leader=leader,
        venue=actions.venue,
        token_in=actions.token("WETH"),
        token_out=actions.token("USDC"),
        fraction_bps=FRACTION_BPS,
        min_price=0,
        nonce=nonce,
        deadline=deadline,
    )
    signature = eip712.sign(key.private_key, actions.domain(actions.d.registry), message)
    return json.dumps(intent_submission_body(message, signature)).encode()


def spam_bodies(actions: Actions, count: int) -> list[bytes]:
    """Intents each signed by a fresh key that is its own leader: registered nowhere, followed by
    no vault (what an attacker posts to fill the relayer's queue)."""
    deadline = actions.timestamp() + 6 * HOUR
    bodies = []
    for _ in range(count):
        account = Account.create()
        key = Key(account.address, "0x" + bytes(account.key).hex())
        bodies.append(_intent_body(actions, key, key.address, 1, deadline))
    return bodies


@dataclass
class Plan:
    """What one client sends: (seconds after the start, kind, method, path, body) in time order."""

    client: str
    local_address: str
    requests: list[tuple[float, str, str, str, bytes | None]]
    # Send a made-up X-Forwarded-For with every request (the abuser: a server that believed it
    # from an untrusted peer would count each request as another client's).
    spoof_forwarded_for: bool = False
    # Sent with every request: the client's credentials, if the API asks for any.
    headers: dict[str, str] = field(default_factory=dict)


def legit_plan(
    index: int, actions: Actions, leader: Key, vaults: list[str], seconds: float, rate: float
) -> Plan:
    """One intent a second (the first at once), cheap reads in between, `rate` requests a second."""
    deadline = actions.timestamp() + 6 * HOUR
    count = max(1, int(seconds * rate))
    per_intent = max(1, round(rate))  # one intent every `per_intent` requests: once a second
    requests = []
    nonce = 0
    for k in range(count):
        at = k / rate
        if k % per_intent == 0:
            nonce += 1
            body = _intent_body(actions, leader, leader.address, nonce, deadline)
            requests.append((at, "intent", "POST", "/v1/intents", body))
        elif k % 2:
            requests.append((at, "read", "GET", "<last intent>", None))
        else:
            requests.append((at, "read", "GET", f"/v1/vaults/{vaults[k % len(vaults)]}", None))
    return Plan(f"legit-{index + 1}", LEGIT_ADDRESS.format(index + 1), requests)


def abuser_plan(
    spam: list[bytes], vaults: list[str], leaders: list[str], seconds: float, rate: float
) -> Plan:
    """Half spam intents, half the most expensive reads there are, at `rate` requests a second."""
    expensive = [
        "/v1/vaults?limit=200",
        "/v1/leaders?limit=200",
        *(f"/v1/vaults/{v}" for v in vaults[:4]),
        *(f"/v1/leaders/{leader}/trades?limit=200" for leader in leaders),
    ]
    requests = []
    spam_iter = iter(spam)
    for k in range(max(1, int(seconds * rate))):
        at = k / rate
        if k % 2 == 0:
            requests.append((at, "spam", "POST", "/v1/intents", next(spam_iter)))
        else:
            path = expensive[(k // 2) % len(expensive)]
            requests.append((at, "expensive-read", "GET", path, None))
    return Plan("abuser", ABUSER_ADDRESS, requests, spoof_forwarded_for=True)


def legit_credentials(api, leader: Key) -> dict[str, str]:
    """Headers a legitimate client sends with every request to act as `leader` (its session or API
    key): none while intake asks for no credential. The one place to sign a leader in."""
    return {}


class Head:
    """The chain's head, polled every HEAD_POLL_SECONDS while the flood runs."""

    def __init__(self, client: ChainClient):
        self.client = client
        self.block = client.block_number()

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.block = max(self.block, await asyncio.to_thread(self.client.block_number))
            except Exception:  # noqa: BLE001 - a missed poll only makes the count pessimistic
                pass
            await asyncio.sleep(HEAD_POLL_SECONDS)


async def _run_client(url: str, plan: Plan, head: Head, answers: list[Answer]) -> None:
    connector = aiohttp.TCPConnector(limit=256, local_addr=(plan.local_address, 0))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    headers = {"content-type": "application/json"} | plan.headers
    last_digest: list[str] = []
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def one(kind: str, method: str, path: str, body: bytes | None) -> None:
            if path == "<last intent>":
                if not last_digest:
                    path = "/v1/health"
                else:
                    path = f"/v1/intents/{last_digest[-1]}"
            sent = headers
            if plan.spoof_forwarded_for:  # as an attacker would: another "client" every request
                octets = random.randbytes(3)
                sent = headers | {"x-forwarded-for": "10." + ".".join(map(str, octets))}
            started = time.perf_counter()
            status, digest, seen = 0, None, None
            try:
                async with session.request(method, path, data=body, headers=sent) as response:
                    payload = await response.read()
                    status = response.status
                    if status == 202:
                        seen = head.block
                        digest = json.loads(payload)["digest"]
                        if kind == "intent":
                            last_digest.append(digest)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            ms = (time.perf_counter() - started) * 1_000
            answers.append(Answer(plan.client, kind, status, ms, digest, seen))

        tasks = []
        start = time.perf_counter()
        for at, kind, method, path, body in plan.requests:
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(kind, method, path, body)))
        await asyncio.gather(*tasks)


async def _flood(url: str, plans: list[Plan], head: Head) -> list[Answer]:
    answers: list[Answer] = []
    stop = asyncio.Event()
    follower = asyncio.create_task(head.follow(stop))
    try:
        await asyncio.gather(*(_run_client(url, plan, head, answers) for plan in plans))
    finally:
        stop.set()
        await follower
    return answers


# ----------------------------------------------------------------------------- after the flood


def _drain(api, digests: list[str], seconds: float) -> tuple[dict[str, dict | None], float]:
    """Each accepted intent's final status (None: not found), waiting up to `seconds` for all."""
    started = time.monotonic()
    statuses: dict[str, dict | None] = {}
    pending = list(digests)
    while True:
        still = []
        for digest in pending:
            response = api.get(f"/v1/intents/{digest}")
            if response.status_code == 404:
                statuses[digest] = None
            elif response.status_code == 200:
                statuses[digest] = response.json()
                if statuses[digest]["status"] not in FINAL:
                    still.append(digest)
            else:
                still.append(digest)
        pending = still
        if not pending or time.monotonic() - started > seconds:
            return statuses, time.monotonic() - started
        time.sleep(0.5)


def _by_status(answers: list[Answer]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(a.status for a in answers).items())}


def summarise(result: Result, answers: list[Answer], statuses: dict[str, dict | None]) -> None:
    legit = [a for a in answers if a.client != "abuser"]
    abuser = [a for a in answers if a.client == "abuser"]
    result.legit_requests = len(legit)
    result.legit_by_status = _by_status(legit)
    ms = [a.ms for a in legit]
    result.legit_p50_ms = round(_percentile(ms, 0.5), 2)
    result.legit_p99_ms = round(_percentile(ms, 0.99), 2)
    result.abuser_requests = len(abuser)
    result.abuser_by_status = _by_status(abuser)
    result.spam_by_status = _by_status([a for a in abuser if a.kind == "spam"])
    result.expensive_reads_by_status = _by_status([a for a in abuser if a.kind != "spam"])
    accepted = [a for a in answers if a.status == 202 and a.digest]
    result.accepted_total = len(accepted)
    result.accepted_lost = sum(statuses.get(a.digest) is None for a in accepted)  # type: ignore[arg-type]
    result.accepted_unfinished = sum(
        (s := statuses.get(a.digest)) is not None and s["status"] not in FINAL  # type: ignore[arg-type]
        for a in accepted
    )
    intents = [a for a in legit if a.kind == "intent"]
    result.legit_intents = len(intents)
    result.legit_intents_accepted = sum(a.status == 202 for a in intents)
    for a in intents:
        if a.status != 202 or not a.digest:
            continue
        status = statuses.get(a.digest) or {}
        # The block each vault was mirrored in (the batches' blocks where a vault has none).
        blocks = [
            v["block_number"]
            for v in status.get("vaults", [])
            if v["status"] == "mirrored" and v.get("block_number")
        ] or [b["block_number"] for b in status.get("batches", []) if b.get("block_number")]
        result.intents.append(
            LegitIntent(
                client=a.client,
                digest=a.digest,
                accepted_head=a.head or 0,
                status=status.get("status"),
                mirrored=status.get("vaults_mirrored", 0),
                vaults=len(status.get("vaults", [])),
                last_block=max(blocks) if blocks else None,
            )
        )
    relayed = [
        i
        for i in result.intents
        if i.blocks is not None and i.vaults > 0 and i.mirrored == i.vaults
    ]
    result.legit_relayed_within_target = sum(i.blocks <= TARGET_BLOCKS for i in relayed)  # type: ignore[operator]
    counted = Counter(i.blocks for i in result.intents)
    result.legit_blocks = {
        "never" if blocks is None else str(blocks): counted[blocks]
        for blocks in sorted(counted, key=lambda b: (b is None, b or 0))
    }
    result.legit_blocks_max = max((i.blocks for i in relayed), default=None)  # type: ignore[type-var]


# ----------------------------------------------------------------------------- one store


def measure_store(backend: str, args, log: Log) -> Result:
    abuser_rate = args.rate * args.abuse_factor
    result = Result(backend, args.seconds, args.legit_clients, args.rate, abuser_rate)
    node = start_anvil()
    try:
        client = ChainClient(node.url, timeout=60)
        deployment = deploy_system(client, UnlockedSender(client, Key.anvil(0).address))
        actions = Actions(client, deployment)
        setup = Setup(client, deployment)
        leaders = [Key.anvil(i) for i in LEADER_ACCOUNTS[: args.legit_clients]]
        followers: list[list[str]] = []
        for n, leader in enumerate(leaders):
            actions.register(leader, f"ipfs://flood-leader-{n}")
            followers.append(
                setup.followers(
                    args.vaults, leader.address, policy=FLOOD_POLICY, first_salt=1 + n * 1_000
                )
            )
        all_vaults = [v for vs in followers for v in vs]
        plans = [
            legit_plan(n, actions, leader, followers[n], args.seconds, args.rate)
            for n, leader in enumerate(leaders)
        ]
        spam_count = int(args.seconds * abuser_rate) // 2 + 1
        plans.append(
            abuser_plan(
                spam_bodies(actions, spam_count),
                all_vaults,
                [k.address for k in leaders],
                args.seconds,
                abuser_rate,
            )
        )
        log(f"  {backend}: {len(all_vaults)} vaults funded, {spam_count} spam intents signed")
        client.request("evm_setIntervalMining", [BLOCK_TIME])
        serve_args = ("--workers", str(args.workers)) if args.workers > 1 else ()
        with (
            STORES[backend]() as url,
            tempfile.TemporaryDirectory(prefix="copyvault-flood-") as tmp,
            running_server(
                node.url,
                deployment,
                Path(tmp),
                url,
                relayer=Key.anvil(RELAYER_ACCOUNT),
                serve_args=serve_args,
                settings=PRODUCT_LIMITS,
            ) as (api, server),
        ):
            end = time.monotonic() + 120
            while sum(_followers_indexed(api, k.address) for k in leaders) < len(all_vaults):
                if time.monotonic() > end:
                    raise RuntimeError("the server's index does not list every follower")
                time.sleep(0.2)
            for plan, leader in zip(plans, leaders, strict=False):  # the abuser has none
                plan.headers = legit_credentials(api, leader)
            log(f"  {backend}: server up, every follower indexed; flooding {args.seconds:g}s")
            cpu = tree_cpu_seconds(server["pid"])
            answers = asyncio.run(_flood(server["url"], plans, Head(client)))
            after = tree_cpu_seconds(server["pid"])
            if cpu is not None and after is not None and answers:
                result.server_cpu_ms_per_request = round((after - cpu) * 1_000 / len(answers), 3)
            digests = [a.digest for a in answers if a.status == 202 and a.digest]
            log(f"  {backend}: {len(digests)} intents accepted; waiting for each to be final")
            statuses, drained = _drain(api, digests, args.drain_seconds)
            result.drain_seconds = round(drained, 1)
            summarise(result, answers, statuses)
    except Exception as exc:  # noqa: BLE001 - reported in the table, not a traceback
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        node.stop()
    return result


# ----------------------------------------------------------------------------- report


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "-"


def format_table(results: list[Result]) -> str:
    head = ("Store", "Check", "Measured", "Target", "Result")
    rows: list[tuple[str, ...]] = [head]
    for r in results:
        if r.error:
            rows.append((r.backend, "run", f"ERROR: {r.error}", "", "NOT MET"))
            continue
        checks = r.checks
        rows += [
            (
                r.backend,
                "legitimate latency",
                f"p50 {r.legit_p50_ms:.1f} ms, p99 {r.legit_p99_ms:.1f} ms over "
                f"{r.legit_requests} requests ({_statuses(r.legit_by_status)})",
                f"p99 < {TARGET_P99_MS:g} ms",
                "met" if checks["legit p99 < 200 ms"] else "NOT MET",
            ),
            (
                r.backend,
                "legitimate intents relayed",
                f"{r.legit_relayed_within_target} of {r.legit_intents} within {TARGET_BLOCKS} "
                f"blocks ({r.legit_intents_accepted} accepted; blocks: "
                f"{_statuses(r.legit_blocks)})",
                f"all <= {TARGET_BLOCKS} blocks",
                "met" if checks["legit intents relayed <= 2 blocks"] else "NOT MET",
            ),
            (
                r.backend,
                "abuser answers",
                f"{r.abuser_requests} requests ({_statuses(r.abuser_by_status)})",
                "some 429",
                "met" if checks["abuser gets 429"] else "NOT MET",
            ),
            (
                r.backend,
                "spam intents",
                _statuses(r.spam_by_status),
                "none 202",
                "met" if checks["spam refused (no 202)"] else "NOT MET",
            ),
            (
                r.backend,
                "accepted intents",
                f"{r.accepted_total} accepted, {r.accepted_lost} lost, "
                f"{r.accepted_unfinished} not final after {r.drain_seconds:g}s",
                "none lost, all final",
                "met" if checks["nothing accepted lost"] else "NOT MET",
            ),
        ]
    lines = text_table(rows)
    lines.append("")
    if results:
        r = results[0]
        lines.append(
            f"{r.legit_clients} legitimate client(s) at {r.rate:g} requests/s each, one abuser at "
            f"{r.abuser_rate:g}/s, for {r.seconds:g}s; status 0 = no answer within "
            f"{REQUEST_TIMEOUT_SECONDS}s. Server CPU per request: "
            + ", ".join(
                f"{x.backend} {x.server_cpu_ms_per_request} ms"
                for x in results
                if x.server_cpu_ms_per_request is not None
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the flood lasts")
    parser.add_argument("--legit-clients", type=int, default=2)
    parser.add_argument(
        "--rate",
        type=float,
        default=8.0,
        help="requests/s of each legitimate client (the default per-address limit sustains 10)",
    )
    parser.add_argument(
        "--abuse-factor", type=float, default=5.0, help="the abuser's rate over --rate"
    )
    parser.add_argument("--vaults", type=int, default=4, help="followers of each leader")
    parser.add_argument("--workers", type=int, default=2, help="API processes")
    parser.add_argument("--drain-seconds", type=float, default=180.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", default=DEFAULT_JSON, help="where to write the JSON report")
    args = parser.parse_args(argv)
    if not 1 <= args.legit_clients <= len(LEADER_ACCOUNTS):
        parser.error(f"--legit-clients must be 1..{len(LEADER_ACCOUNTS)}")
    if args.seconds <= 0 or args.rate <= 0 or args.abuse_factor <= 0 or args.vaults < 1:
        parser.error("--seconds, --rate, --abuse-factor and --vaults must be positive")
    backends = parse_backends(args.backends, parser)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = [measure_store(backend, args, log) for backend in backends]
    print(format_table(results))
    report = {
        "meta": {
            "seconds": args.seconds,
            "legit_clients": args.legit_clients,
            "rate": args.rate,
            "abuse_factor": args.abuse_factor,
            "vaults_per_leader": args.vaults,
            "api_processes": args.workers,
            "how": "real server subprocess (uvicorn, indexer and relayer on), anvil mining one "
            "block a second; open-loop aiohttp clients on the same machine",
            **machine(),
        },
        "results": [asdict(r) | {"checks": r.checks, "met": r.met} for r in results],
        "targets": {"legit_p99_ms": TARGET_P99_MS, "blocks": TARGET_BLOCKS},
    }
    if args.json:
        write_json(args.json, report, log)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
