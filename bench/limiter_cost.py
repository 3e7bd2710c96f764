"""What the platform's edge (rate limits and security headers) costs per request, in-process.

    python -m bench.limiter_cost [--requests 20000] [--clients 100]

Drives the ASGI stack with a trivial endpoint (a 200 with a small JSON body) and no network, so the
difference between the rows is the middleware's own CPU time per request:

- ``bare``: the endpoint alone;
- ``headers``: plus SecurityHeadersMiddleware;
- ``limits``: plus RateLimitMiddleware charging the client address and a bearer credential
  (`--clients` distinct addresses, round robin, limits high enough never to refuse), with its
  store reconciliation NOT running (the decision path only);
- ``limits+sync``: the same with reconciliation running every 0.1 s against a SQLite store in a
  temporary folder (the background thread's cost shows up as CPU taken from requests).

No store write is on the request path in any row. Prints one line per row (microseconds per
request, mean of `--requests`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from starlette.types import Receive, Scope, Send

from backend.api.platform import RateLimitMiddleware, SecurityHeadersMiddleware, TrustedProxies
from backend.db.migrate import upgrade
from backend.security.rate_limits import SharedRateLimiter

HIGH = "1000000/second;100000000/minute"


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    body = b'{"ok":true}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def drive(app, requests: int, clients: int) -> float:
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message):
        return None

    scopes = [
        {
            "type": "http",
            "method": "GET",
            "path": "/v1/vaults",
            "query_string": b"",
            "scheme": "http",
            "client": (f"198.51.{i // 250}.{i % 250}", 40_000),
            "headers": [(b"host", b"x"), (b"authorization", f"Bearer cvk_{i}_secret".encode())],
        }
        for i in range(clients)
    ]
    started = time.perf_counter()
    for n in range(requests):
        await app(scopes[n % clients], receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def limiter() -> SharedRateLimiter:
    return SharedRateLimiter(per_address=HIGH, per_credential=HIGH, per_leader=HIGH)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args(argv)
    proxies = TrustedProxies([])
    exempt = frozenset({"/v1/health"})
    headers = SecurityHeadersMiddleware(endpoint, proxies=proxies, hsts_seconds=0)
    rows = {
        "bare": endpoint,
        "headers": headers,
        "limits": RateLimitMiddleware(headers, limiter=limiter(), proxies=proxies, exempt=exempt),
    }
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'store.db'}"
        upgrade(url)
        synced = limiter()
        synced.start(url)
        rows["limits+sync"] = RateLimitMiddleware(
            headers, limiter=synced, proxies=proxies, exempt=exempt
        )
        try:
            results = {
                name: asyncio.run(drive(app, args.requests, args.clients))
                for name, app in rows.items()
            }
        finally:
            synced.stop()
    base = results["bare"]
    for name, micros in results.items():
        print(f"{name:12s} {micros:8.1f} us/request  (+{micros - base:.1f} over bare)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
