"""/v1/health and /metrics (Prometheus), on both stores; assets under management when prices are
missing or the node is down (a null value with the reason, never an error response)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api.app import create_app
from backend.chain.abi import ContractAbi
from backend.db.models import Event
from scripts.server_process import poll_until
from tests.backend.api.helpers import api_settings, open_env


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
