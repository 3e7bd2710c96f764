"""Rate limits (backend/security/rate_limits.py, backend/api/platform.py): the shared counters on
both stores, the per-process share, the store-outage fallback, and the ways an attacker would try
to get around them (forged X-Forwarded-For, rotating IPv6 host bits or credentials, big pages)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import event, func, select

from backend.api.app import create_app
from backend.api.platform import (
    RateLimiterDep,
    TrustedProxies,
    address_key,
    request_cost,
    request_credentials,
)
from backend.config import load_settings
from backend.db.rate_limit_models import RateLimitHit
from backend.security.rate_limits import (
    Charge,
    RateLimitExceeded,
    SharedRateLimiter,
    credential_digest,
)
from tests.backend.platform.conftest import platform_app

ROOMY = "1000/hour"


def _limiter(per_address: str = ROOMY, **rates: str) -> SharedRateLimiter:
    return SharedRateLimiter(
        per_address=per_address,
        per_credential=rates.get("per_credential", ROOMY),
        per_leader=rates.get("per_leader", ROOMY),
        interval=0.05,
    )


def _admitted(limiter: SharedRateLimiter, charges: list[Charge], times: int, cost: int = 1) -> int:
    admitted = 0
    for _ in range(times):
        try:
            limiter.charge(charges, cost)
        except RateLimitExceeded:
            continue
        admitted += 1
    return admitted


# ----------------------------------------------------------------------------- shared counters


def test_shared_counts__other_process_used_the_limit__refused_after_reconciling(stores):
    engine = stores.engine()
    first, second = _limiter("10/hour"), _limiter("10/hour")
    charges = first.request_charges("203.0.113.7")
    assert _admitted(first, charges, 6) == 6
    second.storage.reconcile(engine)  # reads first's rows: none written yet
    assert _admitted(second, charges, 1) == 1
    first.storage.reconcile(engine)
    assert _admitted(first, charges, 3) == 3  # 6 + 3 + second's 1 (not yet written) = 10
    second.storage.reconcile(engine)  # writes its 1, reads first's 6 (a key it had seen or not)
    first.storage.reconcile(engine)  # writes 9, reads second's 1
    second.storage.reconcile(engine)  # reads only what changed since: first's 9
    for limiter in (first, second):
        with pytest.raises(RateLimitExceeded) as refused:
            limiter.charge(charges)
        assert refused.value.limit == "per client address"
        assert 1 <= refused.value.retry_after <= 2 * 3_600  # the sliding window spans two
        assert "per client address" in str(refused.value) and "10 per hour" in str(refused.value)
    second.storage.reconcile(engine)  # nothing changed: what it knew stays known
    with pytest.raises(RateLimitExceeded):
        second.charge(charges)
    with engine.connect() as conn:
        rows = conn.execute(select(RateLimitHit.process, RateLimitHit.hits)).all()
    assert sorted(hits for _, hits in rows) == [1, 9]
    assert {process for process, _ in rows} == {first.storage.process, second.storage.process}


def test_shared_counts__reconcile_twice__rows_hold_absolute_counts_not_sums(stores):
    engine = stores.engine()
    limiter = _limiter("100/hour")
    charges = limiter.request_charges("198.51.100.1")
    _admitted(limiter, charges, 3)
    limiter.storage.reconcile(engine)
    limiter.storage.reconcile(engine)  # nothing changed: written again or not, still 3
    _admitted(limiter, charges, 2)
    limiter.storage.reconcile(engine)
    with engine.connect() as conn:
        assert conn.scalar(select(func.sum(RateLimitHit.hits))) == 5


def test_share__used_up_between_reconciliations__request_waits_for_the_next_then_admitted(stores):
    url = stores.url()
    stores.engine(url)
    limiter = _limiter("40/hour")  # share: ceil(40 / 20) = 2 hits between reconciliations
    limiter.start(url)
    try:
        deadline = time.monotonic() + 5
        while not limiter.shared:
            assert time.monotonic() < deadline, "the limiter never reconciled"
            time.sleep(0.01)
        charges = limiter.request_charges("192.0.2.44")
        verdicts = [limiter.decide(charges) for _ in range(3)]
        assert [v.admitted for v in verdicts] == [True, True, False]
        assert verdicts[2].wait and verdicts[2].refusal is None
        before = limiter.generation
        asyncio.run(limiter.acharge(charges))  # waits for a reconciliation, then admitted
        assert limiter.generation > before
    finally:
        limiter.stop()


def test_store_unusable__limiter_falls_back_to_this_processs_counts__still_limits(sqlite_stores):
    url = sqlite_stores.url()  # never migrated: every reconciliation fails (no such table)
    limiter = _limiter("5/hour")
    limiter.start(url)
    try:
        charges = limiter.request_charges("192.0.2.9")
        assert _admitted(limiter, charges, 1) == 1  # now there is a count to write
        time.sleep(1.0)
        assert not limiter.shared
        assert _admitted(limiter, charges, 8) == 4
    finally:
        limiter.stop()


# ----------------------------------------------------------------------------- seams


def test_charge_leader__any_case_of_one_address__one_budget():
    limiter = _limiter(per_leader="3/hour")
    leader = "0xAbCdEf0000000000000000000000000000000001"
    limiter.charge_leader(leader)
    limiter.charge_leader(leader.lower())
    limiter.charge_leader(leader.upper().replace("0X", "0x"))
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.charge_leader(leader)
    assert refused.value.limit == "per leader"
    limiter.charge_leader("0x" + "2" * 40)  # another leader has its own budget


def test_charge_principal__own_rate_per_minute__refused_beyond_it():
    limiter = _limiter()
    limiter.charge_principal("apikey:7", 2)
    limiter.charge_principal("apikey:7", 2)
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.charge_principal("apikey:7", 2)
    assert refused.value.limit == "of apikey:7" and "2 per minute" in str(refused.value)
    limiter.charge_principal("apikey:8", "1/minute")


# ----------------------------------------------------------------------------- attacks


def test_rotating_credentials__from_one_address__address_limit_still_holds():
    limiter = _limiter("5/hour")
    admitted = sum(
        _admitted(limiter, limiter.request_charges("203.0.113.50", [f"cvs_forged{i}"]), 1)
        for i in range(10)
    )
    assert admitted == 5


def test_one_credential__from_many_addresses__credential_limit_holds():
    limiter = _limiter(per_credential="4/hour")
    outcomes = []
    for i in range(8):
        try:
            limiter.charge(limiter.request_charges(f"198.51.100.{i}", ["cvk_1_stolen"]))
            outcomes.append("ok")
        except RateLimitExceeded as exc:
            outcomes.append(exc.limit)
    assert outcomes == ["ok"] * 4 + ["per credential"] * 4


def test_credential_key__is_a_digest__the_secret_is_never_stored(stores):
    engine = stores.engine()
    limiter = _limiter()
    secret = "cvs_" + "s3cr3t" * 6
    limiter.charge(limiter.request_charges("192.0.2.1", [secret]))
    limiter.storage.reconcile(engine)
    with engine.connect() as conn:
        keys = conn.scalars(select(RateLimitHit.key)).all()
    assert not any(secret in key or "s3cr3t" in key for key in keys)
    assert any(credential_digest(secret) in key for key in keys)


def test_ipv6_host_bits_rotated__same_64_network__one_budget():
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:203.0.113.5") == "203.0.113.5"
    limiter = _limiter("3/hour")
    admitted = sum(
        _admitted(limiter, limiter.request_charges(address_key(f"2001:db8::{i:x}")), 1)
        for i in range(1, 9)
    )
    assert admitted == 3


def _scope(peer: str, *headers: tuple[bytes, bytes], scheme: str = "http") -> dict:
    return {"type": "http", "client": (peer, 5000), "headers": list(headers), "scheme": scheme}


def test_forwarded_for__from_an_untrusted_peer__ignored():
    proxies = TrustedProxies(["10.0.0.0/8"])
    forged = _scope("203.0.113.9", (b"x-forwarded-for", b"1.2.3.4"))
    assert proxies.client_host(forged) == "203.0.113.9"
    assert TrustedProxies([]).client_host(forged) == "203.0.113.9"
    assert not proxies.is_https(_scope("203.0.113.9", (b"x-forwarded-proto", b"https")))


def test_forwarded_for__through_trusted_proxies__rightmost_untrusted_hop_prepended_ones_ignored():
    proxies = TrustedProxies(["10.0.0.0/8"])
    # The attacker sent "X-Forwarded-For: 6.6.6.6"; the edge proxy appended the real address,
    # the inner proxy the edge's.
    chained = _scope("10.0.0.2", (b"x-forwarded-for", b"6.6.6.6, 198.51.100.23, 10.0.0.1"))
    assert proxies.client_host(chained) == "198.51.100.23"
    split = _scope("10.0.0.2", (b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"7.7.7.7"))
    assert proxies.client_host(split) == "7.7.7.7"
    garbage = _scope("10.0.0.2", (b"x-forwarded-for", b"not-an-ip"))
    assert proxies.client_host(garbage) == "10.0.0.2"
    assert proxies.is_https(_scope("10.0.0.2", (b"x-forwarded-proto", b"https")))


def test_request_cost__big_pages__cost_one_hit_per_50_items():
    assert request_cost({"query_string": b""}) == 1
    assert request_cost({"query_string": b"limit=50"}) == 1
    assert request_cost({"query_string": b"limit=51"}) == 2
    assert request_cost({"query_string": b"cursor=x&limit=200"}) == 4
    assert request_cost({"query_string": b"limit=abc"}) == 1
    assert request_cost({"query_string": b"limit=99999999999"}) == 4  # refused (422) anyway


# ----------------------------------------------------------------------------- through the API


def test_api__forged_forwarded_for_and_big_pages__429_rate_limited_with_retry_after(
    platform_chain, sqlite_stores, tmp_path
):
    with platform_app(
        platform_chain,
        sqlite_stores,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_per_address="8/hour",
    ) as env:
        statuses = [
            env.get("/v1/vaults", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(6)
        ]
        assert statuses == [200] * 6
        assert env.get("/v1/vaults", params={"limit": 100}).status_code == 200  # costs 2: 8 used
        refused = env.get("/v1/vaults")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert "per client address" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["Cache-Control"] == "no-store"
        for _ in range(20):  # probes are never limited
            assert env.get("/v1/health").status_code == 200
        # An OPTIONS that is no CORS preflight is charged like any request (no free flood).
        assert env.client.options("/v1/vaults").status_code == 429


def test_limits_strategy_over_the_shared_storage__agrees_with_decide():
    """The `limits` library's own SlidingWindowCounterRateLimiter runs over the shared storage and
    sees what `decide` counted (the same keys, windows and weighting)."""
    limiter = _limiter("5/hour")
    item = limiter.per_address.items[0]
    assert _admitted(limiter, limiter.request_charges("192.0.2.77"), 3) == 3
    assert limiter.strategy.get_window_stats(item, "address", "192.0.2.77").remaining == 2
    assert limiter.strategy.hit(item, "address", "192.0.2.77", cost=2)
    assert not limiter.strategy.test(item, "address", "192.0.2.77")
    with pytest.raises(RateLimitExceeded):
        limiter.charge(limiter.request_charges("192.0.2.77"))


def test_refused_request__not_counted_against_its_other_limits():
    limiter = _limiter("100/hour", per_credential="2/hour")
    for _ in range(5):
        try:
            limiter.charge(limiter.request_charges("192.0.2.88", ["cvs_same"]))
        except RateLimitExceeded as exc:
            assert exc.limit == "per credential"
    item = limiter.per_address.items[0]
    assert limiter.strategy.get_window_stats(item, "address", "192.0.2.88").remaining == 98


def test_requests__never_write_the_store__at_most_one_upsert_per_reconciliation(stores):
    url = stores.url()
    stores.engine(url)
    limiter = _limiter("100000/hour")
    limiter.start(url)
    writes: list[str] = []
    try:

        @event.listens_for(limiter._engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, _params, _context, _many):
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                writes.append(statement)

        before = limiter.generation
        for i in range(600):
            limiter.charge(limiter.request_charges(f"192.0.2.{i % 3}", [f"cvs_{i % 3}"]))
        time.sleep(0.3)  # let the last counts be written
        reconciliations = limiter.generation - before
    finally:
        limiter.stop()
    assert 0 < len(writes) <= reconciliations + 2  # the +2: the final hand-over and a clean-up
    assert len(writes) < 600 / 10


def test_seam__handler_charges_its_leader__429_rate_limited_from_the_error_handler(
    platform_chain, sqlite_stores, tmp_path
):
    """What intake does after an intent's signature is checked (RateLimiterDep, acharge_leader):
    a RateLimitExceeded raised in a handler is answered 429 with Retry-After, not 500."""
    with platform_app(
        platform_chain,
        sqlite_stores,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_per_leader="2/hour",
    ) as env:

        @env.app.post("/v1/test-charge/{leader}")
        async def charge(leader: str, limiter: RateLimiterDep) -> dict[str, bool]:
            assert limiter is not None
            await limiter.acharge_leader(leader)
            return {"ok": True}

        leader = platform_chain.leader.address
        assert env.post(f"/v1/test-charge/{leader}").status_code == 200
        assert env.post(f"/v1/test-charge/{leader.lower()}").status_code == 200
        refused = env.post(f"/v1/test-charge/{leader}")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert "per leader" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert env.post(f"/v1/test-charge/{platform_chain.keys[5].address}").status_code == 200


def test_request_credentials__bearer_and_session_cookie__both_charged_forged_bearer_buys_nothing():
    scope = {
        "headers": [
            (b"authorization", b"Bearer forged-1"),
            (b"cookie", b"theme=dark; cv_session=cvs_real; other=cvs_second"),
        ]
    }
    assert request_credentials(scope) == ["forged-1", "cvs_real", "cvs_second"]
    many = {"headers": [(b"cookie", "; ".join(f"c{i}=cvs_{i}" for i in range(50)).encode())]}
    assert len(request_credentials(many)) == 3  # more cookies buy nothing
    limiter = _limiter(per_credential="3/hour")
    outcomes = []
    for i in range(5):  # a new forged bearer each time, the same real session cookie
        try:
            limiter.charge(limiter.request_charges("192.0.2.5", [f"forged-{i}", "cvs_real"]))
            outcomes.append("ok")
        except RateLimitExceeded as exc:
            outcomes.append(exc.limit)
    assert outcomes == ["ok"] * 3 + ["per credential"] * 2


@pytest.mark.parametrize("enabled", [True, False])
def test_openapi__documents_429_on_limited_operations_only_when_limits_are_on(enabled):
    schema = create_app(load_settings(rate_limit_enabled=enabled)).openapi()
    vaults = schema["paths"]["/v1/vaults"]["get"]["responses"]
    assert ("429" in vaults) is enabled
    if enabled:
        assert vaults["429"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    assert "429" not in schema["paths"]["/v1/health"]["get"]["responses"]  # a probe: exempt
    assert "408" in schema["paths"]["/v1/intents"]["post"]["responses"]
