"""The indexer against a scenario that emits every kind of event, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from backend.db.engine import write_transaction
from backend.db.models import (
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
    VaultOperation,
    VaultTransfer,
)
from backend.indexer.indexer import Indexer, IndexerConfig
from backend.indexer.projector import rebuild_all
from tests.backend.helpers import assert_matches_chain, assert_same_store, dump_store, run_scenario

# What the issue asks the indexer to follow, by event name.
FOLLOWED = {
    # factory
    "VaultCreated",
    "GlobalVenueSet",
    "GuardianSet",
    "SanctionsListSet",
    "DefaultOracleSet",
    # registry
    "LeaderRegistered",
    "DelegateSet",
    "DelegateRevoked",
    "NoncesInvalidated",
    # router
    "MirrorSkipped",
    "BatchMirrored",
    "AggregatedSwap",
    # oracle
    "FeedSet",
    # vaults
    "Deposited",
    "Withdrawn",
    "ConfigExecuted",
    "Paused",
    "Unpaused",
    "CopyingStopped",
    "CopyingStarted",
    "Mirrored",
    "OwnerAdded",
    "OwnerRemoved",
    "ThresholdChanged",
    "LeaderChanged",
    "PolicyChanged",
    "OracleChanged",
    "AssetAllowed",
    "VenueAllowed",
    "GuardianAcceptanceChanged",
}


def _index(engine, anvil_chain, **config) -> Indexer:
    indexer = Indexer(
        engine,
        anvil_chain.client,
        anvil_chain.deployment,
        config=IndexerConfig(confirmations=0, **config),
    )
    assert indexer.sync_once()
    return indexer


def test_index__scenario__every_followed_event_is_stored_decoded(anvil_chain, stores):
    run_scenario(anvil_chain)
    engine = stores.engine()
    indexer = _index(engine, anvil_chain)

    et = Event.__table__
    with engine.connect() as conn:
        names = set(conn.scalars(select(et.c.name).distinct()))
        assert FOLLOWED <= names
        assert None not in names  # every log decoded with its contract's ABI
        assert (
            conn.scalar(select(et.c.block_number).order_by(et.c.block_number.desc()))
            <= (indexer.cursor()[0])
        )
    assert indexer.stats.events == len(dump_store(engine)["events"])


def test_index__scenario__derived_state_matches_the_vaults_views(anvil_chain, stores):
    run_scenario(anvil_chain)
    engine = stores.engine()
    _index(engine, anvil_chain)
    assert_matches_chain(engine, anvil_chain)


def test_index__scenario__typed_rows(anvil_chain, stores):
    scenario = run_scenario(anvil_chain)
    v1, v2, v3 = (v.lower() for v in scenario["vaults"])
    engine = stores.engine()
    _index(engine, anvil_chain)
    leader = anvil_chain.leader.address.lower()
    with engine.connect() as conn:
        skips = conn.execute(select(MirrorSkip.vault, MirrorSkip.reason)).all()
        # The made-up address in the scenario's batch is no vault: no skip row (audit finding 5).
        assert sorted(skips) == [(v2, "VaultPaused()")]
        batches = conn.execute(
            select(RouterBatch.mirrored, RouterBatch.skipped, RouterBatch.aggregated)
        ).all()
        assert sorted(batches) == [(2, 0, True), (2, 1, False)]
        trades = conn.execute(select(Trade.vault, Trade.leader, Trade.nonce)).all()
        assert sorted(trades) == sorted(
            [(v1, leader, 1), (v3, leader, 1), (v1, leader, 2), (v3, leader, 2)]
        )
        ops = conn.execute(
            select(
                VaultOperation.vault,
                VaultOperation.nonce,
                VaultOperation.kind,
                VaultOperation.function,
            ).order_by(VaultOperation.vault, VaultOperation.nonce)
        ).all()
        v1_ops = [(n, k, f) for v, n, k, f in ops if v == v1]
        assert v1_ops == [
            (0, "withdrawal", None),
            (1, "config", "setPolicy((uint16,uint16,uint32,uint16,uint16))"),
            (2, "config", "addOwner(address)"),
            (3, "config", "removeOwner(address)"),
            (4, "config", "setThreshold(uint256)"),
        ]
        transfers = conn.execute(select(VaultTransfer.kind, VaultTransfer.vault)).all()
        assert sorted(transfers).count(("deposit", v1)) == 2
        assert ("withdrawal", v1) in transfers
        assert conn.execute(select(Leader.address, Leader.profile_uri)).all() == [
            (leader, "ipfs://leader-profile")
        ]
        assert conn.execute(select(LeaderDelegate.delegate)).scalars().all() == [
            anvil_chain.delegate.address.lower()
        ]
        assert conn.execute(select(LeaderNonceWord.word_pos, LeaderNonceWord.bitmap)).all() == [
            (0, 1 << 100)
        ]
        platform = conn.execute(select(Platform.__table__)).mappings().one()
        assert platform["guardian"] == anvil_chain.guardian.address.lower()
        assert platform["sanctions_list"] is None
        assert platform["default_oracle"] == anvil_chain.deployment.oracle.lower()
        assert conn.execute(select(PlatformVenue.venue)).scalars().all() == [
            anvil_chain.deployment.contracts["UniswapV2Venue"].lower()
        ]
        assert len(conn.execute(select(OracleFeed)).all()) == 2


def test_index__derived_state_is_a_fold_of_the_events(anvil_chain, stores):
    """Recomputing every derived row from the events table alone gives the same store."""
    run_scenario(anvil_chain)
    engine = stores.engine()
    indexer = _index(engine, anvil_chain)
    before = dump_store(engine)
    with write_transaction(engine) as conn:
        replayed = rebuild_all(conn, anvil_chain.deployment.chain_id, indexer.decoder)
    assert replayed == len(before["events"])
    assert dump_store(engine) == before


def test_index__one_block_ranges_give_the_same_store_as_one_range(anvil_chain, stores):
    run_scenario(anvil_chain)
    whole, tiny = stores.engine(), stores.engine()
    _index(whole, anvil_chain, block_range_initial=10_000)
    indexer = _index(tiny, anvil_chain, block_range_initial=1, block_range_max=1)
    assert indexer.stats.ranges == anvil_chain.head() - anvil_chain.deployment.start_block + 1
    assert_same_store(whole, tiny)


def test_index__follows_new_blocks_incrementally(anvil_chain, stores):
    engine = stores.engine()
    indexer = Indexer(
        engine, anvil_chain.client, anvil_chain.deployment, config=IndexerConfig(confirmations=0)
    )
    assert indexer.sync_once()
    first = indexer.stats.events
    run_scenario(anvil_chain)
    assert indexer.sync_once()
    assert indexer.stats.events > first
    fresh = stores.engine()
    _index(fresh, anvil_chain)
    assert_same_store(engine, fresh)


def test_index__waits_for_confirmations(anvil_chain, stores):
    engine = stores.engine()
    indexer = Indexer(
        engine, anvil_chain.client, anvil_chain.deployment, config=IndexerConfig(confirmations=3)
    )
    indexer.sync_once()
    assert indexer.cursor()[0] == anvil_chain.head() - 3
    anvil_chain.mine(2)
    indexer.sync_once()
    assert indexer.cursor()[0] == anvil_chain.head() - 3
