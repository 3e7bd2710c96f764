"""Admission control of POST /v1/intents: an intent is admitted only for a registered leader with a
following vault able to trade it (unpaused, copying, holding its tokenIn), and a leader holds at
most COPYVAULT_INTAKE_MAX_PENDING_PER_LEADER intents not yet final. On SQLite and PostgreSQL.

The attack these tests replay: thousands of intents signed by fresh keys that nobody follows, all
accepted and queued ahead of a real leader's intent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from sqlalchemy import update

from backend.chain import eip712
from backend.chain.actions import Key
from backend.db.relay_models import Intent
from tests.backend.api.helpers import open_env, uvicorn_server
from tests.backend.helpers import admit_leader
from tests.backend.intents.conftest import IntakeEnv, assert_error, post_all_at_once

PENDING_LIMIT = 3


def _fresh_key() -> Key:
    account = Account.create()
    return Key(account.address, "0x" + account.key.hex().removeprefix("0x"))


def _own_intent(intake: IntakeEnv, key: Key, nonce: int = 1, **overrides) -> dict:
    """An intent of `key` as its own leader, signed by it."""
    return intake.body(intake.message(leader=key.address, nonce=nonce, **overrides), key)


@pytest.fixture
def limited_intake(anvil_chain, stores, tmp_path) -> Iterator[IntakeEnv]:
    """An admitted leader, and intake holding at most PENDING_LIMIT of its intents not yet final."""
    admit_leader(anvil_chain)
    with open_env(
        anvil_chain, stores, tmp_path, intake_max_pending_per_leader=PENDING_LIMIT
    ) as api:
        yield IntakeEnv(api)


# ----------------------------------------------------------------------------- who is admitted


def test_unregistered_leader__403_leader_not_registered_nothing_stored(bare_intake):
    intake = bare_intake
    message = assert_error(intake.post(intake.body(intake.message())), 403, "leader_not_registered")
    assert "register" in message and intake.chain.leader.address in message
    assert intake.stored() == 0


def test_unregistered_leader_with_a_funded_follower__403_leader_not_registered(bare_intake):
    """Following is not registering: a vault may follow any address, the platform relays only
    for leaders registered in the LeaderRegistry."""
    intake = bare_intake
    _followed(intake, intake.chain.leader.address)  # an address: followed, not registered
    assert_error(intake.post(intake.body(intake.message())), 403, "leader_not_registered")
    assert intake.stored() == 0


def test_registered_leader_without_followers__409_no_funded_follower(bare_intake):
    intake, chain = bare_intake, bare_intake.chain
    chain.actions.register(chain.leader, "ipfs://leader")
    intake.api.index()
    message = assert_error(intake.post(intake.body(intake.message())), 409, "no_funded_follower")
    assert "token_in" in message
    assert intake.stored() == 0


def _followed(intake: IntakeEnv, leader=None, **kwargs) -> str:
    """`admit_leader` (the leader registered unless given as an address), then the chain indexed."""
    vault = admit_leader(intake.chain, leader, **kwargs)
    intake.api.index()
    return vault


def test_follower_holds_only_token_out__409_no_funded_follower(bare_intake):
    intake = bare_intake
    _followed(intake, token="USDC")
    weth_in = intake.body(intake.message(nonce=1))  # sells WETH, which no follower holds
    assert_error(intake.post(weth_in), 409, "no_funded_follower")
    usdc_in = intake.message(
        nonce=2,
        token_in=intake.chain.actions.token("USDC"),
        token_out=intake.chain.actions.token("WETH"),
    )
    assert intake.post(intake.body(usdc_in)).status_code == 202
    assert intake.stored() == 1


@pytest.mark.parametrize("stop", ["pause", "stop_copying"])
def test_only_follower_paused_or_not_copying__409_no_funded_follower(bare_intake, stop):
    """A paused vault or one that stopped copying cannot trade: it does not admit an intent."""
    intake, chain = bare_intake, bare_intake.chain
    vault = _followed(intake)
    assert intake.post(intake.body(intake.message(nonce=1))).status_code == 202
    getattr(chain.actions, stop)(vault, chain.owners[0])
    intake.api.index()
    assert_error(intake.post(intake.body(intake.message(nonce=2))), 409, "no_funded_follower")
    assert intake.stored() == 1


def test_follower_withdrew_everything__409_no_funded_follower(bare_intake):
    intake, chain = bare_intake, bare_intake.chain
    vault = _followed(intake)
    a, owner = chain.actions, chain.owners[0]
    a.withdraw(vault, a.token("WETH"), 10**18, owner.address, [owner], relayer=chain.relayer)
    intake.api.index()
    assert_error(intake.post(intake.body(intake.message())), 409, "no_funded_follower")
    assert intake.stored() == 0


def test_funded_vault_follows_another_leader__409_no_funded_follower(bare_intake):
    intake, chain = bare_intake, bare_intake.chain
    chain.actions.register(chain.leader, "ipfs://leader")
    _followed(intake, chain.delegate, salt=6)  # a funded vault, but of another leader
    assert_error(intake.post(intake.body(intake.message())), 409, "no_funded_follower")
    assert intake.stored() == 0


def test_one_funded_follower_among_empty_ones__admitted(bare_intake):
    intake, chain = bare_intake, bare_intake.chain
    chain.actions.register(chain.leader, "ipfs://leader")
    for salt in (11, 12):  # empty followers
        chain.actions.create_vault([chain.owners[1]], leader=chain.leader.address, salt=salt)
    _followed(intake, chain.leader.address, salt=13)
    assert intake.post(intake.body(intake.message())).status_code == 202


# ----------------------------------------------------------------------------- as an attacker


def test_attack__fresh_unfunded_keys_flood__all_refused_none_stored_no_ecdsa(intake, monkeypatch):
    """The reproduced attack: intents each signed by a fresh key with no followers. Every one is
    refused with 403 from the index alone (no signature is recovered: spam costs one SELECT), and
    the real leader's intent after them is accepted."""
    recovered = []
    real_recover = eip712.recover_address
    monkeypatch.setattr(
        eip712, "recover_address", lambda *args: recovered.append(1) or real_recover(*args)
    )
    for i in range(40):
        key = _fresh_key()
        assert_error(intake.post(_own_intent(intake, key, nonce=i)), 403, "leader_not_registered")
    assert recovered == [] and intake.stored() == 0
    assert intake.post(intake.body(intake.message(nonce=7))).status_code == 202
    assert recovered == [1]
    assert intake.stored() == 1


