"""Derived state as a fold over the events table.

`Projector.apply` takes one event (a freshly decoded log, or a row read back from the events table:
both carry the same fields and the same JSON `args`) and updates in-memory state: the entity rows
it touches (vaults with their owners, allowlist and balances; leaders, delegates, cancelled-nonce
words; platform settings, venues, oracle feeds) and the per-event rows it produces (trades, skips,
batches, transfers, vault operations). `flush` writes all of it in the caller's transaction.

Because the same function serves indexing and rebuilding, derived state is by construction what
replaying the events gives: `rebuild_entities` (used after a reorg, for the vaults and leaders it
touched) and `rebuild_all` recompute it from the events table alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, true, tuple_, update

from backend.db.models import (
    PER_EVENT_TABLES,
    STATE_TABLES,
    Event,
    Leader,
    LeaderDelegate,
    LeaderNonceWord,
    MirrorSkip,
    OracleFeed,
    Platform,
    PlatformVenue,
    RouterBatch,
    Trade,
    Vault,
    VaultAllowlist,
    VaultBalance,
    VaultOperation,
    VaultOwner,
    VaultTransfer,
)

ZERO_ADDRESS = "0x" + "00" * 20
IN_CHUNK = 500  # values per SQL IN list


class EventLike(Protocol):
    block_number: int
    block_timestamp: int | None
    tx_hash: str
    log_index: int
    address: str
    contract: str
    name: str | None
    args: dict[str, Any]


class Names(Protocol):
    """What the projector needs from the decoder: error and vault function names by selector."""

    vault_functions: dict[str, str]

    def reason_name(self, selector: str) -> str: ...


# ----------------------------------------------------------------------------- entity state


@dataclass
class BalanceState:
    balance: int = 0
    deposited: int = 0
    withdrawn: int = 0
    bought: int = 0
    sold: int = 0
    updated_block: int = 0
    stored: bool = False
    dirty: bool = False


@dataclass
class VaultState:
    address: str
    created_block: int
    created_tx: str
    created_at: int | None = None
    creator: str | None = None
    salt: str | None = None
    leader: str | None = None
    threshold: int = 0
    nonce: int = 0
    paused: bool = False
    copying: bool = False
    guardian_accepted: bool = False
    oracle: str | None = None
    policy: dict[str, int] = field(
        default_factory=lambda: {
            "maxFractionBps": 0,
            "maxSlippageBps": 0,
            "maxOracleAge": 0,
            "maxTradesPerDay": 0,
            "lossBudgetBps": 0,
        }
    )
    updated_block: int = 0
    owners: list[str] = field(default_factory=list)
    allowlist: set[tuple[str, str]] = field(default_factory=set)
    balances: dict[str, BalanceState] = field(default_factory=dict)
    stored: bool = False  # a row exists in the database
    dirty: bool = False
    owners_dirty: bool = False
    allowlist_dirty: bool = False

    def row(self, chain_id: int) -> dict[str, Any]:
        p = self.policy
        return {
            "chain_id": chain_id,
            "address": self.address,
            "creator": self.creator,
            "salt": self.salt,
            "created_block": self.created_block,
            "created_tx": self.created_tx,
            "created_at": self.created_at,
            "leader": self.leader,
            "threshold": self.threshold,
            "nonce": self.nonce,
            "paused": self.paused,
            "copying": self.copying,
            "guardian_accepted": self.guardian_accepted,
            "oracle": self.oracle,
            "max_fraction_bps": p["maxFractionBps"],
            "max_slippage_bps": p["maxSlippageBps"],
            "max_oracle_age": p["maxOracleAge"],
            "max_trades_per_day": p["maxTradesPerDay"],
            "loss_budget_bps": p["lossBudgetBps"],
            "updated_block": self.updated_block,
        }


_VAULT_COLUMNS = [c.name for c in Vault.__table__.columns if c.name not in ("chain_id", "address")]


# ----------------------------------------------------------------------------- the projector


class Projector:
    """Folds events into derived rows, within one database transaction (`conn`)."""

    def __init__(
        self, conn: Connection, chain_id: int, names: Names, *, assume_empty: bool = False
    ):
        """`assume_empty`: the entities' rows were just deleted (a rebuild): skip loading them."""
        self.conn = conn
        self.chain_id = chain_id
        self.names = names
        self.assume_empty = assume_empty
        self.vaults: dict[str, VaultState] = {}
        self._missing_vaults: set[str] = set()
        # leader -> (profile_uri, registered_block, updated_block, stored) or None when unknown
        self.leaders: dict[str, list[Any] | None] = {}
        self.delegates: dict[tuple[str, str], tuple[int, int] | None] = {}
        self.nonce_words: dict[tuple[str, int], list[Any]] = {}
        self.platform: dict[str, Any] | None = None
        self.platform_loaded = False
        self.platform_stored = False
        self.platform_dirty = False
        self.venues: dict[str, int | None] = {}
        self.feeds: dict[tuple[str, str], tuple[str, int, int, int] | None] = {}
        self.rows: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self._aggregated: dict[tuple[str, str], tuple[str, str]] = {}

    # ------------------------------------------------------------------ loading

    def prefetch_vaults(self, addresses: Iterable[str]) -> None:
        """Load the stored state of `addresses` in a few queries (the indexer's batches)."""
        wanted = [
            a for a in set(addresses) if a not in self.vaults and a not in self._missing_vaults
        ]
        for i in range(0, len(wanted), IN_CHUNK):
            self._load_vaults(wanted[i : i + IN_CHUNK])

    def _load_vaults(self, addresses: Sequence[str]) -> None:
        conn, chain = self.conn, self.chain_id
        vt = Vault.__table__
        found: dict[str, VaultState] = {}
        for r in conn.execute(
            select(vt).where(vt.c.chain_id == chain, vt.c.address.in_(addresses))
        ).mappings():
            state = VaultState(
                address=r["address"],
                created_block=r["created_block"],
                created_tx=r["created_tx"],
                created_at=r["created_at"],
                creator=r["creator"],
                salt=r["salt"],
                leader=r["leader"],
                threshold=r["threshold"],
                nonce=r["nonce"],
                paused=r["paused"],
                copying=r["copying"],
                guardian_accepted=r["guardian_accepted"],
                oracle=r["oracle"],
                policy={
                    "maxFractionBps": r["max_fraction_bps"],
                    "maxSlippageBps": r["max_slippage_bps"],
                    "maxOracleAge": r["max_oracle_age"],
                    "maxTradesPerDay": r["max_trades_per_day"],
                    "lossBudgetBps": r["loss_budget_bps"],
                },
                updated_block=r["updated_block"],
                stored=True,
            )
            found[state.address] = state
        if found:
            keys = list(found)
            ot = VaultOwner.__table__
            owners = conn.execute(
                select(ot.c.vault, ot.c.owner)
                .where(ot.c.chain_id == chain, ot.c.vault.in_(keys))
                .order_by(ot.c.vault, ot.c.position)
            )
            for vault, owner in owners:
                found[vault].owners.append(owner)
            at = VaultAllowlist.__table__
            for vault, kind, target in conn.execute(
                select(at.c.vault, at.c.kind, at.c.target).where(
                    at.c.chain_id == chain, at.c.vault.in_(keys)
                )
            ):
                found[vault].allowlist.add((kind, target))
            bt = VaultBalance.__table__
            for r in conn.execute(
                select(bt).where(bt.c.chain_id == chain, bt.c.vault.in_(keys))
            ).mappings():
                found[r["vault"]].balances[r["token"]] = BalanceState(
                    balance=r["balance"],
                    deposited=r["deposited"],
                    withdrawn=r["withdrawn"],
                    bought=r["bought"],
                    sold=r["sold"],
                    updated_block=r["updated_block"],
                    stored=True,
                )
        self.vaults.update(found)
        self._missing_vaults.update(a for a in addresses if a not in found)

    def _vault(self, ev: EventLike) -> VaultState:
        address = ev.address if ev.contract == "vault" else ev.args["vault"]
        state = self.vaults.get(address)
        if state is None:
            if address not in self._missing_vaults and not self.assume_empty:
                self._load_vaults([address])
                state = self.vaults.get(address)
            if state is None:
                # A new vault: its initialisation events come before the factory's VaultCreated.
                state = VaultState(address, ev.block_number, ev.tx_hash, ev.block_timestamp)
                self.vaults[address] = state
                self._missing_vaults.discard(address)
        state.dirty = True
        state.updated_block = ev.block_number
        return state

    def _is_vault(self, address: str) -> bool:
        """Whether `address` is a vault the factory created (known here or in the store), without
        creating any state for it."""
        if address in self.vaults:
            return True
        if address in self._missing_vaults or self.assume_empty:
            return False
        self._load_vaults([address])
        return address in self.vaults

    def _balance(self, vault: VaultState, token: str, block: int) -> BalanceState:
        bal = vault.balances.get(token)
        if bal is None:
            bal = vault.balances[token] = BalanceState()
        bal.dirty = True
        bal.updated_block = block
        return bal

    def _leader(self, leader: str) -> list[Any] | None:
        if leader not in self.leaders:
            if self.assume_empty:
                self.leaders[leader] = None
                return None
            lt = Leader.__table__
            r = self.conn.execute(
                select(lt.c.profile_uri, lt.c.registered_block, lt.c.updated_block).where(
                    lt.c.chain_id == self.chain_id, lt.c.address == leader
                )
            ).first()
            self.leaders[leader] = [r[0], r[1], r[2], True, False] if r else None
        return self.leaders[leader]

    def _nonce_word(self, leader: str, word_pos: int) -> list[Any]:
        key = (leader, word_pos)
        if key not in self.nonce_words:
            if self.assume_empty:
                self.nonce_words[key] = [0, 0, False]
                return self.nonce_words[key]
            nt = LeaderNonceWord.__table__
            bitmap = self.conn.execute(
                select(nt.c.bitmap).where(
                    nt.c.chain_id == self.chain_id, nt.c.leader == leader, nt.c.word_pos == word_pos
                )
            ).scalar()
            # [bitmap, updated_block, stored]
            self.nonce_words[key] = [bitmap or 0, 0, bitmap is not None]
        return self.nonce_words[key]

    def _platform(self) -> dict[str, Any]:
        if not self.platform_loaded:
            pt = Platform.__table__
            r = None
            if not self.assume_empty:
                query = select(pt).where(pt.c.chain_id == self.chain_id)
                r = self.conn.execute(query).mappings().first()
            self.platform = dict(r) if r else None
            self.platform_stored = r is not None
            self.platform_loaded = True
        if self.platform is None:
            self.platform = {
                "chain_id": self.chain_id,
                "default_oracle": None,
                "guardian": None,
                "sanctions_list": None,
                "updated_block": 0,
            }
        self.platform_dirty = True
        return self.platform

    # ------------------------------------------------------------------ applying events

    def apply(self, ev: EventLike) -> None:
        if ev.name is None:
            return
        handler = _HANDLERS.get((ev.contract, ev.name))
        if handler is not None:
            handler(self, ev)

    def apply_all(self, events: Iterable[EventLike]) -> None:
        for ev in events:
            self.apply(ev)

    def _event_keys(self, ev: EventLike) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "tx_hash": ev.tx_hash,
            "log_index": ev.log_index,
            "block_number": ev.block_number,
            "block_timestamp": ev.block_timestamp,
        }

    # vault events -------------------------------------------------------

    def _owner_added(self, ev: EventLike) -> None:
        v = self._vault(ev)
        v.owners.append(ev.args["owner"])
        v.owners_dirty = True

    def _owner_removed(self, ev: EventLike) -> None:
        v = self._vault(ev)
        owner = ev.args["owner"]
        if owner in v.owners:
            # As OwnerManager._removeOwner: the last owner moves into the removed one's place.
            i = v.owners.index(owner)
            last = v.owners.pop()
            if i < len(v.owners):
                v.owners[i] = last
        v.owners_dirty = True

    def _threshold(self, ev: EventLike) -> None:
        self._vault(ev).threshold = int(ev.args["threshold"])

    def _leader_changed(self, ev: EventLike) -> None:
        self._vault(ev).leader = ev.args["leader"]

    def _policy(self, ev: EventLike) -> None:
        self._vault(ev).policy = {k: int(v) for k, v in ev.args["policy"].items()}

    def _oracle(self, ev: EventLike) -> None:
        self._vault(ev).oracle = ev.args["oracle"]

    def _allow(self, kind: str, key: str, ev: EventLike) -> None:
        v = self._vault(ev)
        item = (kind, ev.args[key])
        if ev.args["allowed"]:
            v.allowlist.add(item)
        else:
            v.allowlist.discard(item)
        v.allowlist_dirty = True

    def _asset_allowed(self, ev: EventLike) -> None:
        self._allow("asset", "asset", ev)

    def _venue_allowed(self, ev: EventLike) -> None:
        self._allow("venue", "venue", ev)

    def _guardian_acceptance(self, ev: EventLike) -> None:
        self._vault(ev).guardian_accepted = bool(ev.args["accepted"])

    def _paused(self, ev: EventLike) -> None:
        self._vault(ev).paused = True

    def _unpaused(self, ev: EventLike) -> None:
        self._vault(ev).paused = False

    def _copying_stopped(self, ev: EventLike) -> None:
        self._vault(ev).copying = False

    def _copying_started(self, ev: EventLike) -> None:
        self._vault(ev).copying = True

    def _deposited(self, ev: EventLike) -> None:
        v = self._vault(ev)
        a = ev.args
        amount = int(a["amount"])
        bal = self._balance(v, a["token"], ev.block_number)
        bal.balance += amount
        bal.deposited += amount
        self.rows[VaultTransfer].append(
            self._event_keys(ev)
            | {
                "vault": v.address,
                "kind": "deposit",
                "token": a["token"],
                "account": a["from"],
                "amount": amount,
                "nonce": None,
            }
        )

    def _withdrawn(self, ev: EventLike) -> None:
        v = self._vault(ev)
        a = ev.args
        amount, nonce = int(a["amount"]), int(a["nonce"])
        bal = self._balance(v, a["token"], ev.block_number)
        bal.balance -= amount
        bal.withdrawn += amount
        v.nonce = max(v.nonce, nonce + 1)
        keys = self._event_keys(ev)
        self.rows[VaultTransfer].append(
            keys
            | {
                "vault": v.address,
                "kind": "withdrawal",
                "token": a["token"],
                "account": a["to"],
                "amount": amount,
                "nonce": nonce,
            }
        )
        self.rows[VaultOperation].append(
            keys
            | {
                "vault": v.address,
                "nonce": nonce,
                "kind": "withdrawal",
                "selector": None,
                "function": None,
                "data": None,
            }
        )

    def _config_executed(self, ev: EventLike) -> None:
        v = self._vault(ev)
        a = ev.args
        nonce = int(a["nonce"])
        v.nonce = max(v.nonce, nonce + 1)
        selector = a["selector"]
        self.rows[VaultOperation].append(
            self._event_keys(ev)
            | {
                "vault": v.address,
                "nonce": nonce,
                "kind": "config",
                "selector": selector,
                "function": self.names.vault_functions.get(selector),
                "data": a["data"],
            }
        )

    def _mirrored(self, ev: EventLike) -> None:
        v = self._vault(ev)
        a = ev.args
        amount_in, amount_out = int(a["amountIn"]), int(a["amountOut"])
        sold = self._balance(v, a["tokenIn"], ev.block_number)
        sold.balance -= amount_in
        sold.sold += amount_in
        bought = self._balance(v, a["tokenOut"], ev.block_number)
        bought.balance += amount_out
        bought.bought += amount_out
        self.rows[Trade].append(
            self._event_keys(ev)
            | {
                "vault": v.address,
                "leader": a["leader"],
                "nonce": int(a["nonce"]),
                "digest": a["digest"],
                "venue": a["venue"],
                "token_in": a["tokenIn"],
                "token_out": a["tokenOut"],
                "amount_in": amount_in,
                "amount_out": amount_out,
                "oracle_out": int(a["oracleOut"]),
            }
        )

    # factory events -----------------------------------------------------

    def _vault_created(self, ev: EventLike) -> None:
        v = self._vault(ev)
        v.creator = ev.args["creator"]
        v.salt = ev.args["salt"]

    def _platform_set(self, column: str, arg: str, ev: EventLike) -> None:
        p = self._platform()
        value = ev.args[arg]
        p[column] = None if value == ZERO_ADDRESS else value
        p["updated_block"] = ev.block_number

    def _default_oracle(self, ev: EventLike) -> None:
        self._platform_set("default_oracle", "oracle", ev)

    def _guardian(self, ev: EventLike) -> None:
        self._platform_set("guardian", "guardian", ev)

    def _sanctions(self, ev: EventLike) -> None:
        self._platform_set("sanctions_list", "sanctionsList", ev)

    def _global_venue(self, ev: EventLike) -> None:
        self.venues[ev.args["venue"]] = ev.block_number if ev.args["allowed"] else None

    # oracle events ------------------------------------------------------

    def _feed_set(self, ev: EventLike) -> None:
        a = ev.args
        key = (ev.address, a["token"])
        if a["feed"] == ZERO_ADDRESS:
            self.feeds[key] = None
        else:
            self.feeds[key] = (
                a["feed"],
                int(a["tokenDecimals"]),
                int(a["feedDecimals"]),
                ev.block_number,
            )

    # registry events ----------------------------------------------------

    def _leader_registered(self, ev: EventLike) -> None:
        leader = ev.args["leader"]
        state = self._leader(leader)
        if state is None:
            state = self.leaders[leader] = [ev.args["profileURI"], ev.block_number, 0, False, True]
        state[0] = ev.args["profileURI"]
        state[2] = ev.block_number
        state[4] = True  # dirty

    def _delegate_set(self, ev: EventLike) -> None:
        a = ev.args
        self.delegates[(a["leader"], a["delegate"])] = (int(a["expiry"]), ev.block_number)

    def _delegate_revoked(self, ev: EventLike) -> None:
        a = ev.args
        self.delegates[(a["leader"], a["delegate"])] = None

    def _nonces_invalidated(self, ev: EventLike) -> None:
        a = ev.args
        word = self._nonce_word(a["leader"], int(a["wordPos"]))
        word[0] |= int(a["mask"])
        word[1] = ev.block_number

    # router events ------------------------------------------------------

    def _mirror_skipped(self, ev: EventLike) -> None:
        a = ev.args
        if not self._is_vault(a["vault"]):
            return  # only a vault of the factory has skips (an older router reported any address)
        self.rows[MirrorSkip].append(
            self._event_keys(ev)
            | {
                "vault": a["vault"],
                "intent_digest": a["intentDigest"],
                "reason_selector": a["reason"],
                "reason": self.names.reason_name(a["reason"]),
            }
        )

    def _aggregated_swap(self, ev: EventLike) -> None:
        a = ev.args
        self._aggregated[(ev.tx_hash, a["intentDigest"])] = (a["totalIn"], a["totalOut"])

    def _batch_mirrored(self, ev: EventLike) -> None:
        a = ev.args
        # AggregatedSwap comes earlier in the same transaction, hence in the same block range.
        totals = self._aggregated.pop((ev.tx_hash, a["intentDigest"]), None)
        self.rows[RouterBatch].append(
            self._event_keys(ev)
            | {
                "intent_digest": a["intentDigest"],
                "mirrored": int(a["mirrored"]),
                "skipped": int(a["skipped"]),
                "aggregated": totals is not None,
                "total_in": int(totals[0]) if totals else None,
                "total_out": int(totals[1]) if totals else None,
            }
        )

    # ------------------------------------------------------------------ writing

    def discard_event_rows(self) -> None:
        """Forget the per-event rows (replays that only recompute entity state)."""
        self.rows.clear()

    def flush(self) -> None:
        """Write everything applied so far (per-event rows, then entity state)."""
        for table in PER_EVENT_TABLES:
            rows = self.rows.get(table)
            if rows:
                self.conn.execute(insert(table.__table__), rows)
        self.rows.clear()
        self._flush_vaults()
        self._flush_registry()
        self._flush_platform()

    def _flush_vaults(self) -> None:
        conn, chain = self.conn, self.chain_id
        dirty = [v for v in self.vaults.values() if v.dirty]
        if not dirty:
            return
        vt = Vault.__table__
        new = [v.row(chain) for v in dirty if not v.stored]
        old = [v.row(chain) for v in dirty if v.stored]
        if new:
            conn.execute(insert(vt), new)
        if old:
            stmt = (
                update(vt)
                .where(
                    vt.c.chain_id == bindparam("k_chain"), vt.c.address == bindparam("k_address")
                )
                .values({c: bindparam(c) for c in _VAULT_COLUMNS})
            )
            conn.execute(
                stmt,
                [
                    {
                        **{c: r[c] for c in _VAULT_COLUMNS},
                        "k_chain": chain,
                        "k_address": r["address"],
                    }
                    for r in old
                ],
            )
        ot, at, bt = VaultOwner.__table__, VaultAllowlist.__table__, VaultBalance.__table__
        owner_vaults = [v for v in dirty if v.owners_dirty]
        if owner_vaults:
            stored = [v.address for v in owner_vaults if v.stored]
            for i in range(0, len(stored), IN_CHUNK):
                conn.execute(
                    delete(ot).where(
                        ot.c.chain_id == chain, ot.c.vault.in_(stored[i : i + IN_CHUNK])
                    )
                )
            rows = [
                {"chain_id": chain, "vault": v.address, "owner": o, "position": i}
                for v in owner_vaults
                for i, o in enumerate(v.owners)
            ]
            if rows:
                conn.execute(insert(ot), rows)
        allow_vaults = [v for v in dirty if v.allowlist_dirty]
        if allow_vaults:
            stored = [v.address for v in allow_vaults if v.stored]
            for i in range(0, len(stored), IN_CHUNK):
                conn.execute(
                    delete(at).where(
                        at.c.chain_id == chain, at.c.vault.in_(stored[i : i + IN_CHUNK])
                    )
                )
            rows = [
                {"chain_id": chain, "vault": v.address, "kind": kind, "target": target}
                for v in allow_vaults
                for kind, target in sorted(v.allowlist)
            ]
            if rows:
                conn.execute(insert(at), rows)
        new_bal, old_bal = [], []
        for v in dirty:
            for token, b in v.balances.items():
                if not b.dirty:
                    continue
                row = {
                    "chain_id": chain,
                    "vault": v.address,
                    "token": token,
                    "balance": b.balance,
                    "deposited": b.deposited,
                    "withdrawn": b.withdrawn,
                    "bought": b.bought,
                    "sold": b.sold,
                    "updated_block": b.updated_block,
                }
                (old_bal if b.stored else new_bal).append(row)
                b.stored, b.dirty = True, False
        if new_bal:
            conn.execute(insert(bt), new_bal)
        if old_bal:
            cols = ("balance", "deposited", "withdrawn", "bought", "sold", "updated_block")
            stmt = (
                update(bt)
                .where(
                    bt.c.chain_id == bindparam("k_chain"),
                    bt.c.vault == bindparam("k_vault"),
                    bt.c.token == bindparam("k_token"),
                )
                .values({c: bindparam(c) for c in cols})
            )
            conn.execute(
                stmt,
                [
                    {
                        **{c: r[c] for c in cols},
                        "k_chain": chain,
                        "k_vault": r["vault"],
                        "k_token": r["token"],
                    }
                    for r in old_bal
                ],
            )
        for v in dirty:
            v.stored = True
            v.dirty = v.owners_dirty = v.allowlist_dirty = False

    def _flush_registry(self) -> None:
        conn, chain = self.conn, self.chain_id
        lt, dt, nt = Leader.__table__, LeaderDelegate.__table__, LeaderNonceWord.__table__
        for leader, state in self.leaders.items():
            if state is None or not state[4]:
                continue
            uri, registered, updated, stored, _ = state
            if stored:
                conn.execute(
                    update(lt)
                    .where(lt.c.chain_id == chain, lt.c.address == leader)
                    .values(profile_uri=uri, updated_block=updated)
                )
            else:
                conn.execute(
                    insert(lt),
                    {
                        "chain_id": chain,
                        "address": leader,
                        "profile_uri": uri,
                        "registered_block": registered,
                        "updated_block": updated,
                    },
                )
            state[3], state[4] = True, False
        if self.delegates:
            keys = list(self.delegates)
            for i in range(0, len(keys), IN_CHUNK):
                conn.execute(
                    delete(dt).where(
                        dt.c.chain_id == chain,
                        tuple_(dt.c.leader, dt.c.delegate).in_(keys[i : i + IN_CHUNK]),
                    )
                )
            rows = [
                {
                    "chain_id": chain,
                    "leader": leader,
                    "delegate": delegate,
                    "expiry": v[0],
                    "updated_block": v[1],
                }
                for (leader, delegate), v in self.delegates.items()
                if v is not None
            ]
            if rows:
                conn.execute(insert(dt), rows)
            self.delegates.clear()
        for (leader, word_pos), word in self.nonce_words.items():
            bitmap, updated, stored = word
            if not updated:
                continue
            if stored:
                conn.execute(
                    update(nt)
                    .where(
                        and_(
                            nt.c.chain_id == chain, nt.c.leader == leader, nt.c.word_pos == word_pos
                        )
                    )
                    .values(bitmap=bitmap, updated_block=updated)
                )
            else:
                conn.execute(
                    insert(nt),
                    {
                        "chain_id": chain,
                        "leader": leader,
                        "word_pos": word_pos,
                        "bitmap": bitmap,
                        "updated_block": updated,
                    },
                )
            word[1], word[2] = 0, True

    def _flush_platform(self) -> None:
        conn, chain = self.conn, self.chain_id
        if self.platform_dirty and self.platform is not None:
            pt = Platform.__table__
            if self.platform_stored:
                values = {k: v for k, v in self.platform.items() if k != "chain_id"}
                conn.execute(update(pt).where(pt.c.chain_id == chain).values(values))
            else:
                conn.execute(insert(pt), self.platform)
                self.platform_stored = True
            self.platform_dirty = False
        if self.venues:
            vt = PlatformVenue.__table__
            venues = list(self.venues)
            conn.execute(delete(vt).where(vt.c.chain_id == chain, vt.c.venue.in_(venues)))
            rows = [
                {"chain_id": chain, "venue": venue, "updated_block": block}
                for venue, block in self.venues.items()
                if block is not None
            ]
            if rows:
                conn.execute(insert(vt), rows)
            self.venues.clear()
        if self.feeds:
            ft = OracleFeed.__table__
            conn.execute(
                delete(ft).where(
                    ft.c.chain_id == chain, tuple_(ft.c.oracle, ft.c.token).in_(list(self.feeds))
                )
            )
            rows = [
                {
                    "chain_id": chain,
                    "oracle": oracle,
                    "token": token,
                    "feed": v[0],
                    "token_decimals": v[1],
                    "feed_decimals": v[2],
                    "updated_block": v[3],
                }
                for (oracle, token), v in self.feeds.items()
                if v is not None
            ]
            if rows:
                conn.execute(insert(ft), rows)
            self.feeds.clear()


