"""A follower's journeys in the browser: create a 2-of-3 vault and deposit; pause with one click;
a withdrawal proposed in one browser, co-signed in another, executed, paid out on chain; and a
wallet on the wrong network or rejecting a signature, each shown as a sentence; and a Safe as an
owner, co-signing through EIP-1271 from its own owner's browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from backend.chain.actions import Key
from tests.utils.safe import deploy_safe
from tests.web.conftest import (
    DEPLOYER,
    DEPOSITOR,
    LEADER,
    OWNERS,
    WETH,
    OpenPage,
    System,
    check_accessibility,
    screenshot,
    status_of,
)

FIRST, SECOND, THIRD = OWNERS
# The owners of the Safes that co-own the vaults of the Safe tests (anvil accounts no other test
# uses): SAFE_OWNER alone, or with SECOND_SAFE_OWNER in a 2-of-2 Safe.
SAFE_OWNER, SECOND_SAFE_OWNER = 10, 11


@pytest.fixture(scope="module")
def deposited_vault(stack: System) -> str:
    """A 2-of-3 vault following the leader, holding 3 WETH (made with the backend's own actions)."""
    a = stack.actions
    owners = [Key.anvil(i) for i in OWNERS]
    vault = a.create_vault(owners, threshold=2, leader=Key.anvil(LEADER).address, salt=7)
    a.deposit(vault, a.token("WETH"), 3 * WETH, Key.anvil(DEPOSITOR))
    stack.indexed()
    return vault


def form(page: Page, title: str):
    return page.locator("form", has=page.get_by_role("heading", name=title, exact=True))


def weth_balance(stack: System, who: str) -> int:
    a = stack.actions
    return a.view(a.token_abi, a.token("WETH"), "balanceOf", who)


def propose_withdrawal(page: Page, weth: str) -> str:
    """Propose a withdrawal of `weth` WETH (to the proposer) on a vault page; the proposal's
    digest, once the page has moved to the proposal's link."""
    withdraw = form(page, "Propose a withdrawal")
    withdraw.get_by_label("Token").select_option(label="WETH")
    withdraw.get_by_label("Amount").fill(weth)
    withdraw.get_by_role("button", name="Sign and propose").click()
    page.wait_for_url(re.compile(r"#/proposal/0x[0-9a-f]{64}$"))
    return page.url.rsplit("/", 1)[1]


def assert_accessible(page: Page) -> None:
    assert check_accessibility(page) == []


def test_follower__creates_a_2_of_3_vault_and_deposits(stack: System, open_page: OpenPage):
    a = stack.actions
    owners = [Key.anvil(i).address for i in OWNERS]
    a.mint(a.token("WETH"), owners[0], 2 * WETH, owners[0])
    page = open_page(FIRST)
    expect(page.get_by_role("heading", name="Create a vault")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "follower")

    create = form(page, "Create a vault")
    create.get_by_label("Owners (one address per line)").fill("\n".join(owners))
    create.get_by_label("Signatures needed (threshold)").fill("2")
    create.get_by_label("Leader to copy").select_option(Key.anvil(LEADER).address)
    create.get_by_role("button", name="Create vault").click()
    page.wait_for_url(re.compile(r"#/vault/0x[0-9a-fA-F]{40}$"))
    vault = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name=re.compile(r"^Vault 0x"))).to_be_visible()

    deposit = form(page, "Deposit")
    deposit.get_by_label("Token").select_option(label="WETH")
    deposit.get_by_label("Amount").fill("1.5")
    deposit.get_by_role("button", name="Approve and deposit").click()
    balances = page.get_by_role("table", name=re.compile("Balances"))
    expect(balances.get_by_role("row", name=re.compile(r"WETH 1\.5 1\.5"))).to_be_visible()

    assert a.view(a.vault_abi, vault, "threshold") == 2
    assert [o.lower() for o in a.view(a.vault_abi, vault, "getOwners")] == [
        o.lower() for o in owners
    ]
    assert a.view(a.token_abi, a.token("WETH"), "balanceOf", vault) == 3 * WETH // 2
    assert_accessible(page)
    screenshot(page, "vault")


def test_follower__pauses_the_vault_with_one_click(
    stack: System, open_page: OpenPage, deposited_vault: str
):
    page = open_page(THIRD, f"#/vault/{deposited_vault}")
    expect(page.locator('[data-field="state"]')).to_have_text("Copying")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator('[data-field="state"]')).to_have_text("Paused")
    a = stack.actions
    assert a.view(a.vault_abi, deposited_vault, "paused") is True


