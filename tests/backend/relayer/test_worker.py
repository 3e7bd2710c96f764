"""The relayer on a real chain and store (SQLite and PostgreSQL): accepted intents become
mirrorAggregated batches, every following vault ends mirrored or skipped with its reason, a vault
that would revert a batch is left out, and an intent the registry refuses by then is not sent."""

from __future__ import annotations

import pytest

from backend.chain.client import ChainClient
from backend.chain.deploy import FEED_DECIMALS, _add_liquidity, _Deployer
from backend.chain.tx import UnlockedSender
from tests.backend.faults import FaultProxy
from tests.backend.relayer.conftest import WETH

LOOSE = (5_000, 500, 3_600, 10, 0)  # accepts 5 % under the oracle
ONE_TRADE_A_DAY = (5_000, 100, 3_600, 1, 0)


@pytest.fixture(params=["eth_simulateV1", "eth_call"])
def node(request, relay):
    """The worker's node: as it is, or behind a proxy that refuses eth_simulateV1 as a node
    without it does, so the worker simulates with eth_call and eth_estimateGas instead."""
    if request.param == "eth_simulateV1":
        yield relay.chain.client, None
        return
    proxy = FaultProxy(
        relay.chain.node.url,
        plan=lambda r: "unsupported" if r.method == "eth_simulateV1" else None,
    ).start()
    try:
        yield ChainClient(proxy.url, retries=0), proxy
    finally:
        proxy.stop()


def _check_simulated_as(proxy) -> None:
    if proxy is not None:
        methods = [request.method for request, _ in proxy.log]
        assert proxy.faults() == ["unsupported"]  # asked once, then remembered
        assert "eth_estimateGas" in methods and "eth_call" in methods


def test_relayer__followers_of_the_leader__eligible_mirrored_at_one_price_others_skipped(
    relay, node
):
    client, proxy = node
    owners = relay.chain.owners
    eligible = relay.followers(3, weth=2 * WETH)
    paused = relay.follower(owners[0], salt=50)
    relay.actions.pause(paused, owners[0])
    capped = relay.follower(owners[1], salt=51, policy=(500, 100, 3_600, 10, 0))  # max 5 %
    empty = relay.follower(owners[2], salt=52, weth=0)
    other_leader = relay.follower(owners[0], salt=53, leader=relay.chain.delegate.address)
    digest = relay.submit(nonce=1, fraction_bps=1_000)

    relay.worker(client=client).run_until_idle()

    _check_simulated_as(proxy)
    status = relay.status(digest)
    assert status["status"] == "done"
    outcomes = relay.outcomes(digest)
    assert other_leader not in outcomes
    assert {v for v, o in outcomes.items() if o["status"] == "mirrored"} == set(eligible)
    assert outcomes[paused]["reason"] == "VaultPaused()"
    assert outcomes[capped]["reason"] == "FractionTooLarge(uint16,uint16)"
    assert outcomes[empty]["reason"] == "NothingToTrade(address)"
    (batch,) = status["batches"]
    assert batch["status"] == "mined" and (batch["mirrored"], batch["skipped"]) == (3, 3)
    total_in, total_out = int(batch["total_in"]), int(batch["total_out"])
    for vault in eligible:
        got = outcomes[vault]
        assert int(got["amount_in"]) == 2 * WETH // 10
        share = total_out * int(got["amount_in"]) // total_in
        assert share <= int(got["amount_out"]) <= share + 1  # one price, to the router's 1 wei
        assert got["tx_hash"] == batch["tx_hash"]
        assert relay.executed(vault, 1)
    for vault in (paused, capped, empty):
        assert not relay.executed(vault, 1)


def test_relayer__leader_without_followers__done_and_nothing_sent(relay):
    """Intake admits the intent while a funded vault follows the leader; by the time it is planned
    that vault follows someone else, so the leader has no follower left."""
    owner, a = relay.chain.owners[0], relay.actions
    vault = relay.follower(owner, salt=1)
    digest = relay.submit(nonce=2)
    other = relay.chain.delegate.address
    a.execute_config(vault, a.config_call("setLeader", other), [owner], relayer=relay.chain.relayer)
    relay.api.index()
    relay.worker().run_until_idle()
    status = relay.status(digest)
    assert (status["status"], status["vaults"], status["batches"]) == ("done", [], [])
    assert relay.transactions() == []


