"""The API's edge against abuse: rate limits, CORS, security headers (`install_platform`).

Plain ASGI middleware (like backend/api/middleware.py), in this order from the outside in:
request metrics -> `SecurityHeadersMiddleware` -> CORS (only when COPYVAULT_API_CORS_ORIGINS lists
origins) -> `RateLimitMiddleware` -> the body size and time limit -> the app. So every answer,
a 429 or a 413 included, carries the security headers, and a browser on an allowed origin can read
a 429's Retry-After.

Client addresses: the TCP peer, unless the peer is one of COPYVAULT_TRUSTED_PROXIES; then the
right-most X-Forwarded-For hop that is not itself a trusted proxy (a client can prepend anything to
that header, so only hops appended by trusted proxies are believed). IPv6 clients are limited per
/64 network (one subscriber's allocation), so changing the host bits buys nothing.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import re
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.errors import ErrorBody, error_responses, rate_limited_response
from backend.api.extras import MAX_PAGE
from backend.config import Settings
from backend.security.rate_limits import RateLimitExceeded, SharedRateLimiter

# Page size a list request costs one hit for; bigger pages cost proportionally more.
PAGE_PER_HIT = 50
# Prefixes of the credentials other parts issue: sessions, operator sessions, leader API keys.
CREDENTIAL_PREFIXES = ("cvs_", "cvo_", "cvk_")
CREDENTIAL_PREFIXES_RAW = tuple(p.encode() for p in CREDENTIAL_PREFIXES)
# Credentials charged per request at most (more cookies than that buy nothing but cost).
MAX_CREDENTIALS = 3
REF = "#/components/schemas/{model}"
DOCS_PATHS = frozenset({"/docs"})

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI (/docs) loads its script and stylesheet from this server (npm swagger-ui-dist,
# backend/api/webapp.py) and runs one inline script, allowed by its hash (added per answer). Its
# styles set inline style attributes, hence 'unsafe-inline' for styles only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# The web app's pages (everything off the API's paths): its own scripts and styles only, no
# inline script; it talks to this API only (the wallet reaches the chain itself, through its
# EIP-1193 provider, so no RPC origin is needed here).
APP_CSP_RAW = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"font-src 'self'; connect-src 'self'; manifest-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
API_PATHS = ("/v1", "/metrics", "/openapi.json", "/docs")
API_CSP_RAW = API_CSP.encode()
ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
REPLACED = frozenset(name for name, _ in ALWAYS) | {b"content-security-policy"}
REPLACED_WITH_NO_STORE = REPLACED | {b"cache-control"}
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


# ----------------------------------------------------------------------------- client identity


class TrustedProxies:
    def __init__(self, networks: list[str]):
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusts(self, host: str) -> bool:
        if not self.networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def _forwarded(self, scope: Scope, name: bytes) -> list[str]:
        values = [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == name]
        return [hop.strip() for value in values for hop in value.split(",") if hop.strip()]

    def client_host(self, scope: Scope) -> str:
        """The client's address: the peer, or what trusted proxies say they received from."""
        client = scope.get("client")
        host = client[0] if client else "unknown"
        if not self.trusts(host):
            return host
        for hop in reversed(self._forwarded(scope, b"x-forwarded-for")):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return host  # garbage from beyond the last trusted hop: that hop is the client
            host = hop
            if not self.trusts(hop):
                return hop
        return host

    def is_https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        client = scope.get("client")
        if client and self.trusts(client[0]):
            protos = self._forwarded(scope, b"x-forwarded-proto")
            return bool(protos) and protos[-1].lower() == "https"
        return False


@lru_cache(maxsize=65_536)
def address_key(host: str) -> str:
    """The identifier a client address is limited under (an IPv6 address: its /64)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def request_credentials(scope: Scope) -> list[str]:
    """The credentials the request carries: its bearer token and its session cookies of ours (by
    their prefix), at most MAX_CREDENTIALS. Each is charged: a client cannot spend a forged bearer
    token's budget while its real session cookie authenticates it."""
    found: list[str] = []
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                found.append(token.strip())
        elif name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                cookie = part.partition("=")[2].strip().strip('"')
                if cookie.startswith(CREDENTIAL_PREFIXES):
                    found.append(cookie)
    return list(dict.fromkeys(found))[:MAX_CREDENTIALS]


