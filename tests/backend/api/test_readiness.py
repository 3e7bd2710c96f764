"""Liveness vs readiness (issue 10, item 7), on both stores: /v1/health says the process is alive,
/v1/ready says whether intents can be taken, and intake answers 503 with the reason's code (and
Retry-After) while the index lags, the node is down or the relayer is degraded, never a validation
error such as unknown_venue."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from backend.api.app import create_app
from backend.db.relay_models import Intent, RelaySender
from tests.backend.api.helpers import api_settings, intent_body, open_env
from tests.backend.helpers import admit_leader

NOT_CACHED = {"ready_cache_seconds": 0}


def _codes(response) -> list[str]:
    return [reason["code"] for reason in response.json()["reasons"]]


def _valid_intent(chain, nonce: int = 1) -> dict:
    """An intent intake admits once ready: its leader registered and followed by a vault holding
    its tokenIn (set up on the chain here, before the app indexes it)."""
    admit_leader(chain)
    intent, signature = chain.actions.intent(chain.leader, nonce=nonce)
    return intent_body(intent, signature)


def test_fresh_server_index_behind__not_ready_and_intent_503_index_behind_not_unknown_venue(
    anvil_chain, stores, tmp_path
):
    """A server whose store has indexed nothing of a chain with a deployment's worth of blocks:
    the venue is not in the index yet, so judging the intent now would answer unknown_venue."""
    chain = anvil_chain
    body = _valid_intent(chain)
    url = stores.url()
    settings = api_settings(chain, tmp_path, url, ready_max_lag_blocks=5, **NOT_CACHED)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/v1/ready")
        assert ready.status_code == 503, ready.text
        assert _codes(ready) == ["index_behind"] and ready.headers["Retry-After"] == "2"
        assert ready.json()["lag"] > 5 + settings.confirmations

        response = client.post("/v1/intents", json=body)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "index_behind"
        assert response.headers["Retry-After"] == "2"
        with client.app.state.copyvault.engine.connect() as conn:
            assert conn.execute(Intent.__table__.select()).first() is None

        health = client.get("/v1/health")
        assert health.status_code == 200
        assert health.json()["status"] == "alive" and health.json()["not_ready"] == ["index_behind"]


def test_index_caught_up__ready_and_the_same_intent_accepted(anvil_chain, stores, tmp_path):
    chain = anvil_chain
    body = _valid_intent(chain)
    with open_env(chain, stores, tmp_path, ready_max_lag_blocks=5, **NOT_CACHED) as api:
        chain.mine(20)
        assert _codes(api.get("/v1/ready")) == ["index_behind"]
        assert api.post("/v1/intents", json=body).json()["error"]["code"] == "index_behind"
        api.index()
        ready = api.get("/v1/ready")
        assert ready.status_code == 200 and ready.json()["reasons"] == []
        assert ready.json()["lag"] == 0
        assert api.post("/v1/intents", json=body).status_code == 202


def test_relayer_degraded__not_ready_and_intake_503_relayer_degraded(anvil_chain, stores, tmp_path):
    chain = anvil_chain
    body = _valid_intent(chain)
    with open_env(chain, stores, tmp_path, **NOT_CACHED) as api:
        now = datetime.now(UTC)
        sender = {
            "chain_id": chain.deployment.chain_id,
            "address": chain.relayer.address.lower(),
            "next_nonce": 3,
            "updated_at": now,
            "degraded_reason": "the fee cap leaves no room to replace nonce 2",
            "degraded_since": now,
        }
        with api.engine.begin() as conn:
            conn.execute(insert(RelaySender), sender)
        ready = api.get("/v1/ready")
        assert ready.status_code == 503 and _codes(ready) == ["relayer_degraded"]
        assert "fee cap" in ready.json()["reasons"][0]["message"]
        refused = api.post("/v1/intents", json=body)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "relayer_degraded"

        with api.engine.begin() as conn:  # the relayer recovered
            conn.execute(update(RelaySender).values(degraded_reason=None, degraded_since=None))
        assert api.get("/v1/ready").status_code == 200
        assert api.post("/v1/intents", json=body).status_code == 202


def test_node_down__health_200_alive_ready_503_node_unavailable_intake_503(
    anvil_chain, stores, tmp_path
):
    chain = anvil_chain
    body = _valid_intent(chain)
    with open_env(chain, stores, tmp_path, **NOT_CACHED) as api:
        assert api.get("/v1/ready").status_code == 200
        chain.node.stop()
        health = api.get("/v1/health")
        assert health.status_code == 200
        assert health.json()["chain"]["ok"] is False and health.json()["store"]["ok"] is True
        ready = api.get("/v1/ready")
        assert ready.status_code == 503 and _codes(ready) == ["node_unavailable"]
        refused = api.post("/v1/intents", json=body)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "node_unavailable"


def test_not_ready_verdict_is_not_reused__intent_accepted_right_after_the_index_catches_up(
    anvil_chain, stores, tmp_path
):
    """A long cache for "ready" verdicts does not keep an old "not ready" one alive."""
    chain = anvil_chain
    body = _valid_intent(chain)
    with open_env(chain, stores, tmp_path, ready_max_lag_blocks=5, ready_cache_seconds=60) as api:
        chain.mine(20)
        assert api.get("/v1/health").json()["not_ready"] == ["index_behind"]
        api.index()
        assert api.post("/v1/intents", json=body).status_code == 202