def test_relayer__more_vaults_than_max_batch__balanced_batches_every_vault_once(relay):
    vaults = relay.followers(7)
    digest = relay.submit(nonce=3)
    relay.worker(max_batch=3).run_until_idle()
    status = relay.status(digest)
    assert sorted(b["vaults"] for b in status["batches"]) == [2, 2, 3]
    assert all(b["status"] == "mined" for b in status["batches"])
    assert status["vaults_mirrored"] == 7
    assert all(relay.executed(v, 3) for v in vaults)
    nonces = sorted(t.nonce for t in relay.transactions())
    assert nonces == list(range(nonces[0], nonces[0] + 3))  # one transaction per batch


def test_relayer__nonce_cancelled_after_acceptance__rejected_with_reason_nothing_sent(relay):
    vaults = relay.followers(2)
    digest = relay.submit(nonce=4)
    relay.actions.invalidate_nonces(relay.chain.leader, 0, 1 << 4)

    relay.worker().run_until_idle()

    status = relay.status(digest)
    assert status["status"] == "rejected"
    assert status["error"] == "NonceCancelled(address,uint256)"
    assert {o["status"] for o in status["vaults"]} == {"skipped"}
    assert all("NonceCancelled" in o["reason"] for o in status["vaults"])
    assert relay.transactions() == []
    assert not any(relay.executed(v, 4) for v in vaults)


def test_relayer__second_intent_over_the_daily_cap__skipped_with_the_vaults_reason(relay):
    vault = relay.follower(relay.chain.owners[0], salt=60, policy=ONE_TRADE_A_DAY)
    first = relay.submit(nonce=5)
    relay.worker().run_until_idle()
    second = relay.submit(nonce=6)
    relay.worker().run_until_idle()
    assert relay.outcomes(first)[vault]["status"] == "mirrored"
    assert relay.outcomes(second)[vault]["reason"] == "DailyTradeLimitReached(uint256,uint16)"


def _fee_on_transfer_token(relay) -> str:
    """A $1 token burning 1 % of each transfer, priced by the platform's oracle, with a WETH pair
    at the oracle price (as the hostile-token contract tests set it up)."""
    chain = relay.chain
    d = _Deployer(
        chain.client,
        UnlockedSender(chain.client, chain.deployer.address),
        relay.actions.artifacts,
        lambda _: None,
    )
    token = d.deploy("FeeOnTransferToken", 100)
    feed = d.deploy("MockAggregator", FEED_DECIMALS, 10**FEED_DECIMALS)
    d.send("PriceOracle", chain.deployment.oracle, "setFeed", token, feed)
    uniswap = chain.deployment.contracts["UniswapV2Factory"]
    _add_liquidity(d, uniswap, relay.actions.token("WETH"), token, 1_000 * WETH, 3_000_000 * WETH)
    return token


def test_relayer__vault_whose_bound_breaks_after_the_fee__left_out_others_mirrored(relay, node):
    """A fee-on-transfer output token makes the tight vault's settle revert the whole call
    (InsufficientOutput): the simulation finds it, leaves it out with that reason, and the loose
    vaults are mirrored without it."""
    client, proxy = node
    fot = _fee_on_transfer_token(relay)
    assets = [relay.actions.token("WETH"), fot]
    owners = relay.chain.owners
    loose = [
        relay.follower(owners[i], salt=70 + i, weth=5 * WETH, policy=LOOSE, assets=assets)
        for i in range(3)
    ]
    tight = relay.follower(owners[0], salt=80, weth=5 * WETH, assets=assets)  # 1 % slippage
    digest = relay.submit(nonce=7, token_out=fot, fraction_bps=1_000)

    relay.worker(client=client).run_until_idle()

    _check_simulated_as(proxy)

    outcomes = relay.outcomes(digest)
    assert outcomes[tight]["status"] == "skipped"
    assert outcomes[tight]["reason"] == (
        "left out: the batch would revert with InsufficientOutput(uint256,uint256)"
    )
    assert {outcomes[v]["status"] for v in loose} == {"mirrored"}
    assert not relay.executed(tight, 7) and all(relay.executed(v, 7) for v in loose)
    (batch,) = relay.batches()  # the survivors of the halving go together again
    assert sorted(v.lower() for v in batch.vaults) == sorted(v.lower() for v in loose)
