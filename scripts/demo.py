"""The end-to-end demo on a local chain: `make demo` (or `python -m scripts.demo` after set-up).

Everything real, nothing mocked: a fresh anvil; copyvault deployed with the real Uniswap V2
bytecode from npm as the venue; the backend server (`python -m backend.cli serve`) with its
indexer and relayer, the relayer's key encrypted at rest for this run. Then, as its users would:

1. followers create vaults (1-of-1, 2-of-3, 3-of-5 owners) and deposit; one pauses, one stops
   copying, one caps trades at 5 %; one vault follows someone else;
2. the leader registers and signs a trade intent in JavaScript, as a wallet's
   eth_signTypedData_v4 does, and posts it to the API; an unregistered key's own intent, a forged
   and an expired intent are refused with their codes, and posting the real one again changes
   nothing;
3. the relayer mirrors the intent into every eligible vault at one price; the demo prints what
   the API says per vault and checks it against the chain;
4. two of three owners approve a withdrawal through the API; anyone sends the ready call; the
   API then shows it executed and the tokens are with the owner.

Exits non-zero if any step does not turn out as described. Takes about half a minute. Then the
server and the chain stay up with the web app open at the printed URL and the funded dev accounts
listed, until Ctrl-C; `--exit` (or COPYVAULT_DEMO_EXIT=1) stops right after the journey instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from backend.api.schemas import intent_submission_body
from backend.chain import eip712
from backend.chain.actions import HOUR, Actions, Key
from backend.chain.client import ChainClient
from backend.chain.demo_world import (
    ACCOUNTS,
    DEPLOYER,
    RELAYER,
    STRANGER,
    USDC,
    WETH,
    Follower,
    describe_accounts,
    seed,
)
from backend.chain.deploy import deploy_system
from backend.chain.js_signer import sign_typed_data_v4_js
from backend.chain.node import start_anvil
from backend.chain.tx import UnlockedSender
from tests.utils.server_process import indexed_through, poll_until, running_server

FRACTION_BPS = 1_000  # the leader sells 10 % of WETH for USDC
WAIT_SECONDS = 60


def say(text: str = "") -> None:
    print(text, flush=True)


def fail(text: str) -> None:
    raise SystemExit(f"demo failed: {text}")


def wait_for(what: str, check: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    result = poll_until(check, seconds)
    if not result:
        fail(f"timed out waiting for {what}")
    return result


def post_intents(api: httpx.Client, a: Actions, leader: Key) -> str:
    """The leader's intent (signed in JavaScript), and two that must be refused; its digest."""
    message = eip712.TradeIntent(
        leader=leader.address,
        venue=a.venue,
        token_in=a.token("WETH"),
        token_out=a.token("USDC"),
        fraction_bps=FRACTION_BPS,
        min_price=0,
        nonce=1,
        deadline=a.timestamp() + HOUR,
    )
    domain = a.domain(a.d.registry)
    signature = sign_typed_data_v4_js(leader.private_key, eip712.typed_data(domain, message))
    accepted = api.post("/v1/intents", json=intent_submission_body(message, signature))
    if accepted.status_code != 202:
        fail(f"the leader's intent was refused: {accepted.text}")
    digest = accepted.json()["digest"]
    say(f"  202 accepted  intent {digest[:18]}… (signed with @metamask/eth-sig-util under Node)")

    stranger = Key.anvil(STRANGER)
    forged = eip712.sign(stranger.private_key, domain, message)
    expired = replace(message, nonce=2, deadline=a.timestamp() - 1)
    # A key nobody follows trading as its own leader: refused by admission, nothing queued.
    unadmitted = replace(message, leader=stranger.address)
    refusals = [
        (
            "an unregistered leader's intent",
            intent_submission_body(
                unadmitted, eip712.sign(stranger.private_key, domain, unadmitted)
            ),
            403,
            "leader_not_registered",
        ),
        (
            "a stranger's signature",
            intent_submission_body(message, forged),
            403,
            "unauthorized_signer",
        ),
        (
            "an expired intent",
            intent_submission_body(expired, eip712.sign(leader.private_key, domain, expired)),
            400,
            "intent_expired",
        ),
    ]
    for what, body, status, code in refusals:
        response = api.post("/v1/intents", json=body)
        got = response.json().get("error", {})
        if response.status_code != status or got.get("code") != code:
            fail(f"{what}: expected {status} {code}, got {response.status_code} {response.text}")
        say(f"  {status} {code:<20} {what}: {got['message'][:70]}…")
    again = api.post("/v1/intents", json=intent_submission_body(message, signature))
    if again.status_code != 200 or again.json()["digest"] != digest:
        fail(f"posting the same intent again: {again.status_code} {again.text}")
    say("  200 (the same intent again: the stored one, not a second relay)")
    return digest


