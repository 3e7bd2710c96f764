"""The per-client cap on /v1/stream sees client addresses as the rate limits do: X-Forwarded-For
counts only from a trusted proxy, so a client cannot take every slot under forged names, while
clients behind a trusted proxy are not all one client."""

from __future__ import annotations

import httpx
import pytest

from tests.backend.api.helpers import uvicorn_server
from tests.backend.platform.conftest import platform_app


@pytest.mark.parametrize("trusted", [False, True])
def test_stream_cap__forwarded_for_counts_only_from_trusted_proxies(
    platform_chain, sqlite_stores, tmp_path, trusted
):
    settings = {
        "api_max_streams": 10,
        "api_max_streams_per_client": 1,
        "trusted_proxies": ["127.0.0.1"] if trusted else [],
    }
    with (
        platform_app(platform_chain, sqlite_stores, tmp_path, **settings) as env,
        uvicorn_server(env.app) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        first = {"X-Forwarded-For": "198.51.100.1"}
        other = {"X-Forwarded-For": "198.51.100.2"}
        with client.stream("GET", "/v1/stream", headers=first) as opened:
            assert opened.status_code == 200
            second = client.get("/v1/stream", headers=other) if not trusted else None
            if trusted:
                with client.stream("GET", "/v1/stream", headers=other) as behind_proxy:
                    assert behind_proxy.status_code == 200  # another client behind the proxy
                    again = client.get("/v1/stream", headers=first)
                    assert again.status_code == 503
                    assert again.json()["error"]["code"] == "stream_limit"
            else:
                assert second is not None and second.status_code == 503  # forged name ignored
                assert second.json()["error"]["code"] == "stream_limit"
