"""Helpers of the backend tests: comparable store dumps, a scenario that emits every kind of
event, and a check of the derived state against the vaults' own view functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, select

from backend.chain.abi import ContractAbi
from backend.chain.reader import token_balances, vault_view
from backend.db.models import Base, Event, Vault, VaultAllowlist, VaultBalance, VaultOwner

# Columns whose values legitimately differ between two stores holding the same index.
VOLATILE = {
    "events": {"id"},
    "indexer_cursors": {"updated_at"},
    # Known only for blocks that began or ended a range, which depends on how the work was split.
    "blocks": {"parent_hash"},
}
# `oracle_answers` are read at the ends of indexed ranges, so which blocks hold one depends on how
# the work was split, as for `blocks`; tests/backend/api/test_history.py checks them against the
# canonical chain after a reorg instead.
SKIPPED_TABLES = {"reorgs", "alembic_version", "oracle_answers"}


def _normalise(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def dump_store(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table (minus volatile columns), sorted: equal dumps, equal stores.

    `blocks` also records where block ranges ended, which depends on how the work was split;
    only the blocks that hold events are compared."""
    dump = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            columns = [c for c in table.columns if c.name not in VOLATILE.get(table.name, set())]
            query = select(*columns)
            if table.name == "blocks":
                et = Event.__table__
                query = query.where(table.c.number.in_(select(et.c.block_number)))
            rows = conn.execute(query).all()
            dump[table.name] = sorted((tuple(_normalise(v) for v in row) for row in rows), key=repr)
    return dump


def assert_same_store(a: Engine, b: Engine) -> None:
    dump_a, dump_b = dump_store(a), dump_store(b)
    for table in dump_a:
        assert dump_a[table] == dump_b[table], f"table {table} differs"


def run_scenario(anvil_chain: Any, *, salt: int = 1) -> dict[str, Any]:
    """Emit (nearly) every event the indexer follows, across several vaults. Returns addresses."""
    a, d = anvil_chain.actions, anvil_chain.deployment
    owners, leader, relayer, admin = (
        anvil_chain.owners,
        anvil_chain.leader,
        anvil_chain.relayer,
        anvil_chain.deployer,
    )
    weth, usdc = a.token("WETH"), a.token("USDC")
    factory_abi = a.factory_abi

    # Platform settings (the deployer holds every role here).
    a.sender(admin).send(
        d.factory, factory_abi.call_data("setGuardian", anvil_chain.guardian.address)
    )
    a.sender(admin).send(d.factory, factory_abi.call_data("setSanctionsList", "0x" + "00" * 20))
    other_venue = "0x" + "ab" * 20
    a.sender(admin).send(d.factory, factory_abi.call_data("setVenueAllowed", other_venue, True))
    a.sender(admin).send(d.factory, factory_abi.call_data("setVenueAllowed", other_venue, False))

    # The leader, a delegate, cancelled nonces.
    a.register(leader, "ipfs://leader-profile")
    a.set_delegate(leader, anvil_chain.delegate.address, a.timestamp() + 86_400)
    a.set_delegate(leader, owners[2].address, a.timestamp() + 86_400)
    a.revoke_delegate(leader, owners[2].address)
    a.invalidate_nonces(leader, 0, 1 << 100)

    # Three vaults: 2-of-3, 1-of-1, 1-of-2.
    v1 = a.create_vault(owners, threshold=2, leader=leader.address, salt=salt)
    v2 = a.create_vault(owners[:1], threshold=1, leader=leader.address, salt=salt + 1)
    v3 = a.create_vault(
        owners[1:], threshold=1, leader=leader.address, salt=salt + 2, accept_guardian=False
    )
    for vault in (v1, v2, v3):
        a.deposit(vault, weth, 10 * 10**18, anvil_chain.depositor)
    a.deposit(v1, usdc, 5_000 * 10**6, anvil_chain.depositor)

    # A sequential batch: v1 and v3 trade, v2 is paused (skipped), one address is no vault.
    a.pause(v2, owners[0])
    intent, signature = a.intent(leader, nonce=1)
    a.mirror_batch(intent, signature, [v1, v2, v3, "0x" + "cd" * 20], relayer=relayer)
    # An aggregated batch.
    intent, signature = a.intent(leader, nonce=2, fraction_bps=500)
    a.mirror_batch(intent, signature, [v1, v3], relayer=relayer, aggregated=True)

    # Withdrawals and configuration changes (M-of-N).
    a.withdraw(v1, usdc, 1_000 * 10**6, anvil_chain.depositor.address, owners[:2], relayer=relayer)
    a.execute_config(v2, a.config_call("unpause"), owners[:1], relayer=relayer)
    a.stop_copying(v3, owners[1])
    a.execute_config(v3, a.config_call("startCopying"), owners[1:2], relayer=relayer)
    a.stop_copying(v3, owners[2])
    a.execute_config(
        v1, a.config_call("setPolicy", (4_000, 200, 1_800, 5, 100)), owners[:2], relayer=relayer
    )
    a.execute_config(
        v1, a.config_call("addOwner", anvil_chain.delegate.address), owners[:2], relayer=relayer
    )
    a.execute_config(
        v1, a.config_call("removeOwner", owners[0].address), owners[1:3], relayer=relayer
    )
    a.execute_config(v1, a.config_call("setThreshold", 3), owners[1:3], relayer=relayer)
    a.execute_config(v2, a.config_call("setAssetAllowed", usdc, False), owners[:1], relayer=relayer)
    a.execute_config(
        v2, a.config_call("setVenueAllowed", other_venue, True), owners[:1], relayer=relayer
    )
    a.execute_config(v2, a.config_call("setGuardianAccepted", False), owners[:1], relayer=relayer)
    a.execute_config(v2, a.config_call("setOracle", d.oracle), owners[:1], relayer=relayer)
    a.execute_config(
        v2, a.config_call("setLeader", anvil_chain.delegate.address), owners[:1], relayer=relayer
    )
    # The guardian pauses v1 (v1 accepted a guardian; v3 refused one).
    a.pause(v1, anvil_chain.guardian)

    # Oracle feeds: remove one and set it again.
    oracle = ContractAbi(a.artifacts.get("PriceOracle"))
    a.sender(admin).send(d.oracle, oracle.call_data("removeFeed", usdc))
    a.sender(admin).send(d.oracle, oracle.call_data("setFeed", usdc, d.tokens["USDC"].feed))
    return {"vaults": [v1, v2, v3], "other_venue": other_venue}