_HANDLERS = {
    ("vault", "OwnerAdded"): Projector._owner_added,
    ("vault", "OwnerRemoved"): Projector._owner_removed,
    ("vault", "ThresholdChanged"): Projector._threshold,
    ("vault", "LeaderChanged"): Projector._leader_changed,
    ("vault", "PolicyChanged"): Projector._policy,
    ("vault", "OracleChanged"): Projector._oracle,
    ("vault", "AssetAllowed"): Projector._asset_allowed,
    ("vault", "VenueAllowed"): Projector._venue_allowed,
    ("vault", "GuardianAcceptanceChanged"): Projector._guardian_acceptance,
    ("vault", "Paused"): Projector._paused,
    ("vault", "Unpaused"): Projector._unpaused,
    ("vault", "CopyingStopped"): Projector._copying_stopped,
    ("vault", "CopyingStarted"): Projector._copying_started,
    ("vault", "Deposited"): Projector._deposited,
    ("vault", "Withdrawn"): Projector._withdrawn,
    ("vault", "ConfigExecuted"): Projector._config_executed,
    ("vault", "Mirrored"): Projector._mirrored,
    ("factory", "VaultCreated"): Projector._vault_created,
    ("factory", "DefaultOracleSet"): Projector._default_oracle,
    ("factory", "GuardianSet"): Projector._guardian,
    ("factory", "SanctionsListSet"): Projector._sanctions,
    ("factory", "GlobalVenueSet"): Projector._global_venue,
    ("oracle", "FeedSet"): Projector._feed_set,
    ("registry", "LeaderRegistered"): Projector._leader_registered,
    ("registry", "DelegateSet"): Projector._delegate_set,
    ("registry", "DelegateRevoked"): Projector._delegate_revoked,
    ("registry", "NoncesInvalidated"): Projector._nonces_invalidated,
    ("router", "MirrorSkipped"): Projector._mirror_skipped,
    ("router", "AggregatedSwap"): Projector._aggregated_swap,
    ("router", "BatchMirrored"): Projector._batch_mirrored,
}

