"""A vault's value over time, on both stores, from a real chain sequence indexed step by step as a
live indexer would: creation, a WETH deposit, a price change alone (not sampled until something
moves: the value keeps the old price), a USDC deposit (sampled at the new price), a mirrored trade,
a withdrawal, then a price change followed by enough blocks for the periodic sample. Each step's
expected value is computed from the chain itself (balanceOf x the feed's answer)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest

from backend.chain.node import start_anvil
from backend.db.models import OracleAnswer
from backend.indexer.oracle_answers import LATEST_ROUND_DATA
from tests.backend.api.helpers import ApiEnv, intent_body, open_env
from tests.backend.conftest import BACKENDS, Chain, deploy_chain, module_stores

WETH, USDC = 10**18, 10**6
FEED_DECIMALS = 8
STEP_SECONDS = 600
MIN_PRICE = 1_000 * 10**6  # USDC per WETH, raw units, 1e18-scaled: far below the market


@dataclass
class Step:
    name: str
    timestamp: int
    usd: str  # what the vault held then, at the prices the index had read by then


@dataclass
class World:
    chain: Chain
    envs: dict[str, ApiEnv]
    vault: str
    steps: dict[str, Step]


def _usd(total: Fraction) -> str:
    scaled = total.numerator * 10**8 // total.denominator
    return f"{scaled // 10**8}.{scaled % 10**8:08d}"


def _value(chain: Chain, vault: str, prices: dict[str, int]) -> str:
    """The vault's token balances on chain at `prices` (feed answers, 8 decimals)."""
    a = chain.actions
    total = Fraction(0)
    for symbol, token in chain.deployment.tokens.items():
        balance = a.view(a.token_abi, token.address, "balanceOf", vault)
        total += Fraction(balance * prices[symbol], 10 ** (token.decimals + FEED_DECIMALS))
    return _usd(total)


def _set_price(chain: Chain, symbol: str, usd: int) -> None:
    a = chain.actions
    feed = chain.deployment.tokens[symbol].feed
    a.sender(chain.deployer).send(feed, a.feed_abi.call_data("setAnswer", usd * 10**8))


def _run_sequence(chain: Chain, envs: dict[str, ApiEnv]) -> tuple[str, dict[str, Step]]:
    a, owner = chain.actions, chain.owners[0]
    steps: dict[str, Step] = {}
    indexed_prices = {"WETH": 3_000 * 10**8, "USDC": 10**8}  # what the index has read so far

    def step(name: str, *, sampled: bool = True) -> None:
        for history_env in envs.values():
            history_env.index()
        if sampled:
            indexed_prices.update(chain_prices())
        steps[name] = Step(name, a.timestamp(), _value(chain, vault, indexed_prices))
        chain.rpc("evm_increaseTime", STEP_SECONDS)

    def chain_prices() -> dict[str, int]:
        return {
            symbol: a.view(a.feed_abi, token.feed, "answer")
            for symbol, token in chain.deployment.tokens.items()
        }

    a.register(chain.leader, "ipfs://history-leader")
    vault = a.create_vault([owner], leader=chain.leader.address, salt=31)
    step("created")
    a.deposit(vault, a.token("WETH"), 2 * WETH, chain.depositor)
    step("weth deposited")
    _set_price(chain, "WETH", 2_000)
    step("price changed, not sampled yet", sampled=False)
    a.deposit(vault, a.token("USDC"), 1_000 * USDC, chain.depositor)
    step("usdc deposited")
    a.refresh_feeds(chain.deployer)  # the trade checks the feeds' age
    intent, signature = a.intent(chain.leader, nonce=1, fraction_bps=2_500, min_price=MIN_PRICE)
    for (
        history_env
    ) in envs.values():  # taken by intake (its min_price known), then mirrored directly
        assert (
            history_env.post("/v1/intents", json=intent_body(intent, signature)).status_code == 202
        )
    a.mirror_batch(intent, signature, [vault], relayer=chain.relayer)
    step("traded")
    a.withdraw(vault, a.token("USDC"), 300 * USDC, owner.address, [owner], relayer=chain.relayer)
    step("withdrawn")
    _set_price(chain, "WETH", 1_800)
    chain.mine(60)  # past the indexer's periodic sample (every 50 blocks by default)
    step("periodic sample")
    return vault, steps


@pytest.fixture(scope="module")
def world(request, tmp_path_factory) -> Iterator[World]:
    node = start_anvil()
    try:
        chain = deploy_chain(node)
        with ExitStack() as stack:
            envs = {}
            for backend in BACKENDS:
                stores = stack.enter_context(module_stores(request, tmp_path_factory, backend))
                folder = tmp_path_factory.mktemp(f"api-{backend}")
                envs[backend] = stack.enter_context(open_env(chain, stores, folder))
            vault, steps = _run_sequence(chain, envs)
            yield World(chain, envs, vault, steps)
    finally:
        node.stop()


@pytest.fixture(params=BACKENDS)
def history_env(request, world) -> ApiEnv:
    return world.envs[request.param]


def _history(history_env: ApiEnv, vault: str, **params: Any) -> dict[str, Any]:
    return history_env.ok(f"/v1/vaults/{vault}/history", **params)


