"""Leader routes over an indexed chain, on both stores: the list with its figures, one leader with
its intents and trades, trade history pages."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from backend.chain.reader import token_balances
from backend.db.models import MirrorSkip, Trade, Vault, VaultOwner

WETH_USD = Decimal(3_000)


def _usd_of(chain, vaults) -> Decimal:
    weth, usdc = (chain.deployment.tokens[s].address for s in ("WETH", "USDC"))
    total = Decimal(0)
    for vault in vaults:
        held = token_balances(chain.client, vault, [weth, usdc])
        total += Decimal(held[weth.lower()]) / 10**18 * WETH_USD
        total += Decimal(held[usdc.lower()]) / 10**6
    return total.quantize(Decimal("0.00000001"))


def test_leaders__list_has_followers_vaults_aum_and_trades(read_api):
    chain = read_api.chain
    v1, v2, v3 = read_api.scenario["vaults"]
    page = read_api.ok("/v1/leaders")
    assert page["next_cursor"] is None
    by_address = {item["address"]: item for item in page["items"]}
    # The registered leader, and the delegate that v2 now follows (never registered).
    assert set(by_address) == {chain.leader.address, chain.delegate.address}

    leader = by_address[chain.leader.address]
    with read_api.engine.connect() as conn:
        following = set(
            conn.scalars(select(Vault.address).where(Vault.leader == chain.leader.address.lower()))
        )
        followers = set(
            conn.scalars(select(VaultOwner.owner).where(VaultOwner.vault.in_(following)))
        )
        trades = len(
            conn.scalars(
                select(Trade.tx_hash).where(Trade.leader == chain.leader.address.lower())
            ).all()
        )
    assert following == {v1.lower(), v3.lower()}
    assert leader["registered"] is True
    assert leader["profile_uri"] == "ipfs://leader-profile"
    assert leader["vault_count"] == 2
    assert leader["followers"] == len(followers)
    assert leader["trade_count"] == trades == 4  # (v1, v3) x (sequential, aggregated)
    assert Decimal(leader["aum"]["usd"]) == _usd_of(chain, [v1, v3])

    delegate = by_address[chain.delegate.address]
    assert delegate["registered"] is False and delegate["profile_uri"] is None
    assert (delegate["vault_count"], delegate["trade_count"]) == (1, 0)
    assert Decimal(delegate["aum"]["usd"]) == _usd_of(chain, [v2])

    first = read_api.ok("/v1/leaders", limit=1)
    second = read_api.ok("/v1/leaders", limit=1, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    assert [first["items"][0]["address"], second["items"][0]["address"]] == [
        item["address"] for item in page["items"]
    ]


def test_leader__detail_has_delegates_intents_and_trades(read_api):
    chain = read_api.chain
    body = read_api.ok(f"/v1/leaders/{chain.leader.address}")
    assert body["registered_block"] is not None
    assert [d["delegate"] for d in body["delegates"]] == [chain.delegate.address]
    assert len(body["trades"]) == 4
    assert len(body["intents"]) == 2
    with read_api.engine.connect() as conn:
        skips = dict(
            conn.execute(
                select(MirrorSkip.intent_digest, MirrorSkip.reason).where(
                    MirrorSkip.intent_digest.in_([i["digest"] for i in body["intents"]])
                )
            ).all()
        )
    by_nonce = {i["nonce"]: i for i in body["intents"]}
    sequential, aggregated = by_nonce["1"], by_nonce["2"]
    assert sequential["vaults_mirrored"] == 2
    # v2 paused; the address that is no vault in the same batch is ignored, not counted (audit 5)
    assert sequential["vaults_skipped"] == 1
    assert aggregated["vaults_mirrored"] == 2 and aggregated["vaults_skipped"] == 0
    assert sequential["digest"] in skips
    for intent in body["intents"]:
        trades = [t for t in body["trades"] if t["digest"] == intent["digest"]]
        assert int(intent["amount_in"]) == sum(int(t["amount_in"]) for t in trades)
        assert int(intent["amount_out"]) == sum(int(t["amount_out"]) for t in trades)
        assert intent["token_in"] == chain.deployment.tokens["WETH"].address


def test_leader_trades__pages_newest_first(read_api):
    leader = read_api.chain.leader.address
    everything = read_api.ok(f"/v1/leaders/{leader}/trades")["items"]
    assert len(everything) == 4
    keys = [(t["block_number"], t["log_index"]) for t in everything]
    assert keys == sorted(keys, reverse=True)
    paged, cursor = [], None
    while True:
        page = read_api.ok(
            f"/v1/leaders/{leader}/trades", limit=3, **({"cursor": cursor} if cursor else {})
        )
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything
    # The delegate is a known leader (followed) without trades.
    assert read_api.ok(f"/v1/leaders/{read_api.chain.delegate.address}/trades")["items"] == []