# Events that change platform-wide state (factory settings and oracle feeds).
PLATFORM_EVENTS = frozenset(
    {"DefaultOracleSet", "GuardianSet", "SanctionsListSet", "GlobalVenueSet", "FeedSet"}
)


# ----------------------------------------------------------------------------- rebuilding


REPLAY_PAGE = 5_000


def _replay(conn: Connection, projector: Projector, where: Any, keep_event_rows: bool) -> int:
    """Apply the events matching `where`, in chain order, page by page (keyset pagination, so no
    cursor stays open while the projector writes)."""
    et = Event.__table__
    position = (-1, -1)
    count = 0
    while True:
        page = conn.execute(
            select(et)
            .where(
                et.c.chain_id == projector.chain_id,
                where,
                tuple_(et.c.block_number, et.c.log_index) > tuple_(*position),
            )
            .order_by(et.c.block_number, et.c.log_index)
            .limit(REPLAY_PAGE)
        ).all()
        for row in page:
            projector.apply(row)
        count += len(page)
        if not keep_event_rows:
            projector.discard_event_rows()
        projector.flush()
        if len(page) < REPLAY_PAGE:
            return count
        position = (page[-1].block_number, page[-1].log_index)


def clear_entities(
    conn: Connection,
    chain_id: int,
    *,
    vaults: Sequence[str],
    leaders: Sequence[str],
    platform: bool,
) -> None:
    """Delete the current-state rows of these vaults and leaders (and the platform's)."""
    vt = Vault.__table__
    for i in range(0, len(vaults), IN_CHUNK):
        # Owners, allowlist and balances go with their vault (ON DELETE CASCADE); deleted
        # explicitly too, so nothing depends on the database enforcing foreign keys.
        part = vaults[i : i + IN_CHUNK]
        for child in (VaultOwner, VaultAllowlist, VaultBalance):
            t = child.__table__
            conn.execute(delete(t).where(t.c.chain_id == chain_id, t.c.vault.in_(part)))
        conn.execute(delete(vt).where(vt.c.chain_id == chain_id, vt.c.address.in_(part)))
    for i in range(0, len(leaders), IN_CHUNK):
        part = leaders[i : i + IN_CHUNK]
        for model, column in (
            (Leader, "address"),
            (LeaderDelegate, "leader"),
            (LeaderNonceWord, "leader"),
        ):
            t = model.__table__
            conn.execute(delete(t).where(t.c.chain_id == chain_id, t.c[column].in_(part)))
    if platform:
        for model in (Platform, PlatformVenue, OracleFeed):
            t = model.__table__
            conn.execute(delete(t).where(t.c.chain_id == chain_id))


