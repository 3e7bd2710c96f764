"""Cheap anonymous reads cannot starve the server (issue 10, item 4), on both stores: a vault's
proposals are filtered by status and limited in SQL, a busy store answers 503 `store_busy` with
Retry-After (never 500), the probes and the indexer have pools of their own, and open proposals
per vault are capped."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select, text

from backend.db.models import Event
from bench.heavy_reads import make_vault_with_withdrawal, seed_proposals
from tests.backend.api.helpers import (
    open_env,
    store_write_locked,
    uvicorn_server,
    withdrawal_body,
)
from tests.backend.helpers import counting_statements
from tests.utils.server_process import poll_until

SEEDED = 400
STATUSES = ("executed", "stale", "ready", "pending")


def _seeded_vault(api, count: int = SEEDED):
    world = make_vault_with_withdrawal(api.chain.actions, api.chain.deployment.chain_id)
    api.index()
    return world, seed_proposals(api.engine, world, count)


def _all_pages(api, vault: str, status: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"status": status, "limit": 200} | ({"cursor": cursor} if cursor else {})
        page = api.ok(f"/v1/vaults/{vault}/proposals", **params)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_proposal_list__status_filter__one_page_of_statements_however_many_proposals(api):
    world, _ = _seeded_vault(api)
    engine = api.app.state.copyvault.engine
    with counting_statements(engine) as statements:
        page = api.ok(f"/v1/vaults/{world.vault}/proposals", status="executed", limit=1)
    (item,) = page["items"]
    assert (item["status"], item["nonce"], item["amount"]) == ("executed", 0, str(world.amount))
    assert page["next_cursor"] is None  # the executed proposal is the vault's oldest
    # Before: the status was derived in Python row by row, hundreds of statements per request.
    assert len(statements) <= 12, len(statements)


def test_proposal_list__status_filter_in_sql__returns_exactly_the_rows_of_that_status(api):
    world, expected = _seeded_vault(api)
    for status in STATUSES:
        items = _all_pages(api, world.vault, status)
        assert {i["status"] for i in items} <= {status}
        assert len(items) == expected[status], status
        ids = [i["digest"] for i in items]
        assert len(set(ids)) == len(ids)


def test_proposal_list__32_concurrent_filtered_lists_on_a_tiny_pool__no_500(
    anvil_chain, stores, tmp_path
):
    overrides = {"api_pool_size": 1, "api_pool_overflow": 0, "api_pool_timeout": 0.2}
    with open_env(anvil_chain, stores, tmp_path, **overrides) as api:
        world, _ = _seeded_vault(api, 200)
        path = f"/v1/vaults/{world.vault}/proposals?status=executed&limit=1"
        with uvicorn_server(api.app) as url:

            async def storm() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                    return await asyncio.gather(*(client.get(path) for _ in range(32)))

            answers = asyncio.run(storm())
    assert {r.status_code for r in answers} <= {200, 503}, [r.text for r in answers]
    assert any(r.status_code == 200 for r in answers)
    for r in answers:
        if r.status_code == 503:
            assert r.json()["error"]["code"] == "store_busy"
            assert r.headers["Retry-After"] == "2"
        else:
            assert [i["status"] for i in r.json()["items"]] == ["executed"]


def test_pool_exhausted__request_503_store_busy_while_health_and_metrics_still_answer(
    anvil_chain, stores, tmp_path
):
    overrides = {"api_pool_size": 1, "api_pool_overflow": 0, "api_pool_timeout": 0.2}
    with open_env(anvil_chain, stores, tmp_path, **overrides) as api:
        vault = api.chain.actions.create_vault(
            api.chain.owners[:1], leader=api.chain.leader.address, salt=3
        )
        api.index()
        with api.app.state.copyvault.engine.connect():  # the API's only connection, held
            busy = api.get(f"/v1/vaults/{vault}")
            health = api.get("/v1/health")
            metrics = api.get("/metrics")
    assert busy.status_code == 503, busy.text
    assert busy.json()["error"]["code"] == "store_busy"
    assert busy.headers["Retry-After"] == "2"
    assert health.status_code == 200 and health.json()["store"]["ok"] is True
    assert metrics.status_code == 200 and "copyvault_store_up 1.0" in metrics.text


def test_store_locked__proposal_write__503_store_busy_with_retry_after(
    anvil_chain, stores, tmp_path
):
    overrides = {"api_busy_timeout_ms": 200, "api_lock_timeout_ms": 200}
    with open_env(anvil_chain, stores, tmp_path, **overrides) as api:
        chain, a = api.chain, api.chain.actions
        vault = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=5)
        api.index()
        body = withdrawal_body(
            chain,
            vault,
            chain.owners[0],
            token=a.token("USDC"),
            amount=1,
            to=chain.depositor.address,
            nonce=0,
            deadline=a.timestamp() + 3_600,
        )
        with store_write_locked(api):
            response = api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "store_busy"
        assert response.headers["Retry-After"] == "2"
        assert api.proposal_rows() == (0, 0)
        # Once the lock is gone the same request goes through.
        assert api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body).status_code == 201


def test_indexer__api_pool_held__still_indexes_a_deposit(anvil_chain, stores, tmp_path):
    """The in-process indexer has its own engine: requests holding every API connection do not
    stop it (before, it shared the API's pool and a deposit took 26.7 s to be indexed)."""
    overrides = {
        "indexer_enabled": True,
        "api_pool_size": 1,
        "api_pool_overflow": 0,
        "api_pool_timeout": 0.2,
    }
    chain, a = anvil_chain, anvil_chain.actions
    vault = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=9)
    with open_env(chain, stores, tmp_path, **overrides) as api:
        state = api.app.state.copyvault
        assert state.indexer.engine is not state.engine
        with state.engine.connect():  # every API connection held
            a.deposit(vault, a.token("USDC"), 10**6, chain.depositor)

            def deposit_indexed() -> bool:
                with api.engine.connect() as conn:
                    found = conn.scalar(
                        select(func.count())
                        .select_from(Event)
                        .where(Event.vault == vault.lower(), Event.name == "Deposited")
                    )
                return found == 1

            assert poll_until(deposit_indexed, 20, every=0.05)