def test_withdrawal__proposed_in_one_browser_cosigned_in_another_executed(
    stack: System, open_page: OpenPage, deposited_vault: str
):
    recipient = Key.anvil(FIRST).address
    before = weth_balance(stack, recipient)
    proposer = open_page(FIRST, f"#/vault/{deposited_vault}")
    propose_withdrawal(proposer, "0.5")
    link = proposer.url
    expect(proposer.locator('[data-field="signatures"]')).to_have_text("1 of 2")
    assert_accessible(proposer)
    screenshot(proposer, "proposal")

    co_owner = open_page(SECOND, link.split("/", 3)[3])
    expect(co_owner.locator('[data-field="signatures"]')).to_have_text("1 of 2")
    co_owner.get_by_role("button", name="Sign", exact=True).click()
    expect(co_owner.locator('[data-field="proposal-status"]')).to_have_text("ready")
    expect(co_owner.locator('[data-field="signatures"]')).to_have_text("2 of 2")
    co_owner.get_by_role("button", name="Execute").click()
    expect(co_owner.locator('[data-field="proposal-status"]')).to_have_text("executed")

    assert weth_balance(stack, recipient) - before == WETH // 2


def test_wallet_on_the_wrong_network__is_told_to_switch(
    stack: System, open_page: OpenPage, deposited_vault: str
):
    page = open_page(FIRST, f"#/vault/{deposited_vault}", chain_id=1)
    wallet_status = status_of(page, "wallet")
    expect(wallet_status).to_contain_text("Wrong network: your wallet is on chain 1")
    page.get_by_role("button", name="Stop copying").click()
    expect(status_of(page, "vault-action")).to_contain_text(
        f"Your wallet is on the wrong network (chain 1). Switch it to chain "
        f"{stack.deployment.chain_id}"
    )
    screenshot(page, "wrong-network")
    page.get_by_role("button", name="Switch network").click()
    expect(wallet_status).to_have_count(0)


