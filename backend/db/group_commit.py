"""Group commit: the rows that concurrent requests of one process insert, written together.

A request that has a row to store calls `GroupCommitter.insert(values)` from its own thread and
waits. The first waiting thread to take the committer's lock writes every row queued so far (its
own among them, at most `max_rows`) in one transaction with ``INSERT .. ON CONFLICT DO NOTHING ..
RETURNING``, hands each waiting thread its answer and lets the next one in; rows queued while that
transaction ran form the next group. So under load a transaction (and, on SQLite, a turn at the
database's write lock; on PostgreSQL a WAL flush) serves many requests instead of one, while each
request still returns only after its own row is committed. On PostgreSQL the group's one
statement runs in autocommit, its own transaction (atomic, and flushed to the WAL before it
returns), so a group costs one round trip instead of BEGIN, INSERT and COMMIT; SQLite's group
takes the write lock at BEGIN IMMEDIATE, as every writer there does.

Uniqueness stays the store's business: a row whose unique key is already stored (committed by
another process, or by an earlier group) is skipped by ON CONFLICT DO NOTHING, and a second row
with the same key in one group is not sent at all; `insert` answers False for both. A failed
transaction fails every request of its group with the same exception, as if each had run its own.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.engine import autocommit_engine, write_transaction

# An intent row has 19 columns: 64 rows are 1,216 bound parameters, far below SQLite's 32,766.
DEFAULT_MAX_ROWS = 64

_DIALECT_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


class _Waiter:
    __slots__ = ("values", "key", "stored", "error", "done")

    def __init__(self, values: Mapping[str, Any], key: tuple) -> None:
        self.values = values
        self.key = key
        self.stored = False
        self.error: BaseException | None = None
        self.done = False


class GroupCommitter:
    """Inserts rows of `table` for many threads, one transaction per group of waiting rows.

    `unique` names the columns of the unique constraint that decides "already stored"."""

    def __init__(
        self, engine: Engine, table: Table, unique: Sequence[str], max_rows: int = DEFAULT_MAX_ROWS
    ) -> None:
        if engine.dialect.name not in _DIALECT_INSERTS:
            raise ValueError(f"group commit needs SQLite or PostgreSQL, not {engine.dialect.name}")
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self._engine = engine
        self._autocommit = autocommit_engine(engine)  # PostgreSQL only
        self._unique = tuple(unique)
        self._max_rows = max_rows
        self._statement = (
            _DIALECT_INSERTS[engine.dialect.name](table)
            .on_conflict_do_nothing(index_elements=[table.c[name] for name in self._unique])
            .returning(*(table.c[name] for name in self._unique))
        )
        self._queue: list[_Waiter] = []
        self._queue_guard = threading.Lock()
        self._commit_lock = threading.Lock()
        # What a test or the bench reads: transactions run and rows sent.
        self.transactions = 0
        self.rows = 0

    def insert(self, values: Mapping[str, Any]) -> bool:
        """Store one row; True once it is committed, False if its unique key was already there.
        Raises what the group's transaction raised."""
        waiter = _Waiter(values, tuple(values[name] for name in self._unique))
        with self._queue_guard:
            self._queue.append(waiter)
        while not waiter.done:
            with self._commit_lock:
                if waiter.done:  # a thread before us wrote our row with its group
                    break
                with self._queue_guard:
                    group = self._queue[: self._max_rows]
                    del self._queue[: self._max_rows]
                self._commit(group)
        if waiter.error is not None:
            raise waiter.error
        return waiter.stored

    def _transaction(self) -> AbstractContextManager[Connection]:
        """Where the group's one INSERT statement runs, committed when the block ends."""
        if self._autocommit is not None:
            return self._autocommit.connect()  # the statement commits itself
        return write_transaction(self._engine)

    def _commit(self, group: list[_Waiter]) -> None:
        first: dict[tuple, _Waiter] = {}  # a key twice in one group: only its first row is sent
        for waiter in group:
            first.setdefault(waiter.key, waiter)
        try:
            with self._transaction() as conn:
                inserted = conn.execute(self._statement, [w.values for w in first.values()]).all()
            stored = {tuple(row) for row in inserted}
            for key, waiter in first.items():
                waiter.stored = key in stored
            self.transactions += 1
            self.rows += len(first)
        except BaseException as exc:
            for waiter in group:
                waiter.error = exc
            if not isinstance(exc, Exception):  # KeyboardInterrupt and the like: this thread too
                raise
        finally:
            for waiter in group:
                waiter.done = True


_committers: weakref.WeakKeyDictionary[Engine, dict[str, GroupCommitter]] = (
    weakref.WeakKeyDictionary()
)
_committers_guard = threading.Lock()


def group_committer(engine: Engine, table: Table, unique: Sequence[str]) -> GroupCommitter:
    """The process's committer for `table` on `engine` (made on first use)."""
    per_engine = _committers.get(engine)
    committer = per_engine.get(table.name) if per_engine is not None else None
    if committer is not None:
        return committer
    with _committers_guard:
        per_engine = _committers.setdefault(engine, {})
        if table.name not in per_engine:
            per_engine[table.name] = GroupCommitter(engine, table, unique)
        return per_engine[table.name]