def test_each_step__valued_as_the_chain_held_it_at_the_prices_read(world, history_env):
    for step in world.steps.values():
        answer = _history(
            history_env, world.vault, **{"from": step.timestamp, "to": step.timestamp}
        )
        (point,) = answer["points"]
        assert (point["timestamp"], point["usd"]) == (step.timestamp, step.usd), step.name
        assert point["unpriced_tokens"] == []
    assert history_env.ok(f"/v1/vaults/{world.vault}")["trade_count"] == 1  # the trade did happen
    usd = {name: Fraction(step.usd) for name, step in world.steps.items()}
    assert usd["created"] == 0 and usd["weth deposited"] == 6_000
    # The price fell to 2000, but no sample was due: the index still values WETH at 3000.
    assert usd["price changed, not sampled yet"] == 6_000
    assert usd["usdc deposited"] == 2 * 2_000 + 1_000
    assert usd["periodic sample"] < usd["withdrawn"]  # 1800 read without a value event


def test_whole_life__evenly_spaced_points_from_creation_to_the_last_indexed_block(
    world, history_env
):
    answer = _history(history_env, world.vault, points=7)
    first, last = world.steps["created"], world.steps["periodic sample"]
    assert answer["vault"] == world.vault
    assert (answer["start"], answer["end"]) == (first.timestamp, last.timestamp)
    times = [p["timestamp"] for p in answer["points"]]
    assert len(times) == 7 and times[0] == first.timestamp and times[-1] == last.timestamp
    assert times == sorted(times)
    assert answer["points"][0]["usd"] == "0.00000000"
    assert answer["points"][-1]["usd"] == last.usd


def test_answers_are_sampled__on_value_events_and_periodically_only(world, history_env):
    # Creation (first range), WETH deposit, USDC deposit, trade, withdrawal, periodic: 2 feeds each.
    assert history_env.count(OracleAnswer) == 6 * 2


def test_vault_trades__batch_oracle_and_leader_prices(world, history_env):
    (trade,) = history_env.ok(f"/v1/vaults/{world.vault}/trades")["items"]
    amount_in, amount_out = int(trade["amount_in"]), int(trade["amount_out"])
    assert trade["vault"] == world.vault and amount_in == 2 * WETH // 4  # 25 % of 2 WETH
    assert int(trade["price"]) == amount_out * 10**18 // amount_in
    assert int(trade["oracle_price"]) == int(trade["oracle_out"]) * 10**18 // amount_in
    assert int(trade["leader_min_price"]) == MIN_PRICE
    leaders = history_env.ok(f"/v1/leaders/{world.chain.leader.address}/trades")["items"]
    assert leaders == [trade]  # the same trade, the same prices, through the leader
    unknown = history_env.get(f"/v1/vaults/0x{'42' * 20}/trades")
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"points": 1}, 422, "invalid_request"),
        ({"points": 501}, 422, "invalid_request"),
        ({"from": -1}, 422, "invalid_request"),
        ({"from": 2_000_000_000, "to": 1_000_000_000}, 400, "invalid_history_range"),
    ],
)
def test_bad_parameters__refused_with_their_code(world, history_env, params, status, code):
    answer = history_env.get(f"/v1/vaults/{world.vault}/history", params=params)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_unknown_vault__404(history_env):
    answer = history_env.get(f"/v1/vaults/0x{'42' * 20}/history")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "vault_not_found"


def test_reorg__answers_of_the_abandoned_fork_are_gone__the_new_ones_are_the_chains(api):
    """A fork replaces the block where the index read a price: the answers left all sit on the
    canonical chain and equal the feed's answer there, and the history values the new fork."""
    chain, a = api.chain, api.chain.actions
    vault = a.create_vault([chain.owners[0]], leader=chain.leader.address, salt=41)
    a.deposit(vault, a.token("WETH"), WETH, chain.depositor)
    api.index()
    snapshot = chain.rpc("evm_snapshot")
    _set_price(chain, "WETH", 2_000)
    a.deposit(vault, a.token("WETH"), WETH, chain.depositor)
    api.index()
    assert chain.rpc("evm_revert", snapshot)
    _set_price(chain, "WETH", 2_500)
    a.deposit(vault, a.token("USDC"), 100 * USDC, chain.depositor)
    chain.mine(3)  # the new fork is longer
    api.index()

    with api.engine.connect() as conn:
        rows = (
            conn.execute(OracleAnswer.__table__.select().order_by(OracleAnswer.block_number))
            .mappings()
            .all()
        )
    assert rows
    for row in rows:
        header = chain.client.header(row["block_number"])
        assert header is not None and header.timestamp == row["block_timestamp"]
        raw = chain.client.call(row["feed"], LATEST_ROUND_DATA, row["block_number"])
        assert int.from_bytes(raw[32:64], "big", signed=True) == row["answer"], row
    assert 2_000 * 10**8 not in {r["answer"] for r in rows}  # only the abandoned fork had it
    end = a.timestamp()
    (point,) = api.ok(f"/v1/vaults/{vault}/history", **{"from": end, "to": end})["points"]
    assert point["usd"] == _usd(Fraction(2_500) + 100)