def test_open_proposals_cap__one_more_than_allowed__409_too_many_open_proposals(
    anvil_chain, stores, tmp_path
):
    with open_env(anvil_chain, stores, tmp_path, api_max_open_proposals_per_vault=2) as api:
        chain, a = api.chain, api.chain.actions
        vault = a.create_vault(chain.owners[:2], threshold=2, leader=chain.leader.address, salt=6)
        api.index()
        deadline = a.timestamp() + 3_600

        def propose(amount: int):
            body = withdrawal_body(
                chain,
                vault,
                chain.owners[0],
                token=a.token("USDC"),
                amount=amount,
                to=chain.depositor.address,
                nonce=0,
                deadline=deadline,
            )
            return api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body), body

        first, body = propose(1)
        assert first.status_code == 201 and propose(2)[0].status_code == 201
        third, _ = propose(3)
        assert third.status_code == 409, third.text
        assert third.json()["error"]["code"] == "too_many_open_proposals"
        assert api.proposal_rows()[0] == 2
        # The same proposal again is no new one: still answered.
        assert api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body).status_code == 200


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_statement_timeout__postgresql_api_connections_carry_it(anvil_chain, stores, tmp_path):
    with open_env(anvil_chain, stores, tmp_path, api_statement_timeout_ms=1_234) as api:
        with api.app.state.copyvault.engine.connect() as conn:
            assert conn.scalar(text("SHOW statement_timeout")) == "1234ms"
            assert conn.scalar(text("SHOW lock_timeout")) == "2s"
