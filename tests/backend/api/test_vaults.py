"""Vault routes over an indexed chain, on both stores: lists by owner and leader, one vault against
the vault's own view functions, its event history page by page."""

from __future__ import annotations

from decimal import Decimal

from eth_utils import to_checksum_address
from sqlalchemy import select

from backend.chain.reader import token_balances, vault_view
from backend.db.models import Event, VaultOwner

WETH_USD = Decimal(3_000)


def _cs(address: str) -> str:
    return to_checksum_address(address)


def _all_pages(env, path: str, **params) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        query = dict(params) | ({"cursor": cursor} if cursor else {})
        page = env.ok(path, **query)
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100


def test_vaults__by_owner__lists_exactly_the_vaults_the_index_says_they_own(read_api):
    chain = read_api.chain
    for owner in [*chain.owners, chain.delegate, chain.depositor]:
        with read_api.engine.connect() as conn:
            expected = sorted(
                conn.scalars(
                    select(VaultOwner.vault).where(VaultOwner.owner == owner.address.lower())
                )
            )
        # Lowercase input is as good as checksummed; pages of one still find them all.
        listed = _all_pages(read_api, "/v1/vaults", owner=owner.address.lower(), limit=1)
        assert [v["address"].lower() for v in listed] == expected
        for item in listed:
            assert owner.address in item["owners"]


def test_vaults__by_leader__and_all(read_api):
    v1, v2, v3 = read_api.scenario["vaults"]
    chain = read_api.chain
    by_leader = read_api.ok("/v1/vaults", leader=chain.leader.address)
    assert {v["address"] for v in by_leader["items"]} == {v1, v3}  # v2 now follows the delegate
    by_delegate = read_api.ok("/v1/vaults", leader=chain.delegate.address)
    assert [v["address"] for v in by_delegate["items"]] == [v2]
    everything = _all_pages(read_api, "/v1/vaults", limit=2)
    assert {v["address"] for v in everything} == {v1, v2, v3}
    assert [v["address"].lower() for v in everything] == sorted(v.lower() for v in (v1, v2, v3))
    # The filters combine: owners[0] now only owns v2, which follows the delegate.
    both = read_api.ok("/v1/vaults", leader=chain.leader.address, owner=chain.owners[1].address)
    assert {v["address"] for v in both["items"]} == {v1, v3}
    none = read_api.ok("/v1/vaults", leader=chain.leader.address, owner=chain.owners[0].address)
    assert none == {"items": [], "next_cursor": None}


def test_vault__detail_equals_the_vaults_own_views(read_api):
    chain = read_api.chain
    weth, usdc = (chain.deployment.tokens[s] for s in ("WETH", "USDC"))
    for vault in read_api.scenario["vaults"]:
        body = read_api.ok(f"/v1/vaults/{vault.lower()}")
        view = vault_view(chain.client, vault)
        assert body["address"] == vault
        assert body["owners"] == [_cs(o) for o in view.owners]
        assert body["threshold"] == view.threshold
        assert body["nonce"] == view.nonce
        assert body["leader"] == _cs(view.leader)
        assert body["flags"] == {
            "paused": view.paused,
            "copying": view.copying,
            "guardian_accepted": view.guardian_accepted,
        }
        assert body["oracle"] == _cs(view.oracle)
        assert tuple(body["policy"].values()) == view.policy
        held = token_balances(chain.client, vault, [weth.address, usdc.address])
        balances = {b["token"]: b for b in body["balances"]}
        for token in (weth, usdc):
            amount = held[token.address.lower()]
            if amount:
                assert int(balances[token.address]["balance"]) == amount
                assert balances[token.address]["symbol"] == token.symbol
                assert balances[token.address]["decimals"] == token.decimals
        # Oracle-valued: WETH at $3,000, USDC at $1 (the deployment's mock feeds).
        expected = (
            Decimal(held[weth.address.lower()]) / 10**18 * WETH_USD
            + Decimal(held[usdc.address.lower()]) / 10**6
        )
        assert Decimal(body["value"]["usd"]) == expected.quantize(Decimal("0.00000001"))
        assert body["value"]["error"] is None and body["value"]["unpriced_tokens"] == []
        for venue in body["allowlist"]["venues"]:
            assert chain.actions.view(chain.actions.vault_abi, vault, "isVenueAllowed", venue)


def test_vault__trade_count_and_creation(read_api):
    v1 = read_api.scenario["vaults"][0]
    body = read_api.ok(f"/v1/vaults/{v1}")
    assert body["trade_count"] == 2  # one sequential, one aggregated batch
    assert body["creator"] == read_api.chain.owners[0].address
    assert body["created_block"] >= read_api.chain.deployment.start_block


def test_vault_events__pages_cover_the_history_in_order_both_ways(read_api):
    v1 = read_api.scenario["vaults"][0]
    with read_api.engine.connect() as conn:
        expected = conn.execute(
            select(Event.block_number, Event.log_index, Event.name)
            .where(Event.vault == v1.lower())
            .order_by(Event.block_number, Event.log_index)
        ).all()
    assert len(expected) > 10
    newest_first = _all_pages(read_api, f"/v1/vaults/{v1}/events", limit=4)
    assert [(e["block_number"], e["log_index"], e["name"]) for e in newest_first] == [
        tuple(r) for r in reversed(expected)
    ]
    oldest_first = _all_pages(read_api, f"/v1/vaults/{v1}/events", limit=7, order="asc")
    assert [(e["block_number"], e["log_index"]) for e in oldest_first] == [
        (r[0], r[1]) for r in expected
    ]
    assert oldest_first[0]["vault"] == v1
    deposits = _all_pages(read_api, f"/v1/vaults/{v1}/events", name="Deposited")
    assert {e["name"] for e in deposits} == {"Deposited"} and len(deposits) == 2
    assert deposits[0]["args"]["token"] in {
        t.address.lower() for t in read_api.chain.deployment.tokens.values()
    }