def show_relay(api: httpx.Client, a: Actions, digest: str, followers: list[Follower]) -> None:
    status = wait_for(
        "the relayer to finish", lambda: _done(api.get(f"/v1/intents/{digest}").json())
    )
    (batch,) = status["batches"]
    say(
        f"  one transaction {batch['tx_hash'][:18]}… in block {batch['block_number']}, "
        f"{batch['gas_used']:,} gas, {batch['mirrored']} mirrored, {batch['skipped']} skipped, "
        f"one swap at {int(batch['price']) / USDC:,.2f} USDC per WETH"
    )
    outcomes = {o["vault"]: o for o in status["vaults"]}
    leader = status["leader"]
    for f in followers:
        o = outcomes.get(f.vault)
        if o is None:
            fail(f"{f.name} is missing from the intent's vaults")
        executed = a.view(a.vault_abi, f.vault, "isIntentExecuted", leader, 1)
        if o["status"] == "mirrored":
            sold, bought = int(o["amount_in"]) / WETH, int(o["amount_out"]) / USDC
            line = f"sold {sold:.4f} WETH for {bought:,.2f} USDC"
        else:
            line = f"skipped: {o['reason']}"
        say(f"  {f.name:<27} {line}")
        ok = (
            o["status"] == "mirrored" if f.expect == "mirrored" else f.expect in (o["reason"] or "")
        )
        if not ok or executed != (o["status"] == "mirrored"):
            fail(f"{f.name}: expected {f.expect}, the API says {o}, the chain says {executed}")
    _check_one_price(batch, [o for o in outcomes.values() if o["status"] == "mirrored"])
    say(
        "  every mirrored vault got the batch's price (up to rounding wei); "
        "the chain agrees per vault"
    )


def _check_one_price(batch: dict[str, Any], mirrored: list[dict[str, Any]]) -> None:
    """Each vault's share of the output is its share of the input, rounded down; the router gives
    the rounding remainder (a few wei) to the last vault."""
    total_in, total_out = int(batch["total_in"]), int(batch["total_out"])
    for o in mirrored:
        share = total_out * int(o["amount_in"]) // total_in
        if not share <= int(o["amount_out"]) <= share + len(mirrored):
            fail(f"vault {o['vault']} got {o['amount_out']}, its share is {share}")


def _done(status: dict[str, Any]) -> dict[str, Any] | None:
    if status["status"] == "rejected":
        fail(f"the intent was rejected at relay time: {status['error']}")
    return status if status["status"] == "done" else None


