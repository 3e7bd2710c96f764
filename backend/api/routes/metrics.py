"""GET /metrics: Prometheus text exposition of the app's registry (see backend/api/metrics.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.extras import ExtrasDep

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(extras: ExtrasDep) -> Response:
    """Prometheus metrics: request counts and latency by route, indexer lag, events indexed,
    reorgs handled, and the store's totals."""
    return Response(generate_latest(extras.metrics.registry), media_type=CONTENT_TYPE_LATEST)