def carries_credential(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"authorization" or (
            name == b"cookie" and any(p in value for p in CREDENTIAL_PREFIXES_RAW)
        ):
            return True
    return False


def request_cost(scope: Scope) -> int:
    """Hits a request costs: 1, or one per PAGE_PER_HIT items of a big `limit` page (at most
    MAX_PAGE / PAGE_PER_HIT = 4: a bigger page is refused anyway)."""
    query = scope.get("query_string") or b""
    if b"limit=" not in query:
        return 1
    try:
        size = int(parse_qs(query.decode("latin-1")).get("limit", ["1"])[-1])
    except ValueError:
        return 1  # the endpoint answers 422
    return max(1, math.ceil(min(size, MAX_PAGE) / PAGE_PER_HIT))


# ----------------------------------------------------------------------------- middleware


class RateLimitMiddleware:
    """Charge each request to its client address and credential; 429 `rate_limited` with
    Retry-After when a limit is used up (the message names it). The exempt probe paths are not
    charged; CORS preflights never get here (the CORS middleware outside answers them)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: SharedRateLimiter,
        proxies: TrustedProxies,
        exempt: frozenset[str],
    ):
        self.app = app
        self.limiter = limiter
        self.proxies = proxies
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        address = address_key(self.proxies.client_host(scope))
        charges = self.limiter.request_charges(address, request_credentials(scope))
        try:
            await self.limiter.acharge(charges, request_cost(scope))
        except RateLimitExceeded as exc:
            await rate_limited_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """nosniff, frame denial, no referrer, a CSP (a strict one for the API, one the interactive
    docs work under, one for the web app's pages), HSTS over TLS, and `Cache-Control: no-store`
    on API answers and on any answer to a request that carries a credential."""

    def __init__(self, app: ASGIApp, *, proxies: TrustedProxies, hsts_seconds: int):
        self.app = app
        self.proxies = proxies
        self.hsts = f"max-age={hsts_seconds}; includeSubDomains".encode() if hsts_seconds else None

    def _headers(self, scope: Scope, message: Message, csp: bytes = API_CSP_RAW) -> None:
        """Set the headers on a response start message (raw header list: this runs for every
        answer, and MutableHeaders cost five times as much)."""
        no_store = scope["path"].startswith(("/v1", "/metrics")) or carries_credential(scope)
        replaced = REPLACED_WITH_NO_STORE if no_store else REPLACED
        raw = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in replaced]
        raw += ALWAYS
        raw.append((b"content-security-policy", csp))
        if self.hsts is not None and self.proxies.is_https(scope):
            raw.append((b"strict-transport-security", self.hsts))
        if no_store:
            raw.append((b"cache-control", b"no-store"))
        message["headers"] = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in DOCS_PATHS:
            await self._docs(scope, receive, send)
            return

        csp = API_CSP_RAW if scope["path"].startswith(API_PATHS) else APP_CSP_RAW

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._headers(scope, message, csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The docs pages are small HTML: hold the answer, allow exactly its inline scripts."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            hashes = "".join(
                " 'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
                for script in _INLINE_SCRIPT.findall(body)
            )
            self._headers(scope, start, DOCS_CSP.format(hashes=hashes).encode())
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)


# ----------------------------------------------------------------------------- dependency


def client_address(request: Request) -> str:
    """The key of the request's client address, as the rate limits see it (trusted proxies
    honoured, IPv6 by /64): for other per-client caps (event streams)."""
    proxies = getattr(request.app.state, "trusted_proxies", None) or TrustedProxies([])
    return address_key(proxies.client_host(request.scope))


async def get_rate_limiter(request: Request) -> SharedRateLimiter | None:
    """The app's limiter (None when COPYVAULT_RATE_LIMIT_ENABLED=false)."""
    return getattr(request.app.state, "rate_limiter", None)


# For handlers that charge more than the request itself, e.g. intake after the signature check:
# `if limiter is not None: await limiter.acharge_leader(intent.leader)`.
RateLimiterDep = Annotated[SharedRateLimiter | None, Depends(get_rate_limiter)]


# ----------------------------------------------------------------------------- installation


def create_limiter(settings: Settings) -> SharedRateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    return SharedRateLimiter(
        per_address=settings.rate_limit_per_address,
        per_credential=settings.rate_limit_per_credential,
        per_leader=settings.rate_limit_per_leader,
        interval=settings.rate_limit_sync_interval,
    )


def _document(app: FastAPI, exempt: frozenset[str], *, limited: bool) -> None:
    """Add the 429 (and, where a body is read, 408) answers to every operation of the OpenAPI
    document (by post-processing it, as FastAPI documents for extending the schema)."""
    generate = app.openapi
    descriptions = {status: r["description"] for status, r in error_responses(408, 429).items()}

    def openapi() -> dict[str, Any]:
        schema = generate()
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, operations in schema.get("paths", {}).items():
            if path in exempt:
                continue
            for method, operation in operations.items():
                statuses = ([429] if limited else []) + (
                    [408] if method in ("post", "put", "patch") else []
                )
                for status in statuses:
                    operation.setdefault("responses", {}).setdefault(
                        str(status), {"description": descriptions[status], "content": body}
                    )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template=REF))
        for name, definition in (
            ErrorBody.model_json_schema(ref_template=REF).get("$defs", {}).items()
        ):
            components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_platform(app: FastAPI, settings: Settings) -> None:
    """Add the rate limits, CORS and security headers to `app` (inside the request metrics).
    The limiter is on `app.state.rate_limiter` (None when disabled); the app's lifespan starts
    its reconciliation with the store (`limiter.start(url)`) and stops it."""
    proxies = TrustedProxies(settings.trusted_proxies)
    app.state.trusted_proxies = proxies
    limiter = create_limiter(settings)
    app.state.rate_limiter = limiter
    if limiter is not None:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=limiter,
            proxies=proxies,
            exempt=frozenset(settings.rate_limit_exempt_paths),
        )
    _document(app, frozenset(settings.rate_limit_exempt_paths), limited=limiter is not None)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=settings.api_cors_allow_credentials,
            expose_headers=["Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        SecurityHeadersMiddleware, proxies=proxies, hsts_seconds=settings.api_hsts_seconds
    )
