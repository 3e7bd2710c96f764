"""GET /v1/deployment: the web app's start-up facts, exactly the deployment the server runs on
(on both stores, though it reads neither)."""

from __future__ import annotations

from tests.backend.api.helpers import ApiEnv


def test_deployment__names_the_contracts_venues_and_tokens_the_server_runs_on(read_api: ApiEnv):
    d = read_api.chain.deployment
    body = read_api.ok("/v1/deployment")
    assert body["chain_id"] == d.chain_id
    assert (body["factory"], body["registry"], body["router"], body["oracle"]) == (
        d.factory,
        d.registry,
        d.router,
        d.oracle,
    )
    assert body["venues"] == [d.contracts["UniswapV2Venue"]]
    assert body["contracts"] == d.contracts
    assert body["tokens"] == [
        {"address": t.address, "symbol": t.symbol, "decimals": t.decimals, "feed": t.feed}
        for t in d.tokens.values()
    ]
    assert {t["symbol"] for t in body["tokens"]} >= {"WETH", "USDC"}
