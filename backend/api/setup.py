"""`install_api(app, settings)`: everything the read API adds to the app created by
`create_app` (routers, error handlers, the body size and time limit, rate limits, CORS, security
headers, request metrics, /metrics)."""

from __future__ import annotations

from fastapi import FastAPI

from backend.api.auth import ApiKeyGate
from backend.api.errors import install_error_handlers
from backend.api.extras import create_extras
from backend.api.middleware import BodySizeLimitMiddleware, RequestMetricsMiddleware
from backend.api.platform import install_platform
from backend.api.routes import (
    audit,
    auditor,
    auth,
    compliance,
    deployment,
    eip712,
    health,
    intents,
    leaders,
    metrics,
    operators,
    proposals,
    stream,
    vaults,
)
from backend.config import Settings


def install_api(app: FastAPI, settings: Settings, *, prefix: str) -> None:
    extras = create_extras(app, settings)
    install_error_handlers(app)
    # Request bodies that may carry personal data (KYC): validation errors never echo their keys.
    app.state.private_input_paths = (f"{prefix}{compliance.router.prefix}/",)
    routers = (intents, vaults, leaders, proposals, stream, auth, operators, eip712, audit)
    for module in (*routers, compliance, auditor, deployment):
        app.include_router(module.router, prefix=prefix)
    app.include_router(metrics.router)
    # The full route template ("/v1/vaults/{vault}") for the request metrics' `route` label: an
    # included router's routes only know their own path.
    for router, router_prefix in (
        (health.router, prefix),
        (intents.router, prefix),
        (vaults.router, prefix),
        (leaders.router, prefix),
        (proposals.router, prefix),
        (stream.router, prefix),
        (auth.router, prefix),
        (operators.router, prefix),
        (eip712.router, prefix),
        (audit.router, prefix),
        (compliance.router, prefix),
        (auditor.router, prefix),
        (deployment.router, prefix),
        (metrics.router, ""),
    ):
        for route in router.routes:
            route.metrics_template = router_prefix + route.path  # type: ignore[attr-defined]
    # Identity: an API key anywhere but POST /v1/intents is refused before routing; every use of
    # a key is recorded after its answer.
    app.add_middleware(ApiKeyGate, intents_path=f"{prefix}/intents")
    # Added last = outermost: metrics see every answer, 413s and 429s included.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.api_max_body_bytes,
        timeout=settings.api_body_timeout,
    )
    install_platform(app, settings)  # rate limits, CORS, security headers
    app.add_middleware(RequestMetricsMiddleware, metrics=extras.metrics)