def test_rejected_signature__says_nothing_was_signed(
    stack: System, open_page: OpenPage, deposited_vault: str
):
    page = open_page(SECOND, f"#/vault/{deposited_vault}", reject=("eth_signTypedData_v4",))
    withdraw = form(page, "Propose a withdrawal")
    withdraw.get_by_label("Amount").fill("0.1")
    withdraw.get_by_role("button", name="Sign and propose").click()
    expect(status_of(page, "propose-withdrawal")).to_have_text(
        "You rejected the request in your wallet. Nothing was signed or sent."
    )
    proposals = stack.api.get(f"/v1/vaults/{deposited_vault}/proposals").json()["items"]
    assert all(p["amount"] != str(WETH // 10) for p in proposals)


def test_config_change__unpause_is_proposed_cosigned_and_executed(
    stack: System, open_page: OpenPage, deposited_vault: str
):
    a = stack.actions
    if not a.view(a.vault_abi, deposited_vault, "paused"):
        a.pause(deposited_vault, Key.anvil(THIRD))
        stack.indexed()
    proposer = open_page(SECOND, f"#/vault/{deposited_vault}")
    change = form(proposer, "Propose a change")
    change.get_by_label("Change").select_option(label="Unpause the vault")
    change.get_by_role("button", name="Sign and propose").click()
    proposer.wait_for_url(re.compile(r"#/proposal/0x[0-9a-f]{64}$"))
    expect(proposer.get_by_text("Call unpause")).to_be_visible()

    co_owner = open_page(THIRD, proposer.url.split("/", 3)[3])
    co_owner.get_by_role("button", name="Sign", exact=True).click()
    expect(co_owner.locator('[data-field="proposal-status"]')).to_have_text("ready")
    co_owner.get_by_role("button", name="Execute").click()
    expect(co_owner.locator('[data-field="proposal-status"]')).to_have_text("executed")
    assert a.view(a.vault_abi, deposited_vault, "paused") is False


def vault_with_a_safe_owner(stack: System, safe_owners: list[int], salt: int) -> tuple[str, str]:
    """(vault, safe): a 2-of-2 vault owned by FIRST and a Safe 1.4.1 that needs all of
    `safe_owners`, with 1 WETH."""
    a = stack.actions
    keys = [Key.anvil(i) for i in safe_owners]
    safe = deploy_safe(a.client, Key.anvil(DEPLOYER), keys, threshold=len(keys))
    # A contract owner has no key: create_vault only reads the owners' addresses.
    owners = [Key.anvil(FIRST), Key(safe, private_key="")]
    vault = a.create_vault(
        owners, threshold=2, leader=Key.anvil(LEADER).address, salt=salt, sender=Key.anvil(FIRST)
    )
    a.deposit(vault, a.token("WETH"), WETH, Key.anvil(DEPOSITOR))
    stack.indexed()
    return vault, safe


@pytest.fixture(scope="module")
def safe_owned_vault(stack: System) -> tuple[str, str]:
    return vault_with_a_safe_owner(stack, [SAFE_OWNER], salt=8)


def sign_for_safe(page: Page, safe: str) -> None:
    page.get_by_role("button", name=f"Sign for Safe {safe[:6]}…{safe[-4:]}").click()


def confirmation_methods(stack: System, digest: str) -> set[tuple[str, str]]:
    confirmations = stack.api.get(f"/v1/proposals/{digest}").json()["confirmations"]
    return {(c["signer"].lower(), c["method"]) for c in confirmations}


def test_withdrawal__cosigned_for_a_safe_owner_through_eip1271(
    stack: System, open_page: OpenPage, safe_owned_vault: tuple[str, str]
):
    vault, safe = safe_owned_vault
    recipient = Key.anvil(FIRST).address
    before = weth_balance(stack, recipient)
    proposer = open_page(FIRST, f"#/vault/{vault}")
    digest = propose_withdrawal(proposer, "0.25")

    safe_owner = open_page(SAFE_OWNER, f"#/proposal/{digest}")
    expect(safe_owner.locator('[data-field="signatures"]')).to_have_text("1 of 2")
    sign_for_safe(safe_owner, safe)
    expect(safe_owner.locator('[data-field="proposal-status"]')).to_have_text("ready")
    expect(safe_owner.locator('[data-field="signatures"]')).to_have_text("2 of 2")
    expect(
        safe_owner.get_by_role("row", name=re.compile("contract \\(EIP-1271\\)"))
    ).to_contain_text(safe)
    assert_accessible(safe_owner)
    safe_owner.get_by_role("button", name="Execute").click()
    expect(safe_owner.locator('[data-field="proposal-status"]')).to_have_text("executed")

    assert confirmation_methods(stack, digest) == {
        (recipient.lower(), "ecdsa"),
        (safe.lower(), "eip1271"),
    }
    assert weth_balance(stack, recipient) - before == WETH // 4


def test_proposal__cosigned_for_a_2_of_2_safe_by_both_its_owners(
    stack: System, open_page: OpenPage
):
    vault, safe = vault_with_a_safe_owner(stack, [SAFE_OWNER, SECOND_SAFE_OWNER], salt=9)
    proposer = open_page(FIRST, f"#/vault/{vault}")
    digest = propose_withdrawal(proposer, "0.1")

    first = open_page(SAFE_OWNER, f"#/proposal/{digest}")
    sign_for_safe(first, safe)
    expect(status_of(first, "proposal")).to_have_text(
        "Signed: 1 of the Safe's 2 signatures. Send yours to another owner of the Safe."
    )
    signature = first.locator('[data-field="safe-signature"] code').inner_text()
    assert confirmation_methods(stack, digest) == {(Key.anvil(FIRST).address.lower(), "ecdsa")}

    second = open_page(SECOND_SAFE_OWNER, f"#/proposal/{digest}")
    pasted = second.get_by_label("Signatures of the Safe's other owners (one per line)")
    pasted.fill("0x1234")
    sign_for_safe(second, safe)
    expect(status_of(second, "proposal")).to_have_text(
        '"0x1234…" is not a 65-byte signature (0x and 130 hex digits).'
    )
    pasted.fill(signature)
    sign_for_safe(second, safe)
    expect(second.locator('[data-field="proposal-status"]')).to_have_text("ready")
    assert confirmation_methods(stack, digest) == {
        (Key.anvil(FIRST).address.lower(), "ecdsa"),
        (safe.lower(), "eip1271"),
    }


def test_config_change__risk_policy_edited_from_the_filled_in_one__cosigned_and_executed(
    stack: System, open_page: OpenPage, deposited_vault: str
):
    before = _policy(stack, deposited_vault)
    proposer = open_page(SECOND, f"#/vault/{deposited_vault}")
    change = form(proposer, "Propose a change")
    change.get_by_label("Change", exact=True).select_option(label="Change the risk policy")
    trades = change.get_by_label("Trades per day at most")
    expect(trades).to_have_value(str(before[3]))  # the policy in force, filled in
    expect(change.get_by_label("Address")).to_be_hidden()
    trades.fill(str(before[3] - 1))
    change.get_by_role("button", name="Sign and propose").click()
    proposer.wait_for_url(re.compile(r"#/proposal/0x[0-9a-f]{64}$"))
    expect(proposer.get_by_text("Call setPolicy")).to_be_visible()

    co_owner = open_page(THIRD, proposer.url.split("/", 3)[3])
    co_owner.get_by_role("button", name="Sign", exact=True).click()
    co_owner.get_by_role("button", name="Execute").click()
    expect(co_owner.locator('[data-field="proposal-status"]')).to_have_text("executed")
    assert _policy(stack, deposited_vault) == (*before[:3], before[3] - 1, before[4])


def test_config_change__not_an_address__said_on_the_page_nothing_proposed(
    stack: System, open_page: OpenPage, deposited_vault: str
):
    proposals_before = stack.api.get(f"/v1/vaults/{deposited_vault}/proposals").json()["items"]
    page = open_page(SECOND, f"#/vault/{deposited_vault}")
    change = form(page, "Propose a change")
    change.get_by_label("Change", exact=True).select_option(label="Add an owner")
    change.get_by_label("Address").fill("0x1234")
    change.get_by_role("button", name="Sign and propose").click()
    expect(status_of(page, "propose-config")).to_have_text(
        '"0x1234" is not an address: 0x followed by 40 hex digits.'
    )
    proposals = stack.api.get(f"/v1/vaults/{deposited_vault}/proposals").json()["items"]
    assert proposals == proposals_before


def _policy(stack: System, vault: str) -> tuple[int, ...]:
    a = stack.actions
    return tuple(a.view(a.vault_abi, vault, "policy"))
