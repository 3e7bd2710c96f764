"""Rate limits shared by every API process of one deployment, over the deployment's store.

The rate strings ("600/minute", "20/second;600/minute"), the rate items and their keys are the
`limits` library's (`limits.parse_many`, `RateLimitItem.key_for`), and the counters implement its
sliding-window-counter storage interface (`SlidingWindowCounterSupport`), so its
`SlidingWindowCounterRateLimiter` runs over them unchanged (`SharedRateLimiter.strategy`; a test
checks it agrees with `decide`, which does the same weighting for all of a request's limits in one
step under one lock: a third of the time). The storage is shared by every process without a store
write per request:

- each process counts the hits it admits in memory, per limit key and window (windows are aligned
  to the epoch, so every process computes the same ones);
- a background thread reconciles every `interval` seconds (0.1 by default): one upsert of this
  process's absolute count per key that changed (its own rows only: `rate_limit_hits`), then one
  read of the other processes' rows that changed since its last read (so the cost follows the
  rate of change, not the number of keys);
- a decision weighs the other processes' counts as of the last reconciliation plus this process's
  own exact count (the sliding window counter: the previous window's count weighted by how much of
  it still overlaps the last `window` seconds, plus the current window's).

**Over-admission bound.** What a process does not see when it decides is what the other processes
admitted since their last upsert before its last read. To keep that small whatever the request
rate, a process stops admitting for a key once `share` = ceil(limit / SHARE_DIVISOR) hits of it
are not yet written (a request beyond waits for the next reconciliation, about `interval` seconds;
only a key that uses a twentieth of its limit within 0.1 s ever waits). A request costs `c` hits
(1, up to 4 for a big page), so at most `share + c - 1` hits are ever unwritten. With P processes
reconciling on time, the hits admitted for one key in one window are at most

    limit + 3 * (P - 1) * (share + c - 1)     (600/minute, 2 processes, c = 1: 600 + 90 = 690)

(each other process: up to that many not yet written, as many written after my last read, and as
many again for the jitter between two processes' reconciliations). Whatever the timing, no process
ever admits more than `limit` itself, so the hard ceiling is P * limit. If the store cannot be
reached, each process goes on limiting alone on its own counts (the hard ceiling) and says so in
the log once a minute.

Seams for other parts: `SharedRateLimiter.charge_leader(leader)` (per leader, after an intent's
signature is checked) and `SharedRateLimiter.charge_principal(principal, rate)` (a principal at its
own rate, e.g. an API key's `rate_per_minute`); both raise `RateLimitExceeded`, which the API
answers with 429 `rate_limited` and Retry-After.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.storage.base import SlidingWindowCounterSupport
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.db.engine import StoreLimits, create_store_engine, write_transaction
from backend.db.rate_limit_models import RateLimitHit
from backend.exceptions import CopyvaultError

log = logging.getLogger(__name__)

# A process admits at most 1/SHARE_DIVISOR of a limit for one key between two reconciliations.
SHARE_DIVISOR = 20
# Reconciliation is considered healthy while the last success is at most this many intervals old;
# beyond, requests stop waiting for it (each process limits on its own counts).
HEALTHY_INTERVALS = 10
# Rows past their expiry are deleted about this often (seconds).
CLEANUP_SECONDS = 5.0
# Each read of the other processes' rows re-reads this much before the last one (milliseconds): a
# row stamped before that read but committed after it is still seen.
READ_OVERLAP_MS = 5_000
# Identifiers whose limit keys one limit remembers (then it starts over).
KEY_CACHE_SIZE = 65_536
# A request waits at most this many reconciliations for its share before it is refused.
MAX_WAITS = 5
# The limiter's own small pool: its statements are short and never wait long.
LIMITER_STORE_LIMITS = StoreLimits(
    pool_size=1,
    max_overflow=1,
    pool_timeout=2.0,
    statement_timeout_ms=2_000,
    lock_timeout_ms=1_000,
    busy_timeout_ms=2_000,
)
WARN_EVERY_SECONDS = 60.0


class RateLimitExceeded(CopyvaultError):
    """A limit is used up: `limit` names which ("per client address"), `retry_after` is in whole
    seconds. The API answers it with 429 `rate_limited` and a Retry-After header."""

    def __init__(self, limit: str, item: RateLimitItem, retry_after: int):
        self.limit = limit
        self.item = item
        self.retry_after = retry_after
        super().__init__(
            f"rate limit {limit} reached ({item.amount} per {_window_name(item)}): "
            f"retry after {retry_after} s, and send fewer requests"
        )


def _window_name(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


@lru_cache(maxsize=1024)
def parse_rate(rate: str) -> tuple[RateLimitItem, ...]:
    """'600/minute' or '20/second;600/minute' as rate items (ValueError if not a rate)."""
    items = tuple(parse_many(rate))
    if not items:
        raise ValueError(f"{rate!r} names no rate; write e.g. 600/minute or 20/second;600/minute")
    return items


def credential_digest(credential: str) -> str:
    """The key a credential (bearer token, session cookie) is limited under: never the secret."""
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


# ----------------------------------------------------------------------------- storage


TAKEN, FULL, SHARE_USED = 0, 1, 2


def _windows(expiry: int, now: float) -> tuple[int, int]:
    """(previous window's end, current window's end), epoch seconds, aligned for every process."""
    current_end = (int(now) // expiry + 1) * expiry
    return current_end - expiry, current_end


class SharedWindowStorage(Storage, SlidingWindowCounterSupport):
    """Sliding-window counters for `limits`: this process's exact counts plus the other processes'
    as of the last `reconcile` (see the module docstring). Thread-safe; no I/O but `reconcile`."""

    STORAGE_SCHEME = ["copyvault-shared"]

    def __init__(self, process: str | None = None):
        super().__init__()
        self.process = process or secrets.token_hex(8)
        self.lock = threading.RLock()
        self._own: dict[tuple[str, int], int] = {}
        self._written: dict[tuple[str, int], int] = {}
        # (key, window end) -> the other processes' hits, summed from `_other_rows`:
        # (key, window end, process) -> (hits, expires at), as last read.
        self._others: dict[tuple[str, int], int] = {}
        self._other_rows: dict[tuple[str, int, str], tuple[int, int]] = {}
        self._read_mark = 0  # epoch ms at which the last read of the others' rows started
        self._next_forget = 0.0
        self._expiry: dict[str, int] = {}  # key -> window length
        self._seen: dict[str, float] = {}  # key -> when it last mattered (epoch seconds)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ()

    # ------------------------------------------------------------------ counts

    def _count(self, key: str, window_end: int) -> int:
        return self._own.get((key, window_end), 0) + self._others.get((key, window_end), 0)

    def _note(self, key: str, expiry: int, now: float) -> None:
        self._expiry[key] = expiry
        self._seen[key] = now

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        with self.lock:
            self._note(key, expiry, now)
            previous_end, current_end = _windows(expiry, now)
            return (
                self._count(key, previous_end),
                current_end - now,  # how much of the previous window still weighs
                self._count(key, current_end),
                current_end - now + expiry,
            )

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        now = time.time()
        with self.lock:
            self._note(key, expiry, now)
            previous_end, current_end = _windows(expiry, now)
            weighted = self._count(key, previous_end) * (current_end - now) / expiry + self._count(
                key, current_end
            )
            if weighted + amount > limit:
                return False
            self._own[(key, current_end)] = self._own.get((key, current_end), 0) + amount
            return True

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        self.clear(key)

    def take(self, key: str, limit: int, expiry: int, amount: int, share: int, now: float) -> int:
        """The request path's one call per rate item (the caller holds `lock`): TAKEN (counted),
        FULL (the sliding window has no room for `amount`) or SHARE_USED (room, but `share` hits
        of this key are not yet written: wait for a reconciliation; `share` 0 never waits).
        The same weighting as `acquire_sliding_window_entry`, in one step."""
        self._expiry[key] = expiry
        self._seen[key] = now
        current_end = (int(now) // expiry + 1) * expiry
        entry = (key, current_end)
        own = self._own.get(entry, 0)
        current = own + self._others.get(entry, 0)
        previous_entry = (key, current_end - expiry)
        previous = self._own.get(previous_entry, 0) + self._others.get(previous_entry, 0)
        if previous * (current_end - now) / expiry + current + amount > limit:
            return FULL
        if share and own - self._written.get(entry, 0) >= share:
            return SHARE_USED
        self._own[entry] = own + amount
        return TAKEN

    def give_back(self, key: str, expiry: int, amount: int, now: float) -> None:
        """Undo a `take` made at `now` (another item of the same request refused it)."""
        entry = (key, (int(now) // expiry + 1) * expiry)
        self._own[entry] -= amount

    def retry_after(self, key: str, expiry: int, limit: int, cost: int) -> int:
        """Whole seconds until `cost` more hits fit under `limit` if nothing else is admitted."""
        now = time.time()
        with self.lock:
            previous_end, current_end = _windows(expiry, now)
            previous = self._count(key, previous_end)
            current = self._count(key, current_end)
        left = current_end - now
        room = limit - cost
        wait = 1.0
        if current <= room and previous > 0:
            # Within this window: the previous window's weight shrinks until the hits fit.
            wait = left - (room - current) * expiry / previous
        if (current > room or wait > left) and current > 0:
            # In the next window, the current one's weight shrinks instead.
            wait = left + expiry - max(room, 0) * expiry / current
        return max(1, math.ceil(wait))

    # ------------------------------------------------------------------ Storage (fixed windows
    # are not used; these keep the interface whole for `limits`)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.lock:
            self._note(key, expiry, now)
            current_end = _windows(expiry, now)[1]
            self._own[(key, current_end)] = self._own.get((key, current_end), 0) + amount
            return self._count(key, current_end)

    def get(self, key: str) -> int:
        with self.lock:
            expiry = self._expiry.get(key)
            if expiry is None:
                return 0
            return self._count(key, _windows(expiry, time.time())[1])

    def get_expiry(self, key: str) -> float:
        with self.lock:
            expiry = self._expiry.get(key, 1)
        return float(_windows(expiry, time.time())[1])

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self.lock:
            count = len(self._own)
            self._own.clear()
            self._written.clear()
            self._others.clear()
            self._other_rows.clear()
        return count

    def clear(self, key: str) -> None:
        with self.lock:
            for table in (self._own, self._written, self._others, self._other_rows):
                for entry in [e for e in table if e[0] == key]:
                    del table[entry]

    # ------------------------------------------------------------------ reconciliation

    def _forget_expired(self, now: float) -> None:
        """Drop counts whose window no longer weighs (at most once a second: it is O(keys))."""
        if now < self._next_forget:
            return
        self._next_forget = now + 1.0
        for table in (self._own, self._written):
            for entry in [e for e in table if e[1] + self._expiry.get(e[0], 0) < now]:
                del table[entry]
        for entry in [e for e, (_, expires) in self._other_rows.items() if expires < now]:
            del self._other_rows[entry]
            self._others.pop(entry[:2], None)
        for key in [k for k, seen in self._seen.items() if seen + 2 * self._expiry[k] < now]:
            del self._seen[key]
            if not any(e[0] == key for e in self._own):
                self._expiry.pop(key, None)

    def reconcile(self, engine: Engine) -> None:
        """Upsert this process's changed counts, then read the other processes' rows changed since
        the last read (with READ_OVERLAP_MS of overlap for transactions that committed late): one
        statement each, whatever the number of keys. Raises on store errors (the caller logs)."""
        now = time.time()
        with self.lock:
            self._forget_expired(now)
            changed = {e: n for e, n in self._own.items() if self._written.get(e) != n}
            expiries = {key: self._expiry[key] for key, _ in changed}
        if changed:
            stamp = int(time.time() * 1000)
            rows = [
                {
                    "key": key,
                    "window_end": window_end,
                    "process": self.process,
                    "hits": hits,
                    "expires_at": window_end + expiries[key],
                    "updated_ms": stamp,
                }
                for (key, window_end), hits in changed.items()
            ]
            with write_transaction(engine) as conn:
                conn.execute(_upsert(engine), rows)
        read_started = int(time.time() * 1000)
        statement = select(
            RateLimitHit.key,
            RateLimitHit.window_end,
            RateLimitHit.process,
            RateLimitHit.hits,
            RateLimitHit.expires_at,
        ).where(
            RateLimitHit.process != self.process,
            RateLimitHit.updated_ms > self._read_mark - READ_OVERLAP_MS,
            RateLimitHit.expires_at >= int(now),
        )
        with engine.connect() as conn:
            found = conn.execute(statement).all()
        with self.lock:
            self._written.update(changed)
            for key, window_end, process, hits, expires_at in found:
                entry = (key, int(window_end), process)
                before = self._other_rows.get(entry, (0, 0))[0]
                self._other_rows[entry] = (int(hits), int(expires_at))
                pair = entry[:2]
                self._others[pair] = self._others.get(pair, 0) + int(hits) - before
            self._read_mark = read_started


def _upsert(engine: Engine):
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(RateLimitHit)
    return statement.on_conflict_do_update(
        index_elements=["key", "window_end", "process"],
        set_={"hits": statement.excluded.hits, "updated_ms": statement.excluded.updated_ms},
    )


def delete_expired(engine: Engine, now: float) -> None:
    """Delete every process's rows whose window no longer matters (dead processes' included)."""
    with write_transaction(engine) as conn:
        conn.execute(delete(RateLimitHit).where(RateLimitHit.expires_at < int(now)))


# ----------------------------------------------------------------------------- the limiter


@dataclass(frozen=True)
class Limit:
    """A named limit ("per client address") with its rate items; `kind` ("address") keeps the
    keys of different limits apart."""

    name: str
    kind: str
    items: tuple[RateLimitItem, ...]
    # identifier -> ((item, key, window seconds, share), ...): `limits`' key strings cost more to
    # build than the decision itself, so each identifier's are built once (bounded).
    _keys: dict[str, tuple[tuple[RateLimitItem, str, int, int], ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def parse(cls, name: str, kind: str, rate: str) -> Limit:
        return cls(name, kind, parse_rate(rate))

    def keys(self, identifier: str) -> tuple[tuple[RateLimitItem, str, int, int], ...]:
        found = self._keys.get(identifier)
        if found is None:
            if len(self._keys) >= KEY_CACHE_SIZE:
                self._keys.clear()
            found = self._keys[identifier] = tuple(
                (
                    item,
                    item.key_for(self.kind, identifier),
                    item.get_expiry(),
                    math.ceil(item.amount / SHARE_DIVISOR),
                )
                for item in self.items
            )
        return found


@dataclass(frozen=True)
class Charge:
    """One limit charged against one identifier (a client address, a credential digest...)."""

    limit: Limit
    identifier: str


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    wait: bool = False
    refusal: RateLimitExceeded | None = None


ADMITTED = Verdict(admitted=True)
WAIT = Verdict(admitted=False, wait=True)


class SharedRateLimiter:
    """The rate limits of one API process, shared with the deployment's other processes through
    the store (`start(url)` begins reconciling; without it the limits hold for this process only).
    """

    def __init__(
        self,
        *,
        per_address: str,
        per_credential: str,
        per_leader: str,
        interval: float = 0.1,
        storage: SharedWindowStorage | None = None,
    ):
        self.per_address = Limit.parse("per client address", "address", per_address)
        self.per_credential = Limit.parse("per credential", "credential", per_credential)
        self.per_leader = Limit.parse("per leader", "leader", per_leader)
        self.interval = interval
        self.storage = storage or SharedWindowStorage()
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._principal_limits: dict[tuple[str, str], Limit] = {}
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._synced = threading.Condition()
        self.generation = 0  # reconciliations done
        self.last_success = 0.0  # monotonic time of the last successful reconciliation
        self._last_warning = -math.inf
        self._quiet_failures = 0

    # ------------------------------------------------------------------ life cycle

    def start(self, url: str) -> None:
        """Reconcile with the store at `url` every `interval` seconds, in a daemon thread."""
        self._engine = create_store_engine(url, LIMITER_STORE_LIMITS)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rate-limits", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self._engine is not None:
            try:
                self.storage.reconcile(self._engine)  # hand the last counts to the others
            except Exception:  # noqa: BLE001 - shutting down: nothing to do about it
                pass
            self._engine.dispose()
            self._engine = None

    def _run(self) -> None:
        assert self._engine is not None
        next_cleanup = time.monotonic() + CLEANUP_SECONDS
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.storage.reconcile(self._engine)
                if started >= next_cleanup:
                    delete_expired(self._engine, time.time())
                    next_cleanup = started + CLEANUP_SECONDS
                self.last_success = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the store may be down: limit locally
                self._warn(exc)
            with self._synced:
                self.generation += 1
                self._synced.notify_all()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning < WARN_EVERY_SECONDS:
            self._quiet_failures += 1
            return
        more = f" ({self._quiet_failures} more since the last line)" if self._quiet_failures else ""
        self._last_warning, self._quiet_failures = now, 0
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning(
            "rate limits: cannot reconcile with the store (%s); limiting on this process's "
            "counts only%s",
            first_line,
            more,
        )

    @property
    def shared(self) -> bool:
        """Whether the counts are being reconciled (recently and successfully) with the store."""
        return (
            self._thread is not None
            and time.monotonic() - self.last_success <= HEALTHY_INTERVALS * self.interval
        )

    # ------------------------------------------------------------------ decisions

    def decide(self, charges: Sequence[Charge], cost: int = 1) -> Verdict:
        """Admit `cost` hits against every charge, or refuse naming the first limit used up, or
        ask the caller to wait for the next reconciliation (this process's share is used).
        All or nothing: a refused request is not counted against any of its limits."""
        storage = self.storage
        now = time.time()
        waits = self.shared
        taken: list[tuple[str, int, int]] = []
        with storage.lock:
            for charge in charges:
                for item, key, expiry, share in charge.limit.keys(charge.identifier):
                    spent = min(cost, item.amount)
                    outcome = storage.take(
                        key, item.amount, expiry, spent, share if waits else 0, now
                    )
                    if outcome == TAKEN:
                        taken.append((key, expiry, spent))
                        continue
                    for undo in taken:
                        storage.give_back(*undo, now)
                    if outcome == SHARE_USED:
                        return WAIT
                    retry = storage.retry_after(key, expiry, item.amount, spent)
                    return Verdict(False, refusal=RateLimitExceeded(charge.limit.name, item, retry))
        return ADMITTED

    def _refuse_after_waiting(self, charges: Sequence[Charge]) -> RateLimitExceeded:
        first = charges[0]
        return RateLimitExceeded(first.limit.name, first.limit.items[0], 1)

    async def acharge(self, charges: Sequence[Charge], cost: int = 1) -> None:
        """`decide`, waiting (without blocking the event loop) for reconciliations while this
        process's share is used; raises RateLimitExceeded when refused."""
        for _ in range(MAX_WAITS):
            verdict = self.decide(charges, cost)
            if verdict.admitted:
                return
            if verdict.refusal is not None:
                raise verdict.refusal
            seen = self.generation
            deadline = time.monotonic() + 3 * self.interval
            while self.generation == seen and time.monotonic() < deadline:
                await asyncio.sleep(self.interval / 4)
        raise self._refuse_after_waiting(charges)

    def charge(self, charges: Sequence[Charge], cost: int = 1) -> None:
        """`acharge` for threads (a handler running in the thread pool)."""
        for _ in range(MAX_WAITS):
            verdict = self.decide(charges, cost)
            if verdict.admitted:
                return
            if verdict.refusal is not None:
                raise verdict.refusal
            with self._synced:
                seen = self.generation
                self._synced.wait_for(
                    lambda s=seen: self.generation != s, timeout=3 * self.interval
                )
        raise self._refuse_after_waiting(charges)

    # ------------------------------------------------------------------ seams

    def charge_leader(self, leader: str, cost: int = 1) -> None:
        """Charge one intent to `leader` (an address; any case). Call it after the intent's
        signature is checked, so nobody can spend another leader's budget. Raises
        RateLimitExceeded (429 rate_limited)."""
        self.charge([Charge(self.per_leader, leader.lower())], cost)

    async def acharge_leader(self, leader: str, cost: int = 1) -> None:
        """`charge_leader` for the event loop (an `async def` handler)."""
        await self.acharge([Charge(self.per_leader, leader.lower())], cost)

    def charge_principal(self, principal: str, rate: str | int, cost: int = 1) -> None:
        """Charge `principal` (e.g. "apikey:<id>") at its own `rate` ("120/minute", or an int:
        hits per minute, e.g. an API key's `rate_per_minute`). Raises RateLimitExceeded."""
        self.charge([self._principal(principal, rate)], cost)

    async def acharge_principal(self, principal: str, rate: str | int, cost: int = 1) -> None:
        """`charge_principal` for the event loop."""
        await self.acharge([self._principal(principal, rate)], cost)

    def _principal(self, principal: str, rate: str | int) -> Charge:
        text = f"{rate}/minute" if isinstance(rate, int) else rate
        limit = self._principal_limits.get((principal, text))
        if limit is None:
            if len(self._principal_limits) >= KEY_CACHE_SIZE:
                self._principal_limits.clear()
            limit = Limit.parse(f"of {principal}", "principal", text)
            self._principal_limits[(principal, text)] = limit
        return Charge(limit, principal)

    def request_charges(self, address: str, credentials: Sequence[str] = ()) -> list[Charge]:
        """What one API request is charged: its client address and each credential it carries."""
        charges = [Charge(self.per_address, address)]
        charges += [Charge(self.per_credential, credential_digest(c)) for c in credentials]
        return charges
