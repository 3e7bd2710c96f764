"""The shared rate limiter wired into intake: each leader is held to its own rate once its
intent's signature is checked, and each API key to the rate its leader gave it (both stores)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backend.api.helpers import open_env
from tests.backend.auth.conftest import SETTINGS, IdentityEnv
from tests.backend.helpers import admit_leader
from tests.backend.intents.conftest import IntakeEnv, assert_error


@pytest.fixture
def limited_intake(anvil_chain, stores, tmp_path) -> Iterator[IntakeEnv]:
    admit_leader(anvil_chain)
    with open_env(
        anvil_chain, stores, tmp_path, rate_limit_enabled=True, rate_limit_per_leader="2/minute"
    ) as api:
        yield IntakeEnv(api)


@pytest.fixture
def limited_ident(anvil_chain, stores, tmp_path) -> Iterator[IdentityEnv]:
    with open_env(anvil_chain, stores, tmp_path, rate_limit_enabled=True, **SETTINGS) as api:
        yield IdentityEnv(api)


def test_intake__leader_over_its_rate__429_rate_limited_nothing_more_stored(limited_intake):
    intake = limited_intake
    for nonce in (1, 2):
        assert intake.post(intake.body(intake.message(nonce=nonce))).status_code == 202
    refused = intake.post(intake.body(intake.message(nonce=3)))
    message = assert_error(refused, 429, "rate_limited")
    assert "leader" in message and int(refused.headers["Retry-After"]) >= 1
    assert intake.stored() == 2


def test_intake__forged_intents_naming_a_leader__do_not_spend_its_rate(limited_intake):
    intake = limited_intake
    attacker = intake.chain.keys[1]
    for nonce in (11, 12, 13):
        forged = intake.post(intake.body(intake.message(nonce=nonce), attacker))
        assert_error(forged, 403, "unauthorized_signer")
    for nonce in (1, 2):
        assert intake.post(intake.body(intake.message(nonce=nonce))).status_code == 202
    assert intake.stored() == 2


def test_api_key__over_its_own_rate__429_rate_limited_nothing_more_stored(limited_ident):
    ident = limited_ident
    ident.register()
    session = ident.sign_in(ident.chain.leader)
    key = ident.create_key(session, rate_per_minute=2)["key"]
    for nonce in (1, 2):
        response = ident.post("/v1/intents", key, json=ident.intent(nonce=nonce))
        assert response.status_code == 202, response.text
    refused = ident.post("/v1/intents", key, json=ident.intent(nonce=3))
    message = assert_error(refused, 429, "rate_limited")
    assert "apikey" in message or "key" in message
    # The leader itself, without the key, is not held to the key's rate.
    assert ident.api.post("/v1/intents", json=ident.intent(nonce=4)).status_code == 202
