"""Caps on /v1/stream (issue 10, item 4): 1,600 idle stream clients were accepted and slowed every
other request. Beyond the per-process or per-client-address cap a new stream gets 503
`stream_limit` with Retry-After, and a closed stream gives its slot back."""

from __future__ import annotations

import httpx
import pytest

from backend.api.errors import StreamLimitError
from backend.api.stream_slots import StreamSlots
from tests.backend.api.helpers import open_env, uvicorn_server
from tests.utils.server_process import poll_until


def test_stream_slots__per_client_then_per_process_cap__refused_until_one_is_given_back():
    slots = StreamSlots(per_process=2, per_client=1)
    slots.take("10.0.0.1")
    with pytest.raises(StreamLimitError, match="your address"):
        slots.take("10.0.0.1")
    slots.take("10.0.0.2")
    with pytest.raises(StreamLimitError, match="maximum of 2"):
        slots.take("10.0.0.3")
    slots.give_back("10.0.0.1")
    slots.take("10.0.0.3")
    assert slots.open_streams == 2


def test_stream__second_stream_of_one_client__503_stream_limit_and_slot_back_after_close(
    anvil_chain, stores, tmp_path
):
    limits = {"api_max_streams": 5, "api_max_streams_per_client": 1}
    with open_env(anvil_chain, stores, tmp_path, **limits) as api, uvicorn_server(api.app) as url:
        slots = api.app.state.api.streams
        with httpx.Client(base_url=url, timeout=10) as client:
            with client.stream("GET", "/v1/stream") as first:
                assert first.status_code == 200
                refused = client.get("/v1/stream")
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "stream_limit"
                assert refused.headers["Retry-After"] == "2"
                assert client.get("/v1/health").status_code == 200  # other requests go on
            assert poll_until(lambda: slots.open_streams == 0, 10, every=0.05) is not None
            with client.stream("GET", "/v1/stream") as again:
                assert again.status_code == 200