def test_attack__forged_intent_naming_a_funded_leader__403_unauthorized_signer(intake):
    """Naming a real, funded leader passes admission; the signature is still the leader's to
    give, so the forged intent is refused and nothing is stored."""
    forger = _fresh_key()
    forged = intake.body(intake.message(nonce=3), forger)
    assert_error(intake.post(forged), 403, "unauthorized_signer")
    assert intake.stored() == 0


def test_attack__unregistered_leader_with_malformed_signature__leader_not_registered(bare_intake):
    """The order is fixed and documented: admission is judged before the signature, so an
    unadmitted leader's intent is refused for that whatever its signature bytes."""
    intake = bare_intake
    body = intake.body(intake.message()) | {"signature": "0x" + "00" * 65}
    assert_error(intake.post(body), 403, "leader_not_registered")


def test_attack__self_funded_dust_leader_flood__capped_by_the_pending_limit(limited_intake):
    """An attacker who registers and funds its own vault with 1 wei is admitted; its queue stops at
    the pending limit (429 with Retry-After), and a real leader's intent is still accepted."""
    intake, chain = limited_intake, limited_intake.chain
    attacker = chain.keys[1]
    _followed(intake, attacker, amount=1, salt=77, owner=chain.owners[2])
    codes = [intake.post(_own_intent(intake, attacker, nonce=n)).status_code for n in range(10)]
    assert codes == [202] * PENDING_LIMIT + [429] * (10 - PENDING_LIMIT)
    assert intake.post(intake.body(intake.message(nonce=1))).status_code == 202
    assert intake.stored() == PENDING_LIMIT + 1


# ----------------------------------------------------------------------------- pending limit


