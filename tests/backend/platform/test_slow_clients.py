"""Slow and bloated clients against a real `copyvault serve` process, with raw sockets: a slowloris
client trickling its headers (one byte a second) or its body is cut off with 408 once its time is
up, an idle connection is closed, a head with too many or too big headers gets 431, and other
clients are served all the while."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from backend.api.http_protocol import HeadLimits
from backend.db.migrate import upgrade
from tests.backend.platform.conftest import serve_process

HEAD_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_HEADERS = 20
MAX_HEAD_BYTES = 4_096
MAX_CONNECTIONS = 8
# Time allowed beyond a deadline before the server must have answered (timer and loop slack).
SLACK = 2.0


@pytest.fixture(scope="module")
def server(platform_chain, tmp_path_factory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("slow")
    url = f"sqlite:///{folder / 'store.db'}"
    upgrade(url)
    env = {
        "COPYVAULT_API_HEAD_TIMEOUT": str(HEAD_TIMEOUT),
        "COPYVAULT_API_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "COPYVAULT_API_MAX_HEADERS": str(MAX_HEADERS),
        "COPYVAULT_API_MAX_HEADER_BYTES": str(MAX_HEAD_BYTES),
        "COPYVAULT_RATE_LIMIT_ENABLED": "false",
        "COPYVAULT_API_MAX_CONNECTIONS_PER_CLIENT": str(MAX_CONNECTIONS),
    }
    with serve_process(platform_chain, url, folder, env=env) as base:
        host, port = base.removeprefix("http://").split(":")
        yield base, int(port)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=HEAD_TIMEOUT + BODY_TIMEOUT + 10)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65_536):
        data += chunk
    return data


def _trickle(sock: socket.socket, payload: bytes, every: float = 1.0) -> tuple[bytes, float]:
    """Send `payload` one byte every `every` seconds until the server answers or closes; what it
    sent, and after how many seconds."""
    started = time.monotonic()
    sock.setblocking(False)
    answer = b""
    try:
        for byte in payload:
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            deadline = time.monotonic() + every
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65_536)
                except BlockingIOError:
                    time.sleep(0.05)
                    continue
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return answer, time.monotonic() - started
                answer += chunk
    finally:
        sock.setblocking(True)
    return answer + _read_until_closed(sock), time.monotonic() - started


def test_slowloris_headers__one_byte_a_second__408_and_closed_others_served(server):
    base, port = server
    with _connect(port) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        health = httpx.get(f"{base}/v1/health", timeout=5)  # served while the slow client waits
        assert health.status_code == 200
        assert time.monotonic() - started < HEAD_TIMEOUT
        answer, seconds = _trickle(sock, b"X-Slow: " + b"a" * 60)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"request_timeout" in answer
    assert seconds < HEAD_TIMEOUT + SLACK


def test_idle_connection__sends_nothing__closed_after_the_head_timeout(server):
    _, port = server
    started = time.monotonic()
    with _connect(port) as sock:
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert HEAD_TIMEOUT - 0.5 < time.monotonic() - started < HEAD_TIMEOUT + SLACK


def test_keep_alive__second_request_head_trickled__408(server):
    _, port = server
    with _connect(port) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first:
            first += sock.recv(65_536)
        assert first.startswith(b"HTTP/1.1 200 ")
        time.sleep(0.5)  # well inside uvicorn's keep-alive timeout
        # the first answer's body may still be in the socket: the 408 follows it
        answer, seconds = _trickle(sock, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
    assert b"HTTP/1.1 408 " in answer
    assert seconds < HEAD_TIMEOUT + SLACK


def test_too_many_headers__431_and_closed(server):
    _, port = server
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    with _connect(port) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert b"headers_too_large" in answer and answer.count(b"HTTP/1.1") == 1


def test_oversized_header__431_and_closed(server):
    _, port = server
    with _connect(port) as sock:
        big = b"X-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n"
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer


def test_headers_within_limits__answered(server):
    _, port = server
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS - 2))
    with _connect(port) as sock:
        sock.sendall(
            b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n"
        )
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    ("framing", "trickled", "every"),
    [
        # one byte a second of a declared 200-byte body
        (b"Content-Length: 200", b"{" + b" " * 199, 1.0),
        # one 1-byte chunk a second (7 bytes of chunk framing each)
        (b"Transfer-Encoding: chunked", b"1\r\n \r\n" * 40, 1.0 / 7),
    ],
    ids=["content-length", "chunked"],
)
def test_slow_body__trickled__408_request_timeout(server, framing, trickled, every):
    _, port = server
    with _connect(port) as sock:
        sock.sendall(
            b"POST /v1/intents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + framing
            + b"\r\n\r\n"
        )
        answer, seconds = _trickle(sock, trickled, every)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "request_timeout"
    assert seconds < BODY_TIMEOUT + SLACK


def test_connection_flood__one_address_beyond_its_cap__503_and_closed_slot_back_when_one_closes(
    server,
):
    _, port = server
    held = [_connect(port) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # every one of them accepted by the server
        with _connect(port) as extra:
            answer = _read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        assert b"too_many_connections" in answer
        held.pop().close()
        time.sleep(0.2)
        with _connect(port) as again:
            again.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert _read_until_closed(again).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in held:
            sock.close()


def test_connection_cap__trusted_proxies_exempt_everyone_else_capped():
    limits = HeadLimits(trusted_proxies=("10.0.0.0/8", "2001:db8::1"))
    assert not limits.capped("10.1.2.3") and not limits.capped("2001:db8::1")
    assert limits.capped("203.0.113.1") and limits.capped("2001:db8::2")
    assert limits.capped("not-an-address")


def test_request_line_over_the_head_limit__431(server):
    _, port = server
    with _connect(port) as sock:
        target = b"/v1/vaults?x=" + b"a" * (MAX_HEAD_BYTES + 10)
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer
