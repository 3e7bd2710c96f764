"""The web app's browser tests: the real server (`copyvault serve`, its indexer and relayer) on a
real anvil, the built app (web/dist) served by it, and Debian's Chromium driven by Playwright with
a scripted EIP-1193 wallet that forwards to anvil (anvil signs for its dev accounts).

Everything heavy is module-scoped: one chain deployment, one server and one browser per module.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from backend.chain.actions import Actions, Key
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_system
from backend.chain.node import start_anvil
from backend.chain.tx import UnlockedSender
from tests.utils.server_process import indexed_through, poll_until, running_server

REPO_ROOT = Path(__file__).resolve().parents[2]
DIST = REPO_ROOT / "web" / "dist"
# Every run writes its screenshots under reports/ (not committed); `make screenshots` sets
# UPDATE_SCREENSHOTS=1 to refresh the committed images in docs/screenshots after a visible change
# (otherwise every test run would rewrite them with a few pixels of rendering noise).
SCREENSHOTS = REPO_ROOT / (
    "docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "reports/screenshots"
)
WALLET_JS = (Path(__file__).parent / "wallet.js").read_text()
AXE_JS = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
# TOOLCHAIN: without the background-networking flags Chromium keeps calling hosts this closed
# network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WETH = 10**18
USDC = 10**6
DEPLOYER, LEADER, DEPOSITOR, RELAYER = 0, 2, 5, 9
OWNERS = (6, 7, 8)
# How long a page may take to show what the chain and the index did (a test waits for a text,
# never for a time: the machine may be slow, never wrong).
UI_TIMEOUT_MS = 60_000
expect.set_options(timeout=UI_TIMEOUT_MS)


@dataclass
class System:
    """A deployment on its own anvil with the server in front of it."""

    rpc_url: str
    deployment: Deployment
    actions: Actions
    client: ChainClient
    api: httpx.Client
    url: str
    # The server's COPYVAULT_CONFIRMATIONS: the index trails the head by this many blocks.
    confirmations: int = 0

    def indexed(self) -> None:
        """Wait until the index has every block mined so far (but the unconfirmed ones)."""
        head = self.client.block_number() - self.confirmations
        assert poll_until(lambda: indexed_through(self.api, head), 60), "the index lags"


@pytest.fixture(scope="module")
def server_settings() -> dict[str, str]:
    """COPYVAULT_* settings of the module's server on top of the test defaults (a module
    overrides this fixture to run its server otherwise)."""
    return {}


@pytest.fixture(scope="module")
def stack(server_settings: dict[str, str]) -> Iterator[System]:
    """anvil + copyvault deployed + a registered leader + `copyvault serve` with the relayer."""
    if not (DIST / "index.html").exists():
        pytest.fail("web/dist is not built: run `make setup` (toolchain/setup.sh builds it)")
    node = start_anvil(accounts=12)
    try:
        client = ChainClient(node.url)
        deployment = deploy_system(client, UnlockedSender(client, Key.anvil(DEPLOYER).address))
        actions = Actions(client, deployment)
        actions.register(Key.anvil(LEADER), "ipfs://web-test-leader")
        with tempfile.TemporaryDirectory(prefix="copyvault-web-") as tmp:
            store = f"sqlite:///{Path(tmp) / 'copyvault.db'}"
            with running_server(
                node.url,
                deployment,
                Path(tmp),
                store,
                relayer=Key.anvil(RELAYER),
                settings=server_settings,
            ) as (api, server):
                confirmations = int(server_settings.get("COPYVAULT_CONFIRMATIONS", "0"))
                stack = System(
                    node.url, deployment, actions, client, api, server["url"], confirmations
                )
                stack.indexed()
                yield stack
    finally:
        node.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


OpenPage = Callable[..., Page]


@pytest.fixture(scope="module")
def open_page(browser: Browser, stack: System) -> Iterator[OpenPage]:
    """open_page(account_index, path="#/follower", chain_id=None, reject=()) -> a page in its own
    browser context (its own wallet), already connected unless `connect=False`."""
    contexts: list[BrowserContext] = []

    def rpc(_source: Any, method: str, params: list[Any]) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return httpx.post(stack.rpc_url, json=body, timeout=30).json()

    def open_(
        account: int,
        path: str = "#/follower",
        *,
        chain_id: int | None = None,
        reject: tuple[str, ...] = (),
        connect: bool = True,
    ) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.expose_binding("__walletRpc", rpc)
        config = {
            "account": Key.anvil(account).address,
            "chainId": hex(chain_id) if chain_id else None,
            "reject": list(reject),
        }
        context.add_init_script(f"({WALLET_JS})({json.dumps(config)})")
        page = context.new_page()
        # What the page logs or throws is printed, so a failing test's output shows it.
        page.on("console", lambda m: print(f"[browser {m.type}] {m.text}"))
        page.on("pageerror", lambda e: print(f"[browser error] {e}"))
        page.on(
            "response",
            lambda r: (
                r.status >= 400 and print(f"[browser http] {r.status} {r.request.method} {r.url}")
            ),
        )
        page.goto(f"{stack.url}/{path}")
        if connect:
            page.get_by_role("button", name="Connect wallet").click()
            page.locator("[data-account]").wait_for()
        wait_until_drawn(page)
        return page

    yield open_
    for context in contexts:
        context.close()


def wait_until_drawn(page: Page) -> None:
    """Wait until the page has drawn what it loads (the app marks <main> busy meanwhile)."""
    expect(page.locator("#page")).to_have_attribute("aria-busy", "false")


def status_of(page: Page, name: str):
    """The status line of one action (pending → confirmed, or the failure as a sentence)."""
    return page.locator(f'[data-status="{name}"]')


def check_accessibility(page: Page) -> list[dict[str, Any]]:
    """axe-core on the page as it is now: the serious and critical violations (none expected)."""
    page.evaluate(AXE_JS.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
