"""The live event stream: a polling tail of the events table (no change to the indexer needed).

`events.id` grows with every row the indexer writes, so "events with id > last sent" are exactly
the new ones, in indexing order. A reorg deletes the rows past the common ancestor and writes the
new fork's rows with higher ids in the same transaction, together with a `reorgs` row: the stream
sends a `reorg` notice (with the ancestor block) before the new fork's events, so a client drops
what it saw past that block. Reconnecting clients resume with `Last-Event-ID` (standard SSE).

Wire format (text/event-stream):

    event: indexed        id: <events.id>     data: <EventOut JSON>
    event: reorg                              data: {"ancestor_block": ..., ...}
    : keep-alive                              (a comment every 15 s)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

import anyio
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.db.models import Event, Reorg
from backend.services.vaults import event_out

BATCH: Final = 500
KEEPALIVE_SECONDS: Final = 15.0


@dataclass(frozen=True)
class StreamFilter:
    chain_id: int
    vault: str | None = None
    leader: str | None = None


@dataclass
class StreamPosition:
    event_id: int
    reorg_id: int


def _snapshot(engine: Engine) -> Session:
    """A session whose statements all read one snapshot. PostgreSQL's default (READ COMMITTED)
    reads each statement afresh: a reorg committed between the reorg query and the events query
    let the new fork's events out before their reorg notice (seen in CI). A read-only REPEATABLE
    READ transaction never fails on a conflict. SQLite's transaction is one snapshot already."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    return Session(engine)


def start_position(engine: Engine, *, chain_id: int, after: int | None) -> StreamPosition:
    """Where a new stream starts: after event `after` if given, else at the current end."""
    with _snapshot(engine) as session:
        last_event = session.scalar(select(func.max(Event.id)).where(Event.chain_id == chain_id))
        last_reorg = session.scalar(select(func.max(Reorg.id)).where(Reorg.chain_id == chain_id))
    return StreamPosition(
        event_id=after if after is not None else (last_event or 0), reorg_id=last_reorg or 0
    )


def poll(
    engine: Engine, flt: StreamFilter, position: StreamPosition
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """New reorg notices and new matching events since `position` (which is advanced)."""
    with _snapshot(engine) as session:
        reorgs = list(
            session.scalars(
                select(Reorg)
                .where(Reorg.chain_id == flt.chain_id, Reorg.id > position.reorg_id)
                .order_by(Reorg.id)
            )
        )
        if reorgs:
            # The new fork's rows may reuse ids of the rows the reorg deleted (SQLite gives a new
            # row max(id) + 1): continue from the last event the reorg kept.
            ancestor = min(r.ancestor_block for r in reorgs)
            kept = session.scalar(
                select(func.max(Event.id)).where(
                    Event.chain_id == flt.chain_id, Event.block_number <= ancestor
                )
            )
            position.event_id = min(position.event_id, kept or 0)
        # The newest id of the snapshot: the position advances to it and no further.
        newest = session.scalar(select(func.max(Event.id)).where(Event.chain_id == flt.chain_id))
        events: list[Event] = []
        if newest is not None and newest > position.event_id:
            query = select(Event).where(
                Event.chain_id == flt.chain_id,
                Event.id > position.event_id,
                Event.id <= newest,
            )
            if flt.vault is not None:
                query = query.where(Event.vault == flt.vault)
            if flt.leader is not None:
                query = query.where(Event.leader == flt.leader)
            events = list(session.scalars(query.order_by(Event.id).limit(BATCH)))
    notices = [
        {
            "ancestor_block": r.ancestor_block,
            "old_block_number": r.old_block_number,
            "old_block_hash": r.old_block_hash,
            "events_removed": r.events_removed,
            "detected_at": r.detected_at.isoformat(),
        }
        for r in reorgs
    ]
    if reorgs:
        position.reorg_id = reorgs[-1].id
    out = [event_out(e).model_dump(mode="json") for e in events]
    if len(events) == BATCH:
        position.event_id = events[-1].id
    elif newest is not None:
        # Past rows the filter skipped too, so the next poll does not scan them again.
        position.event_id = max(position.event_id, newest)
    return notices, out


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


async def event_stream(
    engine: Engine,
    flt: StreamFilter,
    position: StreamPosition,
    *,
    interval: float,
    clock: Callable[[], float] = anyio.current_time,
) -> AsyncIterator[str]:
    """Server-sent events until the client goes away (the response cancels this generator)."""
    yield "retry: 2000\n\n"
    last_sent = clock()
    while True:
        notices, events = await anyio.to_thread.run_sync(poll, engine, flt, position)
        for notice in notices:
            yield sse("reorg", notice)
        for item in events:
            yield sse("indexed", item, item["id"])
        if notices or events:
            last_sent = clock()
        elif clock() - last_sent >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = clock()
        if len(events) < BATCH:
            await anyio.sleep(interval)
