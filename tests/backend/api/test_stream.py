"""GET /v1/stream against a real uvicorn server, read with httpx streaming, on both stores: newly
indexed events arrive filtered by vault or leader, a reconnect resumes after Last-Event-ID, and a
reorg is announced before the new fork's events."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from backend.api.app import create_app
from backend.chain.node import free_port
from backend.indexer.indexer import Indexer, IndexerConfig
from tests.backend.api.helpers import api_settings

WAIT = 20.0


@dataclass
class Server:
    url: str
    indexer: Indexer

    def index(self) -> None:
        assert self.indexer.sync_once()


@contextmanager
def serve(anvil_chain, stores, folder) -> Iterator[Server]:
    url = stores.url()
    engine = stores.engine(url)
    indexer = Indexer(
        engine, anvil_chain.client, anvil_chain.deployment, config=IndexerConfig(confirmations=0)
    )
    indexer.sync_once()
    app = create_app(api_settings(anvil_chain, folder, url))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
        )
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", indexer)
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass
class Listener:
    """Reads one SSE stream in a thread; parsed messages land in `messages`."""

    messages: queue.Queue = field(default_factory=queue.Queue)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    status: int | None = None
    content_type: str | None = None
    response: httpx.Response | None = None

    def next(self, timeout: float = WAIT) -> dict:
        return self.messages.get(timeout=timeout)

    def until(self, predicate, timeout: float = WAIT) -> list[dict]:
        """Messages up to and including the first one matching `predicate`."""
        seen, end = [], time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(0.01, end - time.monotonic()))
            seen.append(message)
            if predicate(message):
                return seen


@contextmanager
def listen(base: str, params: dict | None = None, headers: dict | None = None):
    listener = Listener()

    def run() -> None:
        with httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client:
            with client.stream("GET", f"{base}/v1/stream", params=params, headers=headers) as r:
                listener.response = r
                listener.status = r.status_code
                listener.content_type = r.headers.get("content-type")
                listener.ready.set()
                message: dict = {}
                try:
                    for line in r.iter_lines():
                        if listener.stop.is_set():
                            return
                        if not line:
                            if "data" in message:
                                message["data"] = json.loads(message["data"])
                                listener.messages.put(message)
                            message = {}
                        elif not line.startswith(":"):
                            name, _, value = line.partition(":")
                            message[name] = value.removeprefix(" ")
                except (httpx.HTTPError, OSError, RuntimeError):
                    if not listener.stop.is_set():
                        raise

    thread = threading.Thread(target=run, name="test-sse", daemon=True)
    thread.start()
    assert listener.ready.wait(WAIT), "the stream did not open"
    # Give the server a poll to fix the stream's start position before anything happens.
    time.sleep(0.3)
    try:
        yield listener
    finally:
        listener.stop.set()
        if listener.response is not None:
            # The client goes away (the server then ends the stream). shutdown() wakes the reading
            # thread, which close() alone would leave blocked in recv().
            sock = listener.response.extensions["network_stream"].get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        thread.join(5)
        assert not thread.is_alive(), "the stream reader did not stop"


def _deposits(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m.get("event") == "indexed" and m["data"]["name"] == "Deposited"]


def test_stream__filtered_by_vault_and_leader__and_resumes_after_last_event_id(
    anvil_chain, stores, tmp_path
):
    a, chain = anvil_chain.actions, anvil_chain
    weth = a.token("WETH")
    mine = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=1)
    other = a.create_vault(chain.owners[1:2], leader=chain.delegate.address, salt=2)
    with serve(chain, stores, tmp_path) as server:
        with (
            listen(server.url, {"vault": mine.lower()}) as by_vault,
            listen(server.url, {"leader": chain.leader.address}) as by_leader,
        ):
            assert by_vault.status == 200
            assert by_vault.content_type.startswith("text/event-stream")
            a.deposit(mine, weth, 1 * 10**18, chain.depositor)
            a.deposit(other, weth, 2 * 10**18, chain.depositor)
            a.register(chain.delegate, "ipfs://delegate")
            a.deposit(mine, weth, 3 * 10**18, chain.depositor)
            a.register(chain.leader, "ipfs://leader")
            server.index()

            seen = by_vault.until(
                lambda m: m["data"].get("args", {}).get("amount") == str(3 * 10**18)
            )
            assert {m["data"]["vault"] for m in seen} == {mine}
            deposits = _deposits(seen)
            assert [d["data"]["args"]["amount"] for d in deposits] == [str(10**18), str(3 * 10**18)]
            ids = [int(m["id"]) for m in seen]
            assert ids == sorted(ids) and all(int(m["id"]) == m["data"]["id"] for m in seen)

            registered = by_leader.until(lambda m: m["data"].get("name") == "LeaderRegistered")
            assert {m["data"]["leader"] for m in registered} == {chain.leader.address}
            assert registered[-1]["data"]["args"]["profileURI"] == "ipfs://leader"

        # A reconnecting client resumes right after the last event it saw.
        first_id = deposits[0]["id"]
        with listen(server.url, {"vault": mine}, {"Last-Event-ID": first_id}) as resumed:
            message = resumed.next()
            assert message["event"] == "indexed"
            assert message["data"]["args"]["amount"] == str(3 * 10**18)
        with listen(server.url, {"after": 0, "vault": other}) as replay:
            created = replay.until(lambda m: m["data"].get("name") == "Deposited")
            assert {m["data"]["vault"] for m in created} == {other}


def test_stream__reorg__announced_before_the_new_forks_events(anvil_chain, stores, tmp_path):
    a, chain = anvil_chain.actions, anvil_chain
    weth = a.token("WETH")
    vault = a.create_vault(chain.owners[:1], leader=chain.leader.address, salt=3)
    with serve(chain, stores, tmp_path) as server, listen(server.url) as stream:
        snapshot = chain.rpc("evm_snapshot")
        fork_point = chain.head()
        a.deposit(vault, weth, 5 * 10**18, chain.depositor)
        server.index()
        orphan = stream.until(lambda m: m["data"].get("name") == "Deposited")[-1]
        assert orphan["data"]["args"]["amount"] == str(5 * 10**18)

        assert chain.rpc("evm_revert", snapshot)
        a.deposit(vault, weth, 7 * 10**18, chain.depositor)
        chain.mine(3)
        server.index()
        after = stream.until(lambda m: m["data"].get("name") == "Deposited")
        assert after[0]["event"] == "reorg"
        assert after[0]["data"]["ancestor_block"] <= fork_point
        assert after[0]["data"]["events_removed"] >= 1
        assert after[-1]["data"]["args"]["amount"] == str(7 * 10**18)
        # (On SQLite the new fork's rows may reuse the deleted rows' ids: the stream copes.)
        assert after[-1]["data"]["block_hash"] != orphan["data"]["block_hash"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_stream__keeps_answering_other_requests_while_streams_are_open(
    anvil_chain, stores, tmp_path
):
    with serve(anvil_chain, stores, tmp_path) as server:
        with listen(server.url), listen(server.url):
            response = httpx.get(f"{server.url}/v1/health", timeout=5)
            assert response.status_code == 200
            metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
            assert 'copyvault_http_requests_total{method="GET",route="/v1/health"' in metrics
