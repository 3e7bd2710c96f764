"""The leader's journey in the browser: sign an intent from the page's form (the relayer mirrors it)
and the follower's vault page shows the mirrored trade at the batch's price; the auditor page
lists every deployed contract with its code hash."""

from __future__ import annotations

import re

import pytest
from eth_utils import keccak
from playwright.sync_api import expect

from backend.chain.actions import Key
from tests.web.conftest import (
    DEPOSITOR,
    LEADER,
    OWNERS,
    USDC,
    WETH,
    OpenPage,
    System,
    check_accessibility,
    screenshot,
)
from tests.web.test_follower import form


@pytest.fixture(scope="module")
def follower_vault(stack: System) -> str:
    """A 1-of-1 vault following the leader, holding WETH and USDC."""
    a = stack.actions
    vault = a.create_vault([Key.anvil(OWNERS[0])], leader=Key.anvil(LEADER).address, salt=11)
    a.deposit(vault, a.token("WETH"), 2 * WETH, Key.anvil(DEPOSITOR))
    a.deposit(vault, a.token("USDC"), 1_000 * USDC, Key.anvil(DEPOSITOR))
    stack.indexed()
    return vault


def human_price(scaled: int, decimals_in: int, decimals_out: int) -> str:
    """What the page shows for a 1e18-scaled raw price: token_out per token_in, grouped, four
    decimals cut (web/src/format.ts formatPrice)."""
    human = scaled * 10**decimals_in // 10**decimals_out
    whole, fraction = divmod(human, 10**18)
    cut = f"{fraction:018d}"[:4].rstrip("0")
    return f"{whole:,}" + (f".{cut}" if cut else "")


def test_leader__signs_an_intent_in_the_page__the_follower_sees_the_trade_at_the_batch_price(
    stack: System, open_page: OpenPage, follower_vault: str
):
    leader = open_page(LEADER, "#/leader")
    assert check_accessibility(leader) == []
    screenshot(leader, "leader")
    intent = form(leader, "Sign a trade intent")
    intent.get_by_label("Sell", exact=True).select_option(label="WETH")
    intent.get_by_label("Buy", exact=True).select_option(label="USDC")
    intent.get_by_label("Share of each follower's balance to sell (%)").fill("10")
    intent.get_by_role("button", name="Sign and submit").click()
    outcomes = leader.get_by_role("table", name=re.compile(r"^Intent 0x[0-9a-f]+…: done$"))
    expect(outcomes.get_by_role("row", name=re.compile("mirrored"))).to_have_count(1)
    screenshot(leader, "leader-intent-outcomes")

    leader_address = Key.anvil(LEADER).address
    (latest, *_) = stack.api.get(f"/v1/leaders/{leader_address}").json()["intents"]
    status = stack.api.get(f"/v1/intents/{latest['digest']}").json()
    (batch,) = status["batches"]
    (mirrored,) = [o for o in status["vaults"] if o["vault"] == follower_vault]
    assert mirrored["status"] == "mirrored"

    follower = open_page(OWNERS[0], f"#/vault/{follower_vault}")
    expected = f"{human_price(int(batch['price']), 18, 6)} USDC per WETH"
    expect(follower.locator('[data-field="batch-price"]')).to_have_text(expected)
    chart = follower.get_by_role("img", name=re.compile("Vault value in USD over time"))
    expect(chart.locator("canvas")).to_be_visible()
    whole, cents = stack.api.get(f"/v1/vaults/{follower_vault}").json()["value"]["usd"].split(".")
    expect(follower.locator("figure figcaption")).to_contain_text(f"to ${int(whole):,}.{cents[:2]}")
    assert check_accessibility(follower) == []
    screenshot(follower, "vault-with-trade")


def test_auditor_page__lists_each_contract_with_its_code_hash_on_chain(
    stack: System, open_page: OpenPage
):
    page = open_page(OWNERS[1], "#/auditor", connect=False)
    factory = stack.deployment.factory
    code = stack.client.request("eth_getCode", [factory, "latest"])
    code_hash = "0x" + keccak(hexstr=code).hex()
    contracts = page.get_by_role("table", name=re.compile("compared with the build"))
    row = contracts.get_by_role("row", name=re.compile(f"VaultFactory {factory}"))
    expect(row).to_contain_text(code_hash)
    expect(row).to_contain_text("yes")
    expect(page.get_by_role("heading", name="Security model", exact=True)).to_be_visible()
    assert check_accessibility(page) == []
    screenshot(page, "auditor")


def test_leader__appoints_a_delegate_and_cancels_a_nonce_from_the_page(
    stack: System, open_page: OpenPage
):
    a, leader = stack.actions, Key.anvil(LEADER).address
    delegate = Key.anvil(OWNERS[2]).address
    page = open_page(LEADER, "#/leader")
    delegates = form(page, "Delegates")
    delegates.get_by_label("Delegate address").fill(delegate)
    delegates.get_by_label("Valid for (days)").fill("7")
    delegates.get_by_role("button", name="Appoint").click()
    live = page.get_by_role("table", name="Live delegates")
    expect(live.get_by_role("row", name=re.compile(delegate))).to_be_visible()
    expiry = a.view(a.registry_abi, stack.deployment.registry, "delegateExpiry", leader, delegate)
    assert expiry > a.timestamp() + 6 * 86_400

    cancel = form(page, "Cancel an intent nonce")
    cancel.get_by_label("Nonce").fill("300")
    cancel.get_by_role("button", name="Cancel nonce").click()
    expect(page.locator('[data-status="cancel-nonce"]')).to_contain_text("confirmed in block")
    registry = stack.deployment.registry
    assert a.view(a.registry_abi, registry, "isNonceUsable", leader, 300) is False
    assert a.view(a.registry_abi, registry, "isNonceUsable", leader, 301) is True


def test_new_leader__registers_from_the_page(stack: System, open_page: OpenPage):
    a, newcomer = stack.actions, Key.anvil(3).address
    page = open_page(3, "#/leader")
    expect(page.get_by_text("This address is not a leader yet: register below.")).to_be_visible()
    register = form(page, "Register as a leader")
    register.get_by_label("Profile link").fill("https://example.org/strategy")
    register.get_by_role("button", name="Register").click()
    expect(page.get_by_text("https://example.org/strategy")).to_be_visible()
    registry = stack.deployment.registry
    assert a.view(a.registry_abi, registry, "isRegistered", newcomer) is True
    assert (
        a.view(a.registry_abi, registry, "profileURI", newcomer) == "https://example.org/strategy"
    )
