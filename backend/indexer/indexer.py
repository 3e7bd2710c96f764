"""The indexer: follows a copyvault deployment's events into the store.

Guarantees (see docs/backend.md for the reasoning):

- **Confirmations.** Only blocks at least `confirmations` below the head are indexed.
- **Complete ranges.** A block range is fetched with `eth_getLogs` filtered by the factory,
  registry, router, oracle and every known vault. Vaults created inside the range (found from the
  factory's VaultCreated logs) are fetched for the same range before anything is written, so a vault
  created and used in one range loses nothing (its initialisation events even come before the
  VaultCreated log in the same transaction).
- **Consistent ranges.** The range's last block header is read before and after the logs; if its
  hash changed (or logs of one block disagree on its hash) the chain moved underneath and the range
  is fetched again. The range's first block header is read in between.
- **Linked ranges.** A range is written only if its first block's parent hash is the stored hash of
  the block before it (the cursor), so the index is one chain of blocks: a break, whenever it is
  seen (at the start of a sync, between two ranges of a catch-up, or inside a reorg's own
  re-index), is a reorg and is rolled back as below. Each range's first and last blocks are stored
  with their parent hashes.
- **Atomic progress.** The range's events, its derived rows and the cursor (last block and its hash)
  are written in one transaction. The cursor update is conditional on the cursor not having moved,
  so two indexers on one store cannot interleave. A crash leaves the store at the last committed
  range: the restart resumes there, with no gap and no duplicate (unique on chain id, transaction
  hash and log index).
- **Reorgs.** Before each sync the stored hash of the cursor block is compared with the node's,
  and every range is linked to the cursor as above. On a mismatch or a broken link the newest
  stored block whose hash the node still has is the common ancestor; in one transaction the events
  past it are deleted (per-event rows with them), the vaults, leaders and platform settings they
  touched are recomputed from the remaining events, and the blocks up to the old cursor height are
  indexed again from the new chain.
- **Adaptive ranges.** A range the node refuses as too large is halved; successful ranges grow
  toward about `logs_per_request` logs per answer, up to `block_range_max` blocks.
- **Unavailable node.** Requests are retried with backoff (`ChainClient`); when the node stays
  down the sync fails before writing, so the cursor never passes a block that was not indexed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, select, update

from backend.chain.artifacts import Artifacts
from backend.chain.artifacts import load as load_artifacts
from backend.chain.client import BlockHeader, ChainClient
from backend.chain.deploy import Deployment
from backend.db.engine import is_store_outage, outage_reason, write_transaction
from backend.db.models import (
    PER_EVENT_TABLES,
    Block,
    Event,
    IndexerCursor,
    Reorg,
    Vault,
)
from backend.exceptions import (
    ChainLinkBrokenError,
    CopyvaultError,
    IndexerError,
    RangeTooLargeError,
    ReorgDuringFetchError,
    StoreError,
)
from backend.indexer.decoder import DecodedLog, LogDecoder
from backend.indexer.oracle_answers import OracleSampler
from backend.indexer.projector import PLATFORM_EVENTS, Projector, rebuild_entities

log = logging.getLogger(__name__)

# Stored blocks compared per batch request when looking for the common ancestor (then doubling).
ANCESTOR_WINDOW: Final = 64
MAX_ERROR_BACKOFF: Final = 30.0
# Ranges after a refusal during which the range does not grow back to the refused size.
RANGE_CEILING_RANGES: Final = 50
# Times one reorg is handled from the start when the chain changes again during its re-index.
REORG_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class IndexerConfig:
    confirmations: int = 2
    poll_interval: float = 1.0
    block_range_initial: int = 2_000
    block_range_max: int = 100_000
    logs_per_request: int = 10_000
    address_chunk: int = 1_000
    # Feed answers are kept at least this often (blocks) for vault value over time.
    oracle_sample_blocks: int = 50

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> IndexerConfig:
        values = {
            "confirmations": settings.confirmations,
            "poll_interval": settings.poll_interval,
            "block_range_initial": settings.block_range_initial,
            "block_range_max": settings.block_range_max,
            "logs_per_request": settings.logs_per_request,
            "address_chunk": settings.address_chunk,
            "oracle_sample_blocks": settings.oracle_sample_blocks,
        }
        return cls(**(values | overrides))


@dataclass
class IndexerStats:
    """Counters and timings of one indexer (health, metrics and the benchmark read them)."""

    events: int = 0
    ranges: int = 0
    reorgs: int = 0
    range_too_large: int = 0
    refetches: int = 0
    errors: int = 0
    head: int | None = None
    cursor: int | None = None
    last_error: str | None = None
    last_sync_at: float | None = None
    running: bool = False
    # Where the time goes: eth_getLogs (transport and JSON), block headers, decoding, inserting
    # events and blocks, deriving state (projector), committing.
    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("rpc_logs", "rpc_headers", "decode", "db_events", "db_derived", "db_commit"), 0.0
        )
    )

    def add_time(self, what: str, started: float) -> None:
        self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - started

    @property
    def lag(self) -> int | None:
        if self.head is None or self.cursor is None:
            return None
        return max(0, self.head - self.cursor)


@dataclass
class _Fetched:
    start: int
    end: int
    start_header: BlockHeader
    end_header: BlockHeader
    logs: list[dict[str, Any]]
    new_vaults: list[str]


class Indexer:
    """Indexes one deployment on one chain into one store. Not thread-safe: run one per store."""

    def __init__(
        self,
        engine: Engine,
        client: ChainClient,
        deployment: Deployment,
        *,
        config: IndexerConfig | None = None,
        artifacts: Artifacts | None = None,
    ):
        self.engine = engine
        self.client = client
        self.deployment = deployment
        self.config = config or IndexerConfig()
        self.chain_id = deployment.chain_id
        self.start_block = deployment.start_block
        self.decoder = LogDecoder(artifacts or load_artifacts())
        self.static_kinds: dict[str, str] = {
            deployment.factory.lower(): "factory",
            deployment.registry.lower(): "registry",
            deployment.router.lower(): "router",
            deployment.oracle.lower(): "oracle",
        }
        self.factory = deployment.factory.lower()
        self.vault_created_topic = next(
            topic
            for topic, d in self.decoder.by_kind["factory"].items()
            if d.name == "VaultCreated"
        )
        self.vaults: set[str] = set()
        self.range_size = self.config.block_range_initial
        # After the node refused a range, growth stops below that size for a while (no
        # oscillating between a refused size and half of it).
        self._range_ceiling: int | None = None
        self._ranges_since_refusal = 0
        self.stats = IndexerStats()
        self._prepared = False
        self.oracle_answers = OracleSampler(
            client,
            chain_id=self.chain_id,
            oracle=deployment.oracle,
            every_blocks=self.config.oracle_sample_blocks,
        )

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """Check the node is the deployment's chain, create or check the cursor, load vaults."""
        self.deployment.check_chain(self.client)
        ct = IndexerCursor.__table__
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(ct).where(ct.c.chain_id == self.chain_id)).mappings().first()
            if row is None:
                conn.execute(
                    insert(ct),
                    {
                        "chain_id": self.chain_id,
                        "factory": self.factory,
                        "start_block": self.start_block,
                        "block_number": self.start_block - 1,
                        "block_hash": None,
                        "updated_at": datetime.now(UTC),
                    },
                )
            elif row["factory"] != self.factory or row["start_block"] != self.start_block:
                raise StoreError(
                    f"the store indexes chain {self.chain_id} for the factory {row['factory']} "
                    f"(from block {row['start_block']}), not this deployment's factory "
                    f"{self.factory} (from block {self.start_block}): use another database "
                    "(COPYVAULT_DATABASE_URL) or rebuild this one's index for this deployment "
                    "with `copyvault reindex` (off-chain records are kept)"
                )
            self._reload_vaults(conn)
            self.stats.cursor = self._cursor(conn)[0]
        self._prepared = True

    def _reload_vaults(self, conn: Connection) -> None:
        vt = Vault.__table__
        self.vaults = set(conn.scalars(select(vt.c.address).where(vt.c.chain_id == self.chain_id)))

    def _cursor(self, conn: Connection) -> tuple[int, str | None]:
        ct = IndexerCursor.__table__
        row = conn.execute(
            select(ct.c.block_number, ct.c.block_hash).where(ct.c.chain_id == self.chain_id)
        ).first()
        if row is None:
            raise StoreError(f"no indexer cursor for chain {self.chain_id}: call prepare() first")
        return row[0], row[1]

    def cursor(self) -> tuple[int, str | None]:
        """(last indexed block, its hash); (start_block - 1, None) when nothing is indexed yet."""
        with self.engine.connect() as conn:
            return self._cursor(conn)

    # ------------------------------------------------------------------ syncing

    def sync_once(self, stop: threading.Event | None = None, max_ranges: int | None = None) -> bool:
        """Index confirmed blocks up to the head (or `max_ranges` ranges). True when caught up."""
        if not self._prepared:
            self.prepare()
        head = self.client.block_number()
        self.stats.head = head
        target = head - self.config.confirmations
        cursor, cursor_hash = self.cursor()
        self.stats.cursor = cursor
        if cursor_hash is not None and cursor >= self.start_block:
            header = self.client.header(cursor)
            if header is None or header.hash != cursor_hash:
                cursor = self._handle_reorg(cursor, cursor_hash, target)
        ranges = 0
        while cursor < target:
            if stop is not None and stop.is_set():
                return False
            if max_ranges is not None and ranges >= max_ranges:
                return False
            try:
                cursor = self._index_one_range(cursor, target)
            except ChainLinkBrokenError as exc:
                # Blocks indexed by an earlier range (of this sync or before) were replaced.
                log.warning("reorg between ranges: %s", exc)
                cursor = self._handle_reorg(*self.cursor(), target)
            ranges += 1
        self.stats.last_sync_at = time.time()
        return True

    def run(self, stop: threading.Event) -> None:
        """Follow the chain until `stop` is set, surviving node and store outages."""
        self.stats.running = True
        failures = 0
        store_down_since: float | None = None
        try:
            while not stop.is_set():
                try:
                    caught_up = self.sync_once(stop)
                    failures = 0
                    self.stats.last_error = None
                    if store_down_since is not None:
                        log.info(
                            "indexer: store reachable again after %.1f s",
                            time.monotonic() - store_down_since,
                        )
                        store_down_since = None
                except ReorgDuringFetchError as exc:
                    self.stats.refetches += 1
                    log.info("%s", exc)
                    continue
                except Exception as exc:  # the loop must outlive any one failure
                    failures += 1
                    self.stats.errors += 1
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    if is_store_outage(exc):
                        # One line per outage: every retry of a down store says nothing new.
                        if store_down_since is None:
                            store_down_since = time.monotonic()
                            log.warning(
                                "indexer: store unreachable (%s); retrying until it is back",
                                outage_reason(exc),
                            )
                    elif isinstance(exc, CopyvaultError):
                        log.warning("indexer: %s", exc)
                    else:
                        log.exception("indexer: unexpected error")
                    stop.wait(min(MAX_ERROR_BACKOFF, self.config.poll_interval * 2**failures))
                    continue
                if caught_up:
                    stop.wait(self.config.poll_interval)
        finally:
            self.stats.running = False

    # ------------------------------------------------------------------ one range

    def _index_one_range(self, cursor: int, target: int) -> int:
        try:
            with write_transaction(self.engine) as conn:
                end = self._index_range_in(conn, cursor + 1, target)
                committing = time.perf_counter()
            self.stats.add_time("db_commit", committing)
        except BaseException:
            # Vaults discovered in a range that was not committed must not stay known.
            with self.engine.connect() as conn:
                self._reload_vaults(conn)
            raise
        self.stats.cursor = end
        return end

    def _index_range_in(self, conn: Connection, start: int, target: int) -> int:
        """Fetch [start, end ≤ target] and write it in `conn`'s transaction; returns `end`."""
        fetched = self._fetch(start, target)
        self._check_linked(conn, fetched.start_header)
        self._write(conn, fetched)
        self.vaults.update(fetched.new_vaults)
        self.stats.ranges += 1
        return fetched.end

    def _addresses(self, extra: Sequence[str] = ()) -> list[str]:
        return sorted(self.static_kinds) + sorted(self.vaults) + list(extra)

    def _get_logs(self, start: int, end: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        chunk = self.config.address_chunk
        logs: list[dict[str, Any]] = []
        for i in range(0, len(addresses), chunk):
            started = time.perf_counter()
            try:
                logs.extend(self.client.get_logs(start, end, addresses[i : i + chunk]))
            finally:
                self.stats.add_time("rpc_logs", started)
        return logs

    def _check_linked(self, conn: Connection, first: BlockHeader) -> None:
        """ChainLinkBrokenError unless `first` is the child of the cursor block (as stored)."""
        cursor, cursor_hash = self._cursor(conn)
        if cursor_hash is None:  # nothing indexed before `first`: nothing to link to
            return
        if cursor != first.number - 1:
            raise IndexerError(
                f"the cursor of chain {self.chain_id} is at block {cursor}, not "
                f"{first.number - 1}: another indexer is writing to this store; run only one"
            )
        if first.parent_hash != cursor_hash:
            raise ChainLinkBrokenError(
                f"block {first.number}'s parent is {first.parent_hash}, not the indexed block "
                f"{cursor} ({cursor_hash})"
            )

    def _header(self, number: int) -> BlockHeader:
        started = time.perf_counter()
        try:
            header = self.client.header(number)
        finally:
            self.stats.add_time("rpc_headers", started)
        if header is None:
            raise ReorgDuringFetchError(
                f"block {number} is gone (the chain got shorter); fetching the range again"
            )
        return header

    def _fetch(self, start: int, target: int) -> _Fetched:
        while True:
            end = min(target, start + self.range_size - 1)
            try:
                before = self._header(end)
                # Read between the two reads of `end`: if those agree, it is `end`'s ancestor.
                first_header = before if start == end else self._header(start)
                logs = self._get_logs(start, end, self._addresses())
                new_vaults = self._discover(logs)
                if new_vaults:
                    # Vaults created in this range: their logs of the same range, before writing.
                    first = min(
                        int(raw["blockNumber"], 16)
                        for raw in logs
                        if raw["topics"] and raw["topics"][0].lower() == self.vault_created_topic
                    )
                    logs.extend(self._get_logs(first, end, new_vaults))
                after = self._header(end)
            except RangeTooLargeError as exc:
                self.stats.range_too_large += 1
                if end == start:
                    raise IndexerError(
                        f"the node refuses eth_getLogs even for the single block {start} ({exc}); "
                        "lower COPYVAULT_ADDRESS_CHUNK or use a node without such a limit"
                    ) from None
                self.range_size = max(1, (end - start + 1) // 2)
                self._range_ceiling = end - start  # one less than the refused size
                self._ranges_since_refusal = 0
                log.info(
                    "getLogs [%d, %d] too large; range now %d blocks", start, end, self.range_size
                )
                continue
            if after.hash != before.hash:
                raise ReorgDuringFetchError(
                    f"block {end} changed from {before.hash} to {after.hash} during the fetch; "
                    "fetching the range again"
                )
            self._adapt_range(len(logs), end - start + 1)
            logs.sort(key=lambda raw: (int(raw["blockNumber"], 16), int(raw["logIndex"], 16)))
            self._check_consistent(logs, first_header, after)
            self._fill_timestamps(logs, after)
            return _Fetched(start, end, first_header, after, logs, new_vaults)

    def _discover(self, logs: list[dict[str, Any]]) -> list[str]:
        found = []
        for raw in logs:
            topics = raw["topics"]
            if (
                topics
                and topics[0].lower() == self.vault_created_topic
                and raw["address"].lower() == self.factory
            ):
                vault = "0x" + topics[1][-40:].lower()
                if vault not in self.vaults and vault not in found:
                    found.append(vault)
        return found

    def _adapt_range(self, count: int, size: int) -> None:
        cfg = self.config
        if count > cfg.logs_per_request:
            new = max(1, size * cfg.logs_per_request // count)
        elif count < cfg.logs_per_request // 2 and size >= self.range_size:
            new = size * 2
        else:
            new = self.range_size
        if self._range_ceiling is not None:
            self._ranges_since_refusal += 1
            if self._ranges_since_refusal > RANGE_CEILING_RANGES:
                self._range_ceiling = None
            else:
                new = min(new, self._range_ceiling)
        self.range_size = max(1, min(cfg.block_range_max, new))

    def _check_consistent(
        self, logs: list[dict[str, Any]], first: BlockHeader, end: BlockHeader
    ) -> None:
        hashes: dict[str, str] = {}
        for raw in logs:
            if raw.get("removed"):
                raise ReorgDuringFetchError("the node returned a removed log; fetching again")
            number, block_hash = raw["blockNumber"], raw["blockHash"].lower()
            if hashes.setdefault(number, block_hash) != block_hash:
                raise ReorgDuringFetchError(
                    f"logs of block {int(number, 16)} disagree on its hash; fetching again"
                )
        for header in (first, end):
            logged = hashes.get(hex(header.number))
            if logged is not None and logged != header.hash:
                raise ReorgDuringFetchError(
                    f"logs of block {header.number} are from another fork; fetching again"
                )

    def _fill_timestamps(self, logs: list[dict[str, Any]], end: BlockHeader) -> None:
        """Nodes that do not put blockTimestamp in logs: read the headers (checking hashes)."""
        missing = {int(raw["blockNumber"], 16) for raw in logs if not raw.get("blockTimestamp")}
        if not missing:
            return
        started = time.perf_counter()
        headers = self.client.headers(missing)
        self.stats.add_time("rpc_headers", started)
        for raw in logs:
            if raw.get("blockTimestamp"):
                continue
            header = headers.get(int(raw["blockNumber"], 16))
            if header is None or header.hash != raw["blockHash"].lower():
                raise ReorgDuringFetchError("a block changed while reading timestamps")
            raw["blockTimestamp"] = hex(header.timestamp)

    def _kind_of(self, address: str) -> str:
        return self.static_kinds.get(address, "vault")

    def _write(self, conn: Connection, fetched: _Fetched) -> None:
        started = time.perf_counter()
        decoded: list[DecodedLog] = self.decoder.decode_all(fetched.logs, self._kind_of)
        self.stats.add_time("decode", started)

        started = time.perf_counter()
        ct = IndexerCursor.__table__
        moved = conn.execute(
            update(ct)
            .where(ct.c.chain_id == self.chain_id, ct.c.block_number == fetched.start - 1)
            .values(
                block_number=fetched.end,
                block_hash=fetched.end_header.hash,
                updated_at=datetime.now(UTC),
            )
        )
        if moved.rowcount != 1:
            raise IndexerError(
                f"the cursor of chain {self.chain_id} is no longer at block {fetched.start - 1}: "
                "another indexer is writing to this store; run only one"
            )
        blocks = {ev.block_number: (ev.block_hash, ev.block_timestamp, None) for ev in decoded}
        # The range's boundaries with their parent hashes: the next range links to the last one.
        for header in (fetched.start_header, fetched.end_header):
            blocks[header.number] = (header.hash, header.timestamp, header.parent_hash)
        conn.execute(
            insert(Block.__table__),
            [
                {
                    "chain_id": self.chain_id,
                    "number": number,
                    "hash": block_hash,
                    "timestamp": timestamp,
                    "parent_hash": parent_hash,
                }
                for number, (block_hash, timestamp, parent_hash) in sorted(blocks.items())
            ],
        )
        if decoded:
            chain = self.chain_id
            conn.execute(insert(Event.__table__), [ev.row(chain) for ev in decoded])
            self.stats.add_time("db_events", started)
            started = time.perf_counter()
            projector = Projector(conn, chain, self.decoder)
            projector.prefetch_vaults(ev.vault for ev in decoded if ev.vault is not None)
            projector.apply_all(decoded)
            projector.flush()
            self.stats.add_time("db_derived", started)
        else:
            self.stats.add_time("db_events", started)
        self.stats.events += len(decoded)
        started = time.perf_counter()
        self.oracle_answers.maybe_sample(conn, fetched.end_header, decoded)
        self.stats.add_time("oracle_answers", started)

    # ------------------------------------------------------------------ reorgs

    def _find_ancestor(self, cursor: int) -> tuple[int, str | None]:
        """The newest stored block the node still has, or (start_block - 1, None)."""
        bt = Block.__table__
        offset, window = 0, ANCESTOR_WINDOW
        while True:
            with self.engine.connect() as conn:
                stored = conn.execute(
                    select(bt.c.number, bt.c.hash)
                    .where(bt.c.chain_id == self.chain_id, bt.c.number <= cursor)
                    .order_by(bt.c.number.desc())
                    .offset(offset)
                    .limit(window)
                ).all()
            if not stored:
                return self.start_block - 1, None
            started = time.perf_counter()
            headers = self.client.headers(n for n, _ in stored)
            self.stats.add_time("rpc_headers", started)
            for number, block_hash in stored:
                header = headers.get(number)
                if header is not None and header.hash == block_hash:
                    return number, block_hash
            offset += window
            window *= 2

    def _handle_reorg(self, cursor: int, cursor_hash: str | None, target: int) -> int:
        """Roll back to the common ancestor and index the new chain; a break of the chain during
        the re-index is a newer reorg: the transaction is undone and the whole reorg handled again
        from the stored (old) cursor, so one `reorgs` row covers both."""
        for _ in range(REORG_ATTEMPTS):
            try:
                return self._roll_back_and_reindex(cursor, cursor_hash, target)
            except ChainLinkBrokenError as exc:
                log.warning("reorg: the chain changed again during the re-index (%s)", exc)
        raise ReorgDuringFetchError(
            f"the chain changed during each of {REORG_ATTEMPTS} re-indexes of a reorg; trying again"
        )

    def _roll_back_and_reindex(self, cursor: int, cursor_hash: str | None, target: int) -> int:
        ancestor, ancestor_hash = self._find_ancestor(cursor)
        if ancestor == cursor:
            # The node has the cursor block after all: the chain moved during the last fetch.
            raise ReorgDuringFetchError(
                f"block {cursor} is indexed as the node has it; fetching the next range again"
            )
        log.warning(
            "reorg: block %d is no longer %s; rolling back to block %d",
            cursor,
            cursor_hash,
            ancestor,
        )
        try:
            with write_transaction(self.engine) as conn:
                if self._cursor(conn) != (cursor, cursor_hash):
                    raise IndexerError("the cursor moved during reorg handling: run one indexer")
                removed = self.rollback(conn, ancestor, ancestor_hash)
                conn.execute(
                    insert(Reorg.__table__),
                    {
                        "chain_id": self.chain_id,
                        "detected_at": datetime.now(UTC),
                        "old_block_number": cursor,
                        "old_block_hash": cursor_hash,
                        "ancestor_block": ancestor,
                        "events_removed": removed,
                    },
                )
                # Re-index up to the old height in the same transaction: readers never see the
                # store without the blocks it had before, only the old version or the new one.
                position, goal = ancestor, min(cursor, target)
                while position < goal:
                    position = self._index_range_in(conn, position + 1, goal)
        except BaseException:
            with self.engine.connect() as conn:
                self._reload_vaults(conn)
            raise
        self.stats.reorgs += 1
        self.stats.cursor = position
        return position

    def rollback(self, conn: Connection, ancestor: int, ancestor_hash: str | None) -> int:
        """Delete everything indexed past `ancestor` and recompute the derived state it touched,
        in `conn`'s transaction; the cursor moves to `ancestor`. Returns the events removed."""
        chain = self.chain_id
        et = Event.__table__
        past = and_(et.c.chain_id == chain, et.c.block_number > ancestor)
        vaults = list(
            conn.scalars(
                select(et.c.vault)
                .distinct()
                .where(past, et.c.vault.is_not(None), et.c.contract.in_(("vault", "factory")))
            )
        )
        leaders = list(
            conn.scalars(
                select(et.c.leader)
                .distinct()
                .where(past, et.c.leader.is_not(None), et.c.contract == "registry")
            )
        )
        platform = conn.scalar(
            select(
                exists().where(
                    past,
                    et.c.contract.in_(("factory", "oracle")),
                    et.c.name.in_(sorted(PLATFORM_EVENTS)),
                )
            )
        )
        removed = conn.scalar(select(func.count()).select_from(et).where(past)) or 0
        for model in PER_EVENT_TABLES:
            t = model.__table__
            conn.execute(delete(t).where(t.c.chain_id == chain, t.c.block_number > ancestor))
        conn.execute(delete(et).where(past))
        bt = Block.__table__
        conn.execute(delete(bt).where(bt.c.chain_id == chain, bt.c.number > ancestor))
        self.oracle_answers.forget_after(conn, ancestor)
        rebuild_entities(
            conn, chain, self.decoder, vaults=vaults, leaders=leaders, platform=bool(platform)
        )
        ct = IndexerCursor.__table__
        conn.execute(
            update(ct)
            .where(ct.c.chain_id == chain)
            .values(block_number=ancestor, block_hash=ancestor_hash, updated_at=datetime.now(UTC))
        )
        self._reload_vaults(conn)
        return removed


def run_in_thread(
    indexer: Indexer, *, name: str = "copyvault-indexer"
) -> tuple[threading.Thread, threading.Event]:
    """Start `indexer.run` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=indexer.run, args=(stop,), name=name, daemon=True)
    thread.start()
    return thread, stop
