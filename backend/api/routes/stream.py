"""GET /v1/stream: newly indexed events as server-sent events, filterable by vault and leader."""

from __future__ import annotations

import re
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from backend.api.deps import StateDep
from backend.api.errors import InvalidCursorError, error_responses
from backend.api.extras import ExtrasDep
from backend.api.platform import client_address
from backend.api.schemas import AddressIn
from backend.services.stream import StreamFilter, event_stream, start_position

router = APIRouter(tags=["stream"])

MAX_EVENT_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": (
                "text/event-stream: `event: indexed` (id = the event's stream position, data = "
                "the event as in /vaults/{vault}/events), `event: reorg` (data: ancestor_block "
                "and what was removed: drop what you saw past that block), keep-alive comments."
            ),
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **error_responses(400, 422, 503),
    },
)
async def stream(
    request: Request,
    state: StateDep,
    extras: ExtrasDep,
    vault: Annotated[AddressIn | None, Query(description="Only this vault's events.")] = None,
    leader: Annotated[
        AddressIn | None, Query(description="Only events naming this leader.")
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_EVENT_ID, description="Start after this event id (default: now)."),
    ] = None,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="SSE resume position.")
    ] = None,
) -> StreamingResponse:
    """Live stream of events as the indexer stores them. Without `after` (or a Last-Event-ID
    header, which reconnecting EventSource clients send) it starts with the next new event."""
    if last_event_id is not None and after is None:
        if not _DIGITS.fullmatch(last_event_id.strip()) or int(last_event_id) > MAX_EVENT_ID:
            raise InvalidCursorError(
                "the Last-Event-ID header must be the id of an event this stream sent"
            )
        after = int(last_event_id)
    chain_id = state.deployment.chain_id
    client = client_address(request)
    extras.streams.take(client)
    try:
        position = await anyio.to_thread.run_sync(
            lambda: start_position(state.engine, chain_id=chain_id, after=after)
        )
    except BaseException:
        extras.streams.give_back(client)
        raise
    body = event_stream(
        state.engine,
        StreamFilter(chain_id=chain_id, vault=vault, leader=leader),
        position,
        interval=extras.settings.api_stream_poll_interval,
    )
    return StreamingResponse(
        extras.streams.held_while(client, body),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