def rebuild_entities(
    conn: Connection,
    chain_id: int,
    names: Names,
    *,
    vaults: Sequence[str] = (),
    leaders: Sequence[str] = (),
    platform: bool = False,
) -> None:
    """Recompute the current state of these vaults and leaders (and the platform) from the
    events table. Per-event rows are left alone: they are deleted with their events."""
    vaults, leaders = sorted(set(vaults)), sorted(set(leaders))
    clear_entities(conn, chain_id, vaults=vaults, leaders=leaders, platform=platform)
    et = Event.__table__
    for i in range(0, len(vaults), IN_CHUNK):
        part = vaults[i : i + IN_CHUNK]
        projector = Projector(conn, chain_id, names, assume_empty=True)
        where = and_(et.c.vault.in_(part), et.c.contract.in_(("vault", "factory")))
        _replay(conn, projector, where, keep_event_rows=False)
    for i in range(0, len(leaders), IN_CHUNK):
        projector = Projector(conn, chain_id, names, assume_empty=True)
        where = and_(et.c.contract == "registry", et.c.leader.in_(leaders[i : i + IN_CHUNK]))
        _replay(conn, projector, where, keep_event_rows=False)
    if platform:
        projector = Projector(conn, chain_id, names, assume_empty=True)
        where = and_(
            et.c.contract.in_(("factory", "oracle")), et.c.name.in_(sorted(PLATFORM_EVENTS))
        )
        _replay(conn, projector, where, keep_event_rows=False)


def rebuild_all(conn: Connection, chain_id: int, names: Names) -> int:
    """Recompute every derived row of `chain_id` from the events table; the events replayed."""
    for model in PER_EVENT_TABLES + STATE_TABLES:
        t = model.__table__
        conn.execute(delete(t).where(t.c.chain_id == chain_id))
    projector = Projector(conn, chain_id, names, assume_empty=True)
    return _replay(conn, projector, true(), keep_event_rows=True)
