"""/v1/health and /metrics (Prometheus), on both stores; assets under management when prices are
missing or the node is down (a null value with the reason, never an error response)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from backend.api.app import create_app
from backend.chain.abi import ContractAbi
from backend.db.models import Event
from backend.db.relay_models import Intent, RelayBatch, RelaySender, RelayTransaction
from tests.backend.api.helpers import api_settings, open_env
from tests.backend.helpers import intent_row
from tests.utils.server_process import poll_until


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition (None when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
        if found == wanted:
            return float(match.group(3))
    return None


def _wait_for(predicate, timeout: float = 60.0, describe=lambda: ""):
    value = poll_until(predicate, timeout, every=0.05)
    if not value:
        raise AssertionError(f"timed out; {describe()}")
    return value


def test_metrics__requests_by_route_template_and_status(api):
    a, chain = api.chain.actions, api.chain
    vault = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=1)
    api.index()
    for _ in range(3):
        assert api.get(f"/v1/vaults/{vault}").status_code == 200
    assert api.get(f"/v1/vaults/{'0x' + '12' * 20}").status_code == 404
    assert api.get("/v1/nothing-here").status_code == 404
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = "/v1/vaults/{vault}"
    ok = {"method": "GET", "route": route, "status": "200"}
    assert _metric(text, "copyvault_http_requests_total", **ok) == 3
    assert _metric(text, "copyvault_http_requests_total", **(ok | {"status": "404"})) == 1
    assert (
        _metric(
            text, "copyvault_http_requests_total", method="GET", route="<unmatched>", status="404"
        )
        == 1
    )
    assert (
        _metric(text, "copyvault_http_request_duration_seconds_count", method="GET", route=route)
        == 4
    )
    with api.engine.connect() as conn:
        events = conn.scalar(select(func.count()).select_from(Event))
    assert _metric(text, "copyvault_store_events") == events > 0
    assert _metric(text, "copyvault_store_reorgs") == 0
    assert _metric(text, "copyvault_store_cursor_block") == chain.head()
    assert _metric(text, "copyvault_indexer_running") == 0  # no in-process indexer here


def test_health_and_metrics__in_process_indexer_lag_events_and_reorgs(
    anvil_chain, stores, tmp_path
):
    a, chain = anvil_chain.actions, anvil_chain
    vault = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=1)
    url = stores.url()
    settings = api_settings(chain, tmp_path, url, indexer_enabled=True, poll_interval=0.05)
    with TestClient(create_app(settings)) as client:
        state = client.app.state.copyvault

        def caught_up():
            text = client.get("/metrics").text
            lag = _metric(text, "copyvault_indexer_lag_blocks")
            cursor = _metric(text, "copyvault_store_cursor_block")
            return text if lag == 0 and cursor == chain.head() else None

        def describe() -> str:
            return f"head {chain.head()}, stats {state.indexer.stats}"

        text = _wait_for(caught_up, describe=describe)
        assert _metric(text, "copyvault_indexer_running") == 1
        assert (
            _metric(text, "copyvault_indexer_events_indexed_total")
            == state.indexer.stats.events
            > 0
        )
        assert _metric(text, "copyvault_chain_head_block") == chain.head()
        health = client.get("/v1/health").json()
        assert health["status"] == "alive" and health["ready"] is True
        assert health["indexer"]["lag"] == 0

        snapshot = chain.rpc("evm_snapshot")
        a.deposit(vault, a.token("WETH"), 10**18, chain.depositor)
        _wait_for(
            lambda: (
                _metric(client.get("/metrics").text, "copyvault_store_cursor_block") == chain.head()
            ),
            describe=describe,
        )
        assert chain.rpc("evm_revert", snapshot)
        a.deposit(vault, a.token("USDC"), 10**6, chain.depositor)
        chain.mine(2)

        text = _wait_for(
            lambda: (
                (t := client.get("/metrics").text)
                and _metric(t, "copyvault_indexer_reorgs_handled_total") == 1
                and _metric(t, "copyvault_store_reorgs") == 1
                and t
            ),
            describe=describe,
        )
        assert _metric(text, "copyvault_store_cursor_block") <= chain.head()


def test_aum__token_without_a_feed__listed_as_unpriced(api):
    a, chain = api.chain.actions, api.chain
    vault = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=1)
    a.deposit(vault, a.token("WETH"), 2 * 10**18, chain.depositor)
    a.deposit(vault, a.token("USDC"), 500 * 10**6, chain.depositor)
    oracle = ContractAbi(a.artifacts.get("PriceOracle"))
    a.sender(chain.deployer).send(
        chain.deployment.oracle, oracle.call_data("removeFeed", a.token("USDC"))
    )
    api.index()
    value = api.ok(f"/v1/vaults/{vault}")["value"]
    assert value == {"usd": "6000.00000000", "unpriced_tokens": [a.token("USDC")], "error": None}
    leader = api.ok(f"/v1/leaders/{chain.leader.address}")
    assert leader["aum"] == value


def test_aum__node_unreachable__null_with_the_reason_not_an_error(anvil_chain, stores, tmp_path):
    a, chain = anvil_chain.actions, anvil_chain
    vault = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=1)
    a.deposit(vault, a.token("WETH"), 10**18, chain.depositor)
    with open_env(chain, stores, tmp_path, api_price_cache_seconds=0) as api:
        assert api.ok(f"/v1/vaults/{vault}")["value"]["usd"] == "3000.00000000"
        chain.node.stop()
        body = api.ok(f"/v1/vaults/{vault}")
        assert body["value"]["usd"] is None
        assert "prices unavailable" in body["value"]["error"]
        leaders = api.ok("/v1/leaders")["items"]
        assert leaders[0]["aum"]["usd"] is None and leaders[0]["aum"]["error"]
        # Everything the store alone answers still works.
        assert api.ok(f"/v1/vaults/{vault}/events")["items"]
        # Liveness: the process answers (200); the node's failure is reported, and not ready.
        health = api.get("/v1/health")
        assert health.status_code == 200 and health.json()["chain"]["ok"] is False
        assert health.json()["not_ready"] == ["node_unavailable"]


def _relay_rows(chain_id: int, received: datetime) -> dict[str, list[dict]]:
    """Intents in every state, a signed batch replaced twice, a mined one, a degraded sender: as
    a relayer in another process would have written them."""

    def intent(i: int, status: str) -> dict:
        return intent_row(
            chain_id,
            i,
            received,
            id=i,
            status=status,
            plan_due=status == "accepted",
            received_at=received + timedelta(seconds=i),
        )

    def batch(i: int, status: str, updated: datetime) -> dict:
        return {
            "id": i,
            "chain_id": chain_id,
            "intent_id": 3,
            "status": status,
            "vaults": ["0x" + "66" * 20],
            "attempt": 1,
            "gas_limit": 500_000,
            "simulated_gas": 400_000,
            "simulated_mirrored": 1,
            "created_at": received,
            "updated_at": updated,
        }

    def transaction(i: int, batch_id: int) -> dict:
        return {
            "batch_id": batch_id,
            "tx_hash": "0x" + f"{i:064x}",
            "sender": "0x" + "77" * 20,
            "nonce": batch_id,
            "max_fee_per_gas": 10**9 * i,
            "max_priority_fee_per_gas": 10**9,
            "raw": "0x00",
            "signed_at": received,
        }

    statuses = ["accepted", "accepted", "relaying", "done"]
    return {
        "intents": [intent(i + 1, s) for i, s in enumerate(statuses)],
        "batches": [
            batch(1, "signed", received),
            batch(2, "mined", MINED_AT),
            batch(3, "included", received),
            batch(4, "reorged", received),
        ],
        "transactions": [transaction(1, 1), transaction(2, 1), transaction(3, 1)]
        + [transaction(4, 2)],
        "senders": [
            {
                "chain_id": chain_id,
                "address": "0x" + "77" * 20,
                "next_nonce": 3,
                "updated_at": received,
                "degraded_reason": "the fee cap leaves no room",
                "degraded_since": received,
                "nonce_gaps": 2,
            }
        ],
    }


MINED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_metrics__relayer_figures_read_from_the_store_tables(api):
    received = datetime.now(UTC) - timedelta(minutes=10)
    rows = _relay_rows(api.chain.deployment.chain_id, received)
    with api.engine.begin() as conn:
        conn.execute(insert(Intent), rows["intents"])
        conn.execute(insert(RelayBatch), rows["batches"])
        conn.execute(insert(RelayTransaction), rows["transactions"])
        conn.execute(insert(RelaySender), rows["senders"])
    text = api.get("/metrics").text
    for status, count in {"accepted": 2, "planning": 0, "relaying": 1, "done": 1}.items():
        assert _metric(text, "copyvault_relayer_intents", status=status) == count
    for status, count in {
        "signed": 1,
        "included": 1,
        "mined": 1,
        "reorged": 1,
        "dropped": 0,
    }.items():
        assert _metric(text, "copyvault_relayer_batches", status=status) == count
    age = _metric(text, "copyvault_relayer_oldest_pending_intent_age_seconds")
    assert 595 <= age <= 660  # the first accepted intent, received 10 minutes (+1 s) ago
    assert _metric(text, "copyvault_relayer_inflight_transactions") == 1
    assert _metric(text, "copyvault_relayer_replacements_total") == 2
    assert _metric(text, "copyvault_relayer_nonce_gaps_total") == 2
    assert _metric(text, "copyvault_relayer_degraded") == 1
    assert (
        _metric(text, "copyvault_relayer_last_mined_batch_timestamp_seconds")
        == MINED_AT.timestamp()
    )
    assert _metric(text, "copyvault_ready") == 0
    assert _metric(text, "copyvault_not_ready", reason="relayer_degraded") == 1
    assert _metric(text, "copyvault_index_lag_blocks") == 0


def test_app_in_a_test_or_embedding_process__freezes_nothing_out_of_the_collector(api):
    """Only `copyvault serve` (server_process=True) freezes start-up objects: an app started in a
    process that makes many (tests, embedders) must leave the collector alone, or every app's
    cyclic garbage would stay for good."""
    import gc

    from fastapi.testclient import TestClient

    from backend.api.app import create_app

    before = gc.get_freeze_count()
    with TestClient(create_app(api.settings)) as client:
        assert client.get("/v1/health").status_code == 200
    assert gc.get_freeze_count() == before