def withdraw_with_two_of_three(api: httpx.Client, a: Actions, f: Follower, client) -> None:
    """Two owners approve through the API; the first sends the ready call."""
    proposer, second = f.owners[0], f.owners[1]
    amount, usdc = 250 * USDC, a.token("USDC")
    message = eip712.Withdrawal(
        token=usdc, amount=amount, to=proposer.address, nonce=a.vault_nonce(f.vault),
        deadline=a.timestamp() + HOUR,
    )  # fmt: skip
    domain = a.domain(f.vault)
    body = {
        "token": usdc, "amount": str(amount), "to": proposer.address,
        "deadline": message.deadline, "nonce": message.nonce, "proposer": proposer.address,
        "signature": "0x" + eip712.sign(proposer.private_key, domain, message).hex(),
    }  # fmt: skip
    created = api.post(f"/v1/vaults/{f.vault}/proposals/withdrawals", json=body)
    if created.status_code != 201:
        fail(f"the withdrawal proposal was refused: {created.text}")
    digest = created.json()["digest"]
    say(f"  proposed by {proposer.address[:10]}…: 250 USDC to themselves; needs 1 more signature")
    signed = api.post(
        f"/v1/proposals/{digest}/signatures",
        json={
            "signer": second.address,
            "signature": "0x" + eip712.sign(second.private_key, domain, message).hex(),
        },
    )
    proposal = signed.json()
    if signed.status_code != 201 or proposal["status"] != "ready":
        fail(f"the second signature: {signed.status_code} {signed.text}")
    before = _balance(a, usdc, proposer.address)
    call = proposal["ready_call"]
    UnlockedSender(client, proposer.address).send(call["to"], bytes.fromhex(call["data"][2:]))
    head = client.block_number()
    wait_for("the index to see the withdrawal", lambda: indexed_through(api, head))
    final = api.get(f"/v1/proposals/{digest}").json()
    received = _balance(a, usdc, proposer.address) - before
    say(f"  second owner signed → ready; sent → {final['status']}; owner received "
        f"{received / USDC:,.2f} USDC")  # fmt: skip
    if final["status"] != "executed" or received != amount:
        fail(f"the withdrawal: status {final['status']}, received {received}")


def _balance(a: Actions, token: str, who: str) -> int:
    return a.view(a.token_abi, token, "balanceOf", who)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    started = time.perf_counter()
    say("copyvault demo: a local chain, the backend, a leader and six followers\n")
    node = start_anvil(accounts=ACCOUNTS)
    try:
        client = ChainClient(node.url)
        deployment = deploy_system(client, UnlockedSender(client, Key.anvil(DEPLOYER).address))
        a = Actions(client, deployment)
        world = seed(a)
        leader, followers, outsider = world.leader, world.followers, world.outsider
        say(f"1. deployed on anvil ({node.url}); leader {leader.address} registered")
        say(f"   {len(followers)} followers and one vault following someone else\n")
        with tempfile.TemporaryDirectory(prefix="copyvault-demo-") as tmp:
            store = f"sqlite:///{Path(tmp) / 'copyvault.db'}"
            with running_server(
                node.url, deployment, Path(tmp), store, relayer=Key.anvil(RELAYER)
            ) as (api, server):
                say(f"2. backend up at {server['url']} (indexer + relayer, key encrypted at rest)")
                head = client.block_number()
                wait_for("the index to catch up", lambda: indexed_through(api, head))
                digest = post_intents(api, a, leader)
                say("\n3. the relayer mirrors the intent")
                show_relay(api, a, digest, followers)
                status = api.get(f"/v1/intents/{digest}").json()
                if outsider in {o["vault"] for o in status["vaults"]}:
                    fail("a vault of another leader was considered")
                say("\n4. a 2-of-3 withdrawal through the API")
                withdraw_with_two_of_three(api, a, followers[1], client)
                say(f"\ndemo finished in {time.perf_counter() - started:.0f}s: every step as "
                    "described")  # fmt: skip
                if not args.exit:
                    stay_open(server["url"], node.url)
    finally:
        node.stop()
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__)
    parser.add_argument(
        "--exit",
        action="store_true",
        default=os.environ.get("COPYVAULT_DEMO_EXIT", "") not in ("", "0", "false"),
        help="stop everything once the journey is done (tests, CI; or COPYVAULT_DEMO_EXIT=1) "
        "instead of leaving the app open",
    )
    return parser.parse_args(argv)


def stay_open(url: str, rpc_url: str) -> None:
    """Leave the server and chain up, with the app at `url`, until Ctrl-C."""
    say(f"\nthe web app: {url}/  (API reference: {url}/docs)")
    say(f"the chain: {rpc_url} (chain id 31337): point the wallet there")
    say(describe_accounts())
    say("\nCtrl-C stops the server and the chain.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("\nstopping")


if __name__ == "__main__":
    sys.exit(main())