def test_pending_limit__429_retry_after_nothing_stored(limited_intake):
    intake = limited_intake
    for nonce in range(PENDING_LIMIT):
        assert intake.post(intake.body(intake.message(nonce=nonce))).status_code == 202
    response = intake.post(intake.body(intake.message(nonce=99)))
    message = assert_error(response, 429, "leader_pending_limit")
    assert str(PENDING_LIMIT) in message
    assert response.headers["Retry-After"] == "12"
    assert intake.stored() == PENDING_LIMIT


def test_pending_limit__final_intents_free_room(limited_intake):
    """Only intents not yet final count: done and rejected ones make room again."""
    intake = limited_intake
    digests = [
        intake.post(intake.body(intake.message(nonce=n))).json()["digest"]
        for n in range(PENDING_LIMIT)
    ]
    assert_error(intake.post(intake.body(intake.message(nonce=50))), 429, "leader_pending_limit")
    for digest, status in zip(digests[:2], ["done", "rejected"], strict=True):
        with intake.api.engine.begin() as conn:
            conn.execute(update(Intent).where(Intent.digest == digest).values(status=status))
    for nonce in (50, 51):
        assert intake.post(intake.body(intake.message(nonce=nonce))).status_code == 202
    assert_error(intake.post(intake.body(intake.message(nonce=52))), 429, "leader_pending_limit")
    assert intake.stored() == PENDING_LIMIT + 2


@pytest.mark.parametrize("status", ["accepted", "planning", "relaying"])
def test_pending_limit__every_unfinished_status_counts(limited_intake, status):
    intake = limited_intake
    for nonce in range(PENDING_LIMIT):
        assert intake.post(intake.body(intake.message(nonce=nonce))).status_code == 202
    with intake.api.engine.begin() as conn:
        conn.execute(update(Intent).values(status=status))
    assert_error(intake.post(intake.body(intake.message(nonce=9))), 429, "leader_pending_limit")


def test_pending_limit__same_intent_again_still_answered(limited_intake):
    """At the limit, an intent already stored is still answered as stored (200): idempotency
    holds whatever the queue."""
    intake = limited_intake
    bodies = [intake.body(intake.message(nonce=n)) for n in range(PENDING_LIMIT)]
    for body in bodies:
        assert intake.post(body).status_code == 202
    again = intake.post(bodies[0])
    assert again.status_code == 200, again.text
    assert intake.stored() == PENDING_LIMIT


def test_pending_limit__per_leader_not_global(limited_intake):
    intake, chain = limited_intake, limited_intake.chain
    for nonce in range(PENDING_LIMIT):
        assert intake.post(intake.body(intake.message(nonce=nonce))).status_code == 202
    other = chain.keys[1]
    _followed(intake, other, salt=78, owner=chain.owners[2])
    assert intake.post(_own_intent(intake, other, nonce=1)).status_code == 202


def test_pending_limit__forged_intent_gets_the_signature_error_not_429(limited_intake):
    """The limit is judged after the signer: a forger learns nothing about the leader's queue."""
    intake = limited_intake
    for nonce in range(PENDING_LIMIT):
        assert intake.post(intake.body(intake.message(nonce=nonce))).status_code == 202
    forged = intake.body(intake.message(nonce=40), _fresh_key())
    assert_error(intake.post(forged), 403, "unauthorized_signer")


def test_attack__concurrent_flood_of_one_leader__only_202_or_429_and_bounded(limited_intake):
    """One leader's 12 intents at once on a real uvicorn server (real concurrency): every answer is
    202 or 429 leader_pending_limit (never a 500 or a store error), what is stored is what was
    answered 202, and at least the limit gets in. The count is read, not locked, so concurrent
    requests may pass it together: at most one per request in flight (documented)."""
    intake = limited_intake
    bodies = [intake.body(intake.message(nonce=500 + i)) for i in range(12)]
    with uvicorn_server(intake.api.app) as url:
        answers = post_all_at_once(url, bodies)
    assert set(answers) <= {(202, None), (429, "leader_pending_limit")}, answers
    accepted = sum(1 for status, _ in answers if status == 202)
    assert PENDING_LIMIT <= accepted <= len(bodies) and intake.stored() == accepted
    # Once the burst is over the limit holds exactly: the next intent is refused.
    assert_error(intake.post(intake.body(intake.message(nonce=900))), 429, "leader_pending_limit")
