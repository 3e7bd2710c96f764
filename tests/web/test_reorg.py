"""A transaction's progress in the page survives a reorg: after its first receipt the page keeps
watching until the server index's depth of blocks (`confirmations`, here 1) is on top of it; when
a reorg drops the transaction's block (anvil `evm_revert` to a snapshot taken before it) the page
says so and goes back to pending, then confirms the transaction once it is included again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from backend.chain.actions import Key
from tests.web.conftest import LEADER, OpenPage, System, status_of

OWNER = 11
# Every text the action's status line shows, in order (a MutationObserver keeps them, so a text
# the page replaces quickly is still seen).
RECORD_STATUSES = """() => {
  window.__statuses = [];
  new MutationObserver(() => {
    const line = document.querySelector('[data-status="vault-action"]');
    const text = line?.textContent ?? "";
    if (text && window.__statuses.at(-1) !== text) window.__statuses.push(text);
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


@pytest.fixture(scope="module")
def server_settings() -> dict[str, str]:
    # The index (and so the page) waits for one block on top of a transaction's block.
    return {"COPYVAULT_CONFIRMATIONS": "1"}


def rpc(stack: System, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    answer = httpx.post(stack.rpc_url, json=body, timeout=30).json()
    assert "error" not in answer, answer
    return answer["result"]


def resend(stack: System, tx: dict[str, Any]) -> str:
    """Send the same transaction again (same fields: anvil signs it to the same hash), as a node
    re-including a transaction a reorg dropped would."""
    fields = ("from", "to", "input", "nonce", "gas", "value", "chainId", "type")
    fees = ("maxFeePerGas", "maxPriorityFeePerGas") if "maxFeePerGas" in tx else ("gasPrice",)
    return rpc(stack, "eth_sendTransaction", {k: tx[k] for k in (*fields, *fees) if k in tx})


def statuses(page: Page) -> list[str]:
    return page.evaluate("() => window.__statuses")


def test_pause_dropped_by_a_reorg__goes_back_to_pending_then_confirms(
    stack: System, open_page: OpenPage
):
    a = stack.actions
    vault = a.create_vault([Key.anvil(OWNER)], threshold=1, leader=Key.anvil(LEADER).address)
    rpc(stack, "evm_mine")  # the index takes the creation block once a block is on top of it
    stack.indexed()
    page = open_page(OWNER, f"#/vault/{vault}")
    page.evaluate(RECORD_STATUSES)
    status = status_of(page, "vault-action")
    snapshot = rpc(stack, "evm_snapshot")

    page.get_by_role("button", name="Pause", exact=True).click()
    expect(status).to_contain_text("waiting for 1 more block")
    sent = rpc(stack, "eth_getBlockByNumber", "latest", True)["transactions"][0]
    rpc(stack, "evm_revert", snapshot)
    expect(status).to_contain_text("Pausing the vault: dropped by a reorg, waiting again")
    assert a.view(a.vault_abi, vault, "paused") is False

    assert resend(stack, sent) == sent["hash"]
    block = int(rpc(stack, "eth_getTransactionReceipt", sent["hash"])["blockNumber"], 16)
    expect(status).to_contain_text(f"included in block {block}, waiting for 1 more block")
    rpc(stack, "evm_mine")
    expect(page.locator('[data-field="state"]')).to_have_text("Paused")

    assert a.view(a.vault_abi, vault, "paused") is True
    seen = statuses(page)
    dropped = seen.index(
        f"Pausing the vault: dropped by a reorg, waiting again (transaction {sent['hash'][:10]}…)"
    )
    assert f"Pausing the vault: confirmed in block {block}." in seen[dropped:]
    assert not any("confirmed" in s for s in seen[:dropped])
