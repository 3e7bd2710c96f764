"""End to end: the real server (`python -m backend.cli serve`, with its indexer and relayer threads)
on a fresh anvil relays three signed intents into 50 follower vaults of mixed shapes, and what the
API reports per vault agrees with the chain (flags, receipts, balances) and with the index.

Set up once for the module: a registered leader, 41 ordinary followers (1-of-1, 2-of-3 and 3-of-5
EOA owners, some with a contract owner that signs through EIP-1271; WETH and USDC of varied sizes),
9 followers that some or all intents must skip (paused, copying stopped, a fraction cap, one trade
a day, nothing of tokenIn) and one vault following another leader, which must not appear at all.
The chain starts at a UTC midnight, so the daily trade cap cannot roll over during the run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import to_checksum_address
from sqlalchemy import text

from backend.chain.abi import ContractAbi
from backend.chain.actions import Key
from backend.chain.deploy import DEFAULT_POLICY
from backend.chain.node import start_anvil
from backend.chain.reader import token_balances
from backend.chain.tx import created_address
from backend.db.engine import create_store_engine
from backend.indexer.decoder import LogDecoder
from tests.backend.api.helpers import intent_body
from tests.backend.conftest import Chain, deploy_chain
from tests.utils.server_process import indexed_through, poll_until, running_server, tail

REPO_ROOT = Path(__file__).resolve().parents[3]
# 2025-06-02 00:00:00 UTC: a run of minutes stays inside one UTC day (maxTradesPerDay counts days).
DAY_START = 1_748_822_400
ANVIL_ACCOUNTS = 20
OWNER_ACCOUNTS = range(10, 19)  # co-owners: dev accounts the Chain's roles do not use
RELAYER_ACCOUNT = 19  # the relayer's key: used by nothing else
WETH = 10**18
USDC = 10**6
SERVER_START_SECONDS = 60
RELAY_SECONDS = 60

VAULT_PAUSED = "VaultPaused()"
COPYING_STOPPED = "CopyingStoppedError()"
FRACTION_TOO_LARGE = "FractionTooLarge(uint16,uint16)"
DAILY_LIMIT = "DailyTradeLimitReached(uint256,uint16)"
NOTHING_TO_TRADE = "NothingToTrade(address)"
MIRRORED = None


@dataclass(frozen=True)
class IntentTerms:
    token_in: str
    token_out: str
    fraction_bps: int
    nonce: int


INTENTS = (
    IntentTerms("WETH", "USDC", 1_000, 11),
    IntentTerms("USDC", "WETH", 2_500, 12),
    IntentTerms("WETH", "USDC", 400, 13),
)


@dataclass(frozen=True)
class Spec:
    """A follower vault to create, and what each of INTENTS must do to it (None: mirrored)."""

    name: str
    owners: int
    threshold: int
    weth: int
    usdc: int
    policy: tuple[int, int, int, int, int] = DEFAULT_POLICY
    contract_owner: bool = False
    state: str = "active"  # active | paused | stopped
    expect: tuple[str | None, ...] = (MIRRORED,) * len(INTENTS)


def _policy(*, max_fraction: int = DEFAULT_POLICY[0], trades_per_day: int = DEFAULT_POLICY[3]):
    return (max_fraction, DEFAULT_POLICY[1], DEFAULT_POLICY[2], trades_per_day, DEFAULT_POLICY[4])


SHAPES = ((1, 1), (2, 3), (3, 5))


def _ordinary(i: int) -> Spec:
    owners, threshold = SHAPES[i % len(SHAPES)][::-1]
    weth = 10**17 * (1 + i % 9) + 10**12 * i + 7 * i
    usdc = USDC * (50 + 137 * (i % 11)) + 1_234 * i
    if i == 0:  # one larger vault
        weth, usdc = 3 * WETH, 5_000 * USDC
    return Spec(f"ordinary-{i}", owners, threshold, weth, usdc, contract_owner=i % 7 == 3)


SPECIAL = (
    Spec("paused", 5, 3, WETH, 400 * USDC, state="paused", expect=(VAULT_PAUSED,) * 3),
    Spec("stopped", 3, 2, WETH, 400 * USDC, state="stopped", expect=(COPYING_STOPPED,) * 3),
    Spec(
        "capped-5%",
        1,
        1,
        WETH,
        400 * USDC,
        policy=_policy(max_fraction=500),
        expect=(FRACTION_TOO_LARGE, FRACTION_TOO_LARGE, MIRRORED),
    ),
    Spec(
        "capped-10%",  # the cap itself is allowed
        3,
        2,
        WETH,
        400 * USDC,
        policy=_policy(max_fraction=1_000),
        expect=(MIRRORED, FRACTION_TOO_LARGE, MIRRORED),
    ),
    Spec(
        "one-a-day",
        1,
        1,
        WETH,
        400 * USDC,
        policy=_policy(trades_per_day=1),
        expect=(MIRRORED, DAILY_LIMIT, DAILY_LIMIT),
    ),
    Spec(
        "one-a-day-3of5",
        5,
        3,
        2 * WETH,
        900 * USDC,
        policy=_policy(trades_per_day=1),
        expect=(MIRRORED, DAILY_LIMIT, DAILY_LIMIT),
    ),
    # No WETH: nothing to sell first; WETH bought by the second intent is sold by the third.
    Spec("usdc-only", 2, 2, 0, 700 * USDC, expect=(NOTHING_TO_TRADE, MIRRORED, MIRRORED)),
    Spec("empty", 1, 1, 0, 0, expect=(NOTHING_TO_TRADE,) * 3),
    # 9 wei x 10 % (or 4 %) rounds to zero.
    Spec("dust", 3, 3, 9, 0, expect=(NOTHING_TO_TRADE,) * 3),
)
SPECS = tuple(_ordinary(i) for i in range(41)) + SPECIAL


# ----------------------------------------------------------------------------- the set-up


@dataclass
class Relayed:
    """The finished run: the chain, the server's API, the vaults and each intent's status."""

    chain: Chain
    api: httpx.Client
    store_url: str
    vaults: dict[str, Spec]  # checksummed address -> spec
    outsider: str  # follows another leader
    statuses: list[dict[str, Any]]  # per INTENTS, the final GET /v1/intents/{digest}
    decoder: LogDecoder

    @property
    def leader(self) -> str:
        return self.chain.leader.address

    def outcomes(self, k: int) -> dict[str, dict[str, Any]]:
        return {o["vault"]: o for o in self.statuses[k]["vaults"]}

    def name(self, vault: str) -> str:
        return self.vaults[vault].name


def _create_vault(chain: Chain, spec: Spec, salt: int, owners: list[str], sender: str) -> str:
    a = chain.actions
    receipt = a.sender(sender).send(
        chain.deployment.factory,
        a.factory_abi.call_data(
            "createVault",
            owners,
            spec.threshold,
            chain.leader.address,
            spec.policy,
            chain.deployment.oracle,
            [a.token("WETH"), a.token("USDC")],
            [a.venue],
            True,
            salt.to_bytes(32, "big"),
        ),
    )
    return a.created_vaults(receipt)[0]


def _followers(chain: Chain) -> dict[str, Spec]:
    a = chain.actions
    pool = [Key.anvil(i).address for i in OWNER_ACCOUNTS]
    # A contract owner (EIP-1271, as a Safe would be) whose key is one of the pool's.
    wallet_abi = ContractAbi(a.artifacts.get("MockERC1271Wallet"))
    wallet = created_address(a.sender(chain.deployer).send(None, wallet_abi.deploy_data(pool[0])))
    vaults: dict[str, Spec] = {}
    for salt, spec in enumerate(SPECS, start=1):
        eoas = [pool[(salt + j) % len(pool)] for j in range(spec.owners)]
        owners = [*eoas[:-1], wallet] if spec.contract_owner else eoas
        vault = _create_vault(chain, spec, salt, owners, sender=eoas[0])
        for symbol, amount in (("WETH", spec.weth), ("USDC", spec.usdc)):
            if amount:
                a.deposit(vault, a.token(symbol), amount, chain.depositor)
        if spec.state == "paused":
            a.pause(vault, eoas[0])
        elif spec.state == "stopped":
            a.stop_copying(vault, eoas[0])
        vaults[vault] = spec
    return vaults


def _outsider(chain: Chain) -> str:
    a = chain.actions
    vault = a.create_vault([chain.owners[0]], leader=chain.delegate.address, salt=999)
    a.deposit(vault, a.token("WETH"), WETH, chain.depositor)
    a.deposit(vault, a.token("USDC"), 400 * USDC, chain.depositor)
    return vault


def _wait_for(what: str, predicate, log: Path, timeout: float, every: float = 0.2):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = predicate()
        except httpx.HTTPError as exc:  # the server went away: its log says why
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}\n{tail(log)}")


def _all(api: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list."""
    items, cursor = [], None
    while True:
        query = params | {"limit": 200} | ({"cursor": cursor} if cursor else {})
        response = api.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _store_url(request: pytest.FixtureRequest, folder: Path) -> str:
    """A new, empty store of the parametrised backend (a schema of its own on PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'store.db'}"
    import psycopg

    database = request.getfixturevalue("pg_database")
    schema = f"e2e_{os.getpid()}_{int(time.time())}"
    conninfo = database.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = database.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def relayed(request, tmp_path_factory) -> Iterator[Relayed]:
    """The whole run, once per store: the server uses it as its embedded or production store."""
    folder = tmp_path_factory.mktemp("relay-e2e")
    node = start_anvil(accounts=ANVIL_ACCOUNTS, extra=["--timestamp", str(DAY_START)])
    try:
        chain = deploy_chain(node)
        chain.actions.register(chain.leader, "ipfs://leader-profile")
        vaults = _followers(chain)
        outsider = _outsider(chain)
        store_url = _store_url(request, folder)
        relayer = Key.anvil(RELAYER_ACCOUNT)
        with running_server(node.url, chain.deployment, folder, store_url, relayer=relayer) as (
            api,
            server,
        ):
            statuses = _relay_three_intents(chain, api, server["log"], len(vaults))
            yield Relayed(
                chain,
                api,
                store_url,
                vaults,
                outsider,
                statuses,
                LogDecoder(chain.actions.artifacts),
            )
    finally:
        node.stop()


def _relay_three_intents(chain: Chain, api: httpx.Client, log: Path, followers: int) -> list:
    """Post INTENTS once the index holds every follower; each final status, once done."""

    def indexed() -> bool:
        return len(_all(api, "/v1/vaults", leader=chain.leader.address)) == followers

    _wait_for("the index to hold every follower", indexed, log, SERVER_START_SECONDS)
    digests = []
    for terms in INTENTS:
        intent, signature = chain.actions.intent(
            chain.leader,
            nonce=terms.nonce,
            token_in=terms.token_in,
            token_out=terms.token_out,
            fraction_bps=terms.fraction_bps,
        )
        response = api.post("/v1/intents", json=intent_body(intent, signature))
        assert response.status_code == 202, response.text
        digests.append(response.json()["digest"])

    def finished(digest: str):
        body = api.get(f"/v1/intents/{digest}").json()
        assert body["status"] != "rejected", body
        return body if body["status"] == "done" else None

    return [
        _wait_for(f"intent {d} to be done", lambda d=d: finished(d), log, RELAY_SECONDS)
        for d in digests
    ]


# ----------------------------------------------------------------------------- the API's answer


def test_relay__every_follower_has_its_expected_outcome_and_no_one_else(relayed):
    for k, status in enumerate(relayed.statuses):
        outcomes = relayed.outcomes(k)
        assert relayed.outsider not in outcomes
        assert set(outcomes) == set(relayed.vaults)
        got = {relayed.name(v): (o["status"], o["reason"]) for v, o in outcomes.items()}
        want = {
            s.name: ("mirrored", None) if s.expect[k] is None else ("skipped", s.expect[k])
            for s in relayed.vaults.values()
        }
        assert got == want, f"intent {k}"
        mirrored = sum(outcome == ("mirrored", None) for outcome in want.values())
        assert (status["vaults_pending"], status["vaults_mirrored"], status["vaults_skipped"]) == (
            0,
            mirrored,
            len(want) - mirrored,
        )


def test_relay__one_batch_per_intent__every_mirrored_vault_at_the_batch_price(relayed):
    for k, status in enumerate(relayed.statuses):
        (batch,) = status["batches"]  # 50 vaults fit in one batch of at most 200
        assert batch["status"] == "mined" and batch["error"] is None
        assert batch["vaults"] == len(relayed.vaults)
        total_in, total_out = int(batch["total_in"]), int(batch["total_out"])
        mirrored = [o for o in status["vaults"] if o["status"] == "mirrored"]
        assert (batch["mirrored"], batch["skipped"]) == (
            len(mirrored),
            len(relayed.vaults) - len(mirrored),
        )
        assert sum(int(o["amount_in"]) for o in mirrored) == total_in
        assert sum(int(o["amount_out"]) for o in mirrored) == total_out
        for o in status["vaults"]:
            assert o["tx_hash"] == batch["tx_hash"] and o["block_number"] == batch["block_number"]
            if o["status"] == "mirrored":
                amount_in, amount_out = int(o["amount_in"]), int(o["amount_out"])
                share = total_out * amount_in // total_in
                assert share <= amount_out <= share + 1, (k, o)  # the router's remainder wei
            else:
                assert o["amount_in"] is None and o["amount_out"] is None and o["price"] is None


# ----------------------------------------------------------------------------- against the chain


def _executed(relayed: Relayed, vaults: list[str], nonce: int) -> dict[str, bool]:
    a = relayed.chain.actions
    data = "0x" + a.vault_abi.fn("isIntentExecuted").encode(relayed.leader, nonce).hex()
    answers = relayed.chain.client.batch(
        [("eth_call", [{"to": v, "data": data}, "latest"]) for v in vaults]
    )
    return {v: int(answer, 16) == 1 for v, answer in zip(vaults, answers, strict=True)}


def test_relay__executed_flags_match_the_outcomes__outsider_untouched(relayed):
    everyone = [*relayed.vaults, relayed.outsider]
    for k, terms in enumerate(INTENTS):
        executed = _executed(relayed, everyone, terms.nonce)
        outcomes = relayed.outcomes(k)
        assert executed == {
            v: v in outcomes and outcomes[v]["status"] == "mirrored" for v in everyone
        }


def test_relay__receipts_hold_each_vaults_event_with_the_reported_amounts(relayed):
    router = relayed.chain.deployment.router.lower()
    for k, status in enumerate(relayed.statuses):
        (batch,) = status["batches"]
        receipt = relayed.chain.rpc("eth_getTransactionReceipt", batch["tx_hash"])
        assert int(receipt["status"], 16) == 1
        assert int(receipt["gasUsed"], 16) == batch["gas_used"]
        mirrored, skipped = {}, {}
        for raw in receipt["logs"]:
            emitter = raw["address"].lower()
            if emitter == router:
                log = relayed.decoder.decode(raw, "router")
                if log.name == "MirrorSkipped":
                    assert log.args["intentDigest"] == status["digest"]
                    skipped[to_checksum_address(log.args["vault"])] = log.args["reason"]
            elif to_checksum_address(emitter) in relayed.vaults:
                log = relayed.decoder.decode(raw, "vault")
                if log.name == "Mirrored":
                    assert log.args["digest"] == status["digest"]
                    assert int(log.args["nonce"]) == INTENTS[k].nonce
                    amounts = (int(log.args["amountIn"]), int(log.args["amountOut"]))
                    mirrored[to_checksum_address(emitter)] = amounts
        outcomes = relayed.outcomes(k)
        assert mirrored == {
            v: (int(o["amount_in"]), int(o["amount_out"]))
            for v, o in outcomes.items()
            if o["status"] == "mirrored"
        }
        assert skipped == {
            v: o["reason_selector"] for v, o in outcomes.items() if o["status"] == "skipped"
        }


def test_relay__balances_moved_by_exactly_the_reported_amounts(relayed):
    a = relayed.chain.actions
    client = relayed.chain.client
    for k, (terms, status) in enumerate(zip(INTENTS, relayed.statuses, strict=True)):
        token_in, token_out = a.token(terms.token_in).lower(), a.token(terms.token_out).lower()
        block = status["batches"][0]["block_number"]
        for vault, o in relayed.outcomes(k).items():
            before = token_balances(client, vault, [token_in, token_out], block - 1)
            after = token_balances(client, vault, [token_in, token_out], block)
            if o["status"] == "mirrored":
                amount_in, amount_out = int(o["amount_in"]), int(o["amount_out"])
                assert amount_in == before[token_in] * terms.fraction_bps // 10_000
                assert after[token_in] == before[token_in] - amount_in
                assert after[token_out] == before[token_out] + amount_out
            else:
                assert after == before, (k, vault)


# ----------------------------------------------------------------------------- against the index


def test_relay__index_holds_the_same_trades_and_skip_reasons(relayed):
    last = max(s["batches"][0]["block_number"] for s in relayed.statuses)
    reached = poll_until(lambda: indexed_through(relayed.api, last), 30)
    assert reached, "the indexer did not reach the relay blocks"

    trades = {
        (t["vault"], t["digest"]): (int(t["amount_in"]), int(t["amount_out"]), t["tx_hash"])
        for t in _all(relayed.api, f"/v1/leaders/{relayed.leader}/trades")
    }
    engine = create_store_engine(relayed.store_url)
    try:
        with engine.connect() as db:
            query = "SELECT vault, intent_digest, reason, tx_hash FROM mirror_skips"
            rows = db.execute(text(query)).fetchall()
    finally:
        engine.dispose()
    skips = {(to_checksum_address(v), d): (reason, tx) for v, d, reason, tx in rows}

    want_trades, want_skips = {}, {}
    for k, status in enumerate(relayed.statuses):
        for vault, o in relayed.outcomes(k).items():
            key = (vault, status["digest"])
            if o["status"] == "mirrored":
                want_trades[key] = (int(o["amount_in"]), int(o["amount_out"]), o["tx_hash"])
            else:
                want_skips[key] = (o["reason"], o["tx_hash"])
    assert trades == want_trades
    assert skips == want_skips

    # A vault's own history shows its skips too (the router's MirrorSkipped names the vault).
    paused = next(v for v, s in relayed.vaults.items() if s.name == "paused")
    events = _all(relayed.api, f"/v1/vaults/{paused}/events", name="MirrorSkipped")
    assert sorted(e["args"]["intentDigest"] for e in events) == sorted(
        s["digest"] for s in relayed.statuses
    )
