"""Rate limits shared by two real `copyvault serve` processes over one store (SQLite and
PostgreSQL): hammered at once from one client address, the two admit together no more than the
documented bound (limit + 3 * (P - 1) * ceil(limit / 20)), not twice the limit, and every other
request gets 429 `rate_limited` with Retry-After."""

from __future__ import annotations

import math
import re
import socket
import threading

import httpx
from sqlalchemy import func, select

from backend.db.migrate import upgrade
from backend.db.rate_limit_models import RateLimitHit
from backend.security.rate_limits import SHARE_DIVISOR
from tests.backend.platform.conftest import serve_process

LIMIT = 40
PROCESSES = 2
BOUND = LIMIT + 3 * (PROCESSES - 1) * math.ceil(LIMIT / SHARE_DIVISOR)
REQUESTS_EACH = 60


def _hammer(base: str, answers: list[httpx.Response]) -> None:
    with httpx.Client(base_url=base, timeout=20) as client:
        for _ in range(REQUESTS_EACH):
            answers.append(client.get("/v1/vaults"))


def test_rate_limit__two_server_processes_hammered_at_once__sum_admitted_within_bound_rest_429(
    platform_chain, stores, tmp_path
):
    url = stores.url()
    engine = stores.engine(url)  # migrated once, before the servers start
    # An hour-long window: the test never straddles enough of a window boundary to matter.
    env = {"COPYVAULT_RATE_LIMIT_PER_ADDRESS": f"{LIMIT}/hour"}
    with (
        serve_process(platform_chain, url, tmp_path, env=env) as first,
        serve_process(platform_chain, url, tmp_path, env=env) as second,
    ):
        answers: dict[str, list[httpx.Response]] = {first: [], second: []}
        threads = [threading.Thread(target=_hammer, args=(base, answers[base])) for base in answers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    every = answers[first] + answers[second]
    assert len(every) == PROCESSES * REQUESTS_EACH
    admitted = [r for r in every if r.status_code == 200]
    refused = [r for r in every if r.status_code != 200]
    assert LIMIT <= len(admitted) <= BOUND, (len(admitted), BOUND)
    # Both processes admitted some: the total is shared, not one process doing all the work.
    assert all(any(r.status_code == 200 for r in answers[base]) for base in answers)
    for response in refused:
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == "rate_limited"
        assert "per client address" in error["message"]
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # The store holds each process's own count; together exactly what was admitted (each process
    # hands over its last count when it stops).
    with engine.connect() as conn:
        rows = conn.execute(
            select(RateLimitHit.process, func.sum(RateLimitHit.hits))
            .where(RateLimitHit.key.like("%/address/%"))
            .group_by(RateLimitHit.process)
        ).all()
    assert len(rows) == PROCESSES
    assert sum(int(hits) for _, hits in rows) == len(admitted)


def test_rate_limit__serve_workers_2__four_clients_at_once__sum_admitted_within_bound(
    platform_chain, stores, tmp_path
):
    """The deployment's own shape: `copyvault serve --workers 2` (two uvicorn worker processes on
    one port), four concurrent connections from one address."""
    url = stores.url()
    engine = stores.engine(url)
    env = {"COPYVAULT_RATE_LIMIT_PER_ADDRESS": f"{LIMIT}/hour"}
    answers: list[httpx.Response] = []
    with serve_process(platform_chain, url, tmp_path, env=env, args=("--workers", "2")) as base:
        threads = [threading.Thread(target=_hammer, args=(base, answers)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    admitted = sum(1 for r in answers if r.status_code == 200)
    assert len(answers) == 4 * REQUESTS_EACH
    assert LIMIT <= admitted <= BOUND, (admitted, BOUND)
    assert {r.status_code for r in answers} == {200, 429}
    with engine.connect() as conn:
        written = conn.scalar(
            select(func.sum(RateLimitHit.hits)).where(RateLimitHit.key.like("%/address/%"))
        )
    assert written == admitted


def test_rate_limit__pipelined_requests_in_one_packet__each_charged(platform_chain, tmp_path):
    """Thirty requests written at once on one connection (HTTP/1.1 pipelining) are thirty hits."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    env = {"COPYVAULT_RATE_LIMIT_PER_ADDRESS": "5/hour"}
    with serve_process(platform_chain, url, tmp_path, env=env) as base:
        port = int(base.rsplit(":", 1)[1])
        request = b"GET /v1/vaults HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /v1/vaults HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request * 29 + last)
            answers = b""
            while chunk := sock.recv(65_536):
                answers += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answers)
    assert statuses == [b"200"] * 5 + [b"429"] * 25