def _allowed(anvil_chain: Any, vault: str, kind: str, target: str) -> bool:
    fn = "isAssetAllowed" if kind == "asset" else "isVenueAllowed"
    return anvil_chain.actions.view(anvil_chain.actions.vault_abi, vault, fn, target)


def assert_matches_chain(engine: Engine, anvil_chain: Any, *, chain_id: int | None = None) -> None:
    """The derived state of every indexed vault equals what the vault's views say, and accounted
    balances equal the tokens it holds (the scenario sends no plain transfers)."""
    chain_id = chain_id or anvil_chain.deployment.chain_id
    tokens = [t.address for t in anvil_chain.deployment.tokens.values()]
    with engine.connect() as conn:
        vt, ot, at, bt = (m.__table__ for m in (Vault, VaultOwner, VaultAllowlist, VaultBalance))
        vaults = conn.execute(select(vt).where(vt.c.chain_id == chain_id)).mappings().all()
        assert vaults, "no vault indexed"
        for v in vaults:
            address = v["address"]
            view = vault_view(anvil_chain.client, address)
            owners = conn.scalars(
                select(ot.c.owner).where(ot.c.vault == address).order_by(ot.c.position)
            ).all()
            assert owners == view.owners, address
            assert v["threshold"] == view.threshold
            assert v["leader"] == view.leader
            assert v["nonce"] == view.nonce
            assert v["paused"] == view.paused
            assert v["copying"] == view.copying
            assert v["guardian_accepted"] == view.guardian_accepted
            assert v["oracle"] == view.oracle
            policy = (
                v["max_fraction_bps"],
                v["max_slippage_bps"],
                v["max_oracle_age"],
                v["max_trades_per_day"],
                v["loss_budget_bps"],
            )
            assert policy == view.policy
            allowed = set(
                conn.execute(select(at.c.kind, at.c.target).where(at.c.vault == address)).all()
            )
            for token in tokens:
                assert (("asset", token.lower()) in allowed) == _allowed(
                    anvil_chain, address, "asset", token
                )
            for kind, target in allowed:
                assert _allowed(anvil_chain, address, kind, target), (address, kind, target)
            venue = anvil_chain.deployment.contracts["UniswapV2Venue"]
            assert (("venue", venue.lower()) in allowed) == _allowed(
                anvil_chain, address, "venue", venue
            )
            balances = dict(
                conn.execute(select(bt.c.token, bt.c.balance).where(bt.c.vault == address)).all()
            )
            held = token_balances(anvil_chain.client, address, tokens)
            for token, amount in held.items():
                assert balances.get(token, 0) == amount, (address, token)


def admit_leader(
    chain: Any,
    leader: Any = None,
    *,
    token: str = "WETH",
    amount: int = 10**18,
    salt: int = 900,
    owner: Any = None,
) -> str:
    """What intake's admission asks of a leader: registered in the LeaderRegistry, with a vault
    following it that holds `token` (a Key leader registers itself; for a contract leader, the
    caller registers it). The vault's address; index the chain before submitting."""
    a = chain.actions
    leader = leader if leader is not None else chain.leader
    address = leader if isinstance(leader, str) else leader.address
    if not isinstance(leader, str):
        a.register(leader, f"ipfs://leader-{address.lower()}")
    owner = owner or chain.owners[0]
    vault = a.create_vault([owner], leader=address, salt=salt)
    a.deposit(vault, a.token(token), amount, owner)
    return vault


def intent_row(chain_id: int, i: int, moment: Any, **changes: Any) -> dict[str, Any]:
    """An `intents` row numbered `i` (digest and nonce from it) received at `moment`, as intake
    would store it, with `changes` on top."""
    return {
        "chain_id": chain_id,
        "digest": "0x" + f"{i:064x}",
        "leader": "0x" + "11" * 20,
        "signer": "0x" + "11" * 20,
        "venue": "0x" + "22" * 20,
        "token_in": "0x" + "33" * 20,
        "token_out": "0x" + "44" * 20,
        "fraction_bps": 1_000,
        "min_price": 0,
        "nonce": i,
        "deadline": 2**255,
        "signature": "0x" + "55" * 65,
        "status": "accepted",
        "plan_due": True,
        "received_at": moment,
        "updated_at": moment,
    } | changes


@contextmanager
def counting_statements(target: Any) -> Iterator[list[str]]:
    """The SQL statements `target` (an engine, or the Engine class: every engine) runs
    meanwhile."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(target, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(target, "before_cursor_execute", count)
