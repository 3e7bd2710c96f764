"""No node secret in any answer or log (issue 10, item 5), on both stores: providers put API keys
in the RPC URL's path and query; only scheme, host and port may ever be shown. Checked against a
closed port (every answer is an error that names the node) and against a real anvil behind a path
(a small proxy that only answers at the secret path), with every log record captured at DEBUG."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from backend.chain.client import ChainClient
from backend.chain.node import free_port
from backend.chain.redact import redact_url
from backend.cli import main as cli_main
from backend.exceptions import ChainUnavailableError
from tests.backend.api.helpers import intent_body, open_env

KEY, KEY2 = "SECRETKEY0123", "SECRET2apikeyvalue"
SECRET_PATH = f"/v3/{KEY}?apikey={KEY2}"


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY not in text and KEY2 not in text, text


@contextmanager
def _proxy_at_secret_path(upstream: str) -> Iterator[str]:
    """A JSON-RPC proxy to `upstream` that answers only at SECRET_PATH (404 elsewhere), as a
    provider's endpoint does; its URL with the secret path."""
    target = urlsplit(upstream)

    class Forward(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path != SECRET_PATH:
                self.send_error(404)
                return
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            conn.request("POST", "/", body, {"Content-Type": "application/json"})
            answer = conn.getresponse()
            payload = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args) -> None:  # the test captures logs: keep the proxy quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{SECRET_PATH}"
    finally:
        server.shutdown()
        server.server_close()


def test_redact_url__keeps_scheme_host_port_only():
    assert redact_url(f"https://user:{KEY}@node.example:8545{SECRET_PATH}") == (
        "https://node.example:8545/<redacted>"
    )
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert redact_url("http://127.0.0.1:8545/") == "http://127.0.0.1:8545"


def test_chain_client__closed_port_with_key_in_url__error_and_retry_logs_without_it(caplog):
    caplog.set_level(logging.DEBUG)
    client = ChainClient(
        f"http://127.0.0.1:{free_port()}{SECRET_PATH}", retries=1, sleep=lambda _: None
    )
    with pytest.raises(ChainUnavailableError) as raised:
        client.block_number()
    _assert_no_secret(str(raised.value), caplog.text)
    assert "127.0.0.1" in str(raised.value) and "<redacted>" in str(raised.value)


def test_node_down_with_key_in_url__no_secret_in_health_ready_503_bodies_or_logs(
    anvil_chain, stores, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    chain = anvil_chain
    intent, signature = chain.actions.intent(chain.leader, nonce=1)
    vault = chain.actions.create_vault(chain.owners[:1], leader=chain.leader.address, salt=2)
    closed = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"
    with open_env(chain, stores, tmp_path, rpc_url=closed, ready_cache_seconds=0) as api:
        api.index()  # the test's own indexer reads the real node; the app only knows `closed`
        answers = [
            api.get("/v1/health"),
            api.get("/v1/ready"),
            api.get("/metrics"),
            api.post("/v1/intents", json=intent_body(intent, signature)),
            api.get(f"/v1/vaults/{vault}"),  # prices need the node: a null value with the reason
        ]
    assert answers[0].json()["chain"]["ok"] is False
    assert answers[1].status_code == 503 and answers[3].status_code == 503
    assert "127.0.0.1" in answers[0].json()["chain"]["error"]
    _assert_no_secret(*(a.text for a in answers), caplog.text)


def test_real_node_behind_secret_path__indexes_and_answers_without_showing_the_path(
    anvil_chain, stores, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    chain = anvil_chain
    vault = chain.actions.create_vault(chain.owners[:1], leader=chain.leader.address, salt=3)
    with _proxy_at_secret_path(chain.node.url) as secret_url:
        overrides = {"rpc_url": secret_url, "indexer_enabled": True, "ready_cache_seconds": 0}
        with open_env(chain, stores, tmp_path, **overrides) as api:
            health = api.get("/v1/health")
            assert health.json()["chain"]["ok"] is True, health.text
            texts = [health.text, api.get(f"/v1/vaults/{vault}").text, api.get("/metrics").text]
            # The provider refuses another path: the error names the host, never the key.
            wrong = ChainClient(secret_url.replace(KEY, KEY + "x"), retries=0)
            with pytest.raises(Exception) as refused:
                wrong.block_number()
            texts.append(str(refused.value))
    _assert_no_secret(*texts, caplog.text)


def test_cli__node_with_key_unreachable__error_line_without_it(tmp_path, monkeypatch, capsys):
    closed = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"
    monkeypatch.setenv("COPYVAULT_RPC_URL", closed)
    monkeypatch.setenv("COPYVAULT_RPC_RETRIES", "0")
    with pytest.raises(SystemExit):
        cli_main(["deploy", "--out", str(tmp_path / "deployment.json")])
    captured = capsys.readouterr()
    _assert_no_secret(captured.out, captured.err)
    assert "127.0.0.1" in captured.err
