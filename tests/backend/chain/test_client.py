"""ChainClient: which failures are retried, which are raised at once."""

from __future__ import annotations

import pytest

from backend.chain.client import ChainClient
from backend.exceptions import ChainUnavailableError, RangeTooLargeError, RpcError
from tests.backend.faults import FaultProxy


@pytest.fixture
def proxy(anvil_chain):
    p = FaultProxy(anvil_chain.node.url).start()
    yield p
    p.stop()


def _client(url: str, **kwargs) -> ChainClient:
    return ChainClient(url, retries=3, sleep=lambda s: None, timeout=0.5, **kwargs)


def test_client__transient_failures_then_success(proxy):
    plan = iter(["http503", "drop", "slow", "garbage", None])
    proxy.plan = lambda request: next(plan, None)
    proxy.slow_seconds = 1.0
    client = ChainClient(proxy.url, retries=4, sleep=lambda s: None, timeout=0.5)
    assert client.chain_id() == 31_337
    assert len(proxy.log) == 5


def test_client__too_large_is_raised_at_once(proxy):
    proxy.plan = lambda request: "too_large"
    with pytest.raises(RangeTooLargeError, match="more than 10000 results"):
        _client(proxy.url).get_logs(0, 10)
    assert len(proxy.log) == 1


def test_client__json_rpc_errors_are_not_retried(anvil_chain):
    client = _client(anvil_chain.node.url)
    with pytest.raises(RpcError) as error:
        client.request("eth_noSuchMethod")
    assert not isinstance(error.value, ChainUnavailableError)


def test_client__refused_connection__unavailable_after_retries():
    from backend.chain.node import free_port

    client = _client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChainUnavailableError, match="check that it is running"):
        client.block_number()


def test_client__batch_keeps_order(anvil_chain):
    headers = anvil_chain.client.headers([3, 1, 2])
    assert [headers[n].number for n in (1, 2, 3)] == [1, 2, 3]
    assert anvil_chain.client.header(10**9) is None
