"""Every user journey from the command line, as a user types it, against anvil and the real server:
a follower's 2-of-3 vault (create, deposit, pause, resume through a proposal, stop), a withdrawal
co-signed by a second owner's account, a leader's registry entry (register, delegate, revoke,
cancel nonces), and a signed intent relayed into a follower. One chain and server for the module.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from backend.chain.node import start_anvil
from tests.backend.cli.user_world import CAROL, PASSPHRASE, STRANGER, World, open_world, run_cli
from tests.backend.conftest import deploy_chain

USDC = 10**6
WETH = 10**18
RELAY_SECONDS = "60"
TRADE = "--token-in WETH --token-out USDC --fraction 10%"
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    node = start_anvil()
    try:
        with open_world(deploy_chain(node), tmp_path_factory.mktemp("cli-world")) as w:
            yield w
    finally:
        node.stop()


def _mint(world: World, symbol: str, alias: str, amount: int) -> None:
    """Test tokens for an account (minting is the test token's, not a user action)."""
    a = world.chain.actions
    a.mint(a.token(symbol), world.address(alias), amount, world.chain.deployer)


def _create_vault(world: World, *owners: str, threshold: int, account: str) -> str:
    owner_args = [arg for alias in owners for arg in ("--owner", world.address(alias))]
    leader = world.chain.leader.address
    args = ("vault", "create", "--leader", leader, *owner_args, "--threshold", str(threshold))
    return world.run(*args, "--json", account=account).json()["vault"]


def _view(world: World, vault: str, fn: str, *args):
    a = world.chain.actions
    return a.view(a.vault_abi, vault, fn, *args)


def _balance(world: World, symbol: str, holder: str) -> int:
    a = world.chain.actions
    return a.view(a.token_abi, a.token(symbol), "balanceOf", holder)


# ----------------------------------------------------------------------------- follower


def test_vault__2_of_3_create_deposit_pause_resume_stop(world):
    vault = _create_vault(world, "cv-alice", "cv-bob", CAROL, threshold=2, account="cv-alice")
    assert _view(world, vault, "threshold") == 2
    owners = {to_checksum_address(o) for o in _view(world, vault, "getOwners")}
    assert owners == {world.address(a) for a in ("cv-alice", "cv-bob", CAROL)}

    _mint(world, "USDC", "cv-alice", 100 * USDC)
    deposit = world.run(
        "vault",
        "deposit",
        vault,
        "--token",
        "USDC",
        "--amount",
        "12.5",
        "--json",
        account="cv-alice",
    ).json()
    assert deposit["amount"] == str(12_500_000)
    assert _balance(world, "USDC", vault) == 12_500_000

    status = world.run("vault", "status", vault, "--json").json()
    assert (status["threshold"], status["paused"], status["copying"]) == (2, False, True)
    assert {"symbol": "USDC", "amount": "12.5 USDC"}.items() <= next(
        b for b in status["balances"] if b["symbol"] == "USDC"
    ).items()

    assert world.run("vault", "pause", vault, account=CAROL).code == 0
    assert _view(world, vault, "paused") is True

    # Resuming raises risk: a configuration proposal the threshold (2) approves.
    world.indexed()
    proposal = world.run("vault", "resume", vault, "--json", account="cv-alice", api=True).json()
    assert (proposal["function"], proposal["status"]) == ("unpause()", "pending")
    signed = world.run(
        "config", "sign", proposal["digest"], "--json", account="cv-bob", api=True
    ).json()
    assert signed["status"] == "ready"
    executed = world.run(
        "config", "execute", proposal["digest"], "--json", account=CAROL, api=True
    ).json()
    assert executed["dry_run"] is False and executed["tx_hash"].startswith("0x")
    assert _view(world, vault, "paused") is False
    world.indexed()
    listed = world.type(f"config list {vault}", api=True).out
    assert "configuration call unpause()" in listed and "status executed" in listed

    assert world.run("vault", "stop", vault, account="cv-bob").code == 0
    assert _view(world, vault, "copying") is False
    text = world.run("vault", "status", vault).out
    assert "stopped copying" in text and "2 of 3" in text and "12.5 USDC" in text


def test_withdrawal__proposed_cosigned_by_a_second_owner_executed(world):
    vault = _create_vault(world, "cv-alice", "cv-bob", CAROL, threshold=2, account="cv-bob")
    _mint(world, "USDC", "cv-bob", 50 * USDC)
    world.run("vault", "deposit", vault, "--token", "USDC", "--amount", "50", account="cv-bob")
    recipient = world.address("TEST::9")
    before = _balance(world, "USDC", recipient)
    world.indexed()

    proposed = world.type(
        f"withdrawal propose {vault} --token USDC --amount 5.25 --to {recipient} --json",
        account="cv-alice",
        api=True,
    ).json()
    digest = proposed["digest"]
    assert (proposed["status"], proposed["signatures_needed"]) == ("pending", 1)
    listed = world.run("withdrawal", "list", vault, "--json", api=True).json()["items"]
    assert [p["digest"] for p in listed] == [digest]
    text = world.type(f"withdrawal list {vault} --status pending", api=True).out
    assert f"withdraw 5.25 USDC to {recipient}" in text and "1 of 2 owner signatures" in text

    early = world.run("withdrawal", "execute", digest, account=CAROL, api=True)
    assert early.code == 1 and "is not ready" in early.err and "Traceback" not in early.err

    cosigned = world.run("withdrawal", "sign", digest, "--json", account="cv-bob", api=True)
    assert cosigned.json()["status"] == "ready"
    executed = world.run("withdrawal", "execute", digest, "--json", account=CAROL, api=True)
    assert executed.json()["tx_hash"].startswith("0x")
    assert _balance(world, "USDC", recipient) - before == 5_250_000
    assert _balance(world, "USDC", vault) == 44_750_000


# ----------------------------------------------------------------------------- leader


def test_leader__register_delegate_revoke_cancel_nonces(world):
    a, registry = world.chain.actions, world.chain.deployment.registry
    leader, delegate = world.address("cv-leader"), world.address("TEST::9")

    def registry_view(fn: str, *args):
        return a.view(a.registry_abi, registry, fn, *args)

    registered = world.run(
        "leader", "register", "--profile-uri", "ipfs://alice-trades", "--json", account="cv-leader"
    ).json()
    assert registered["leader"] == leader
    assert registry_view("isRegistered", leader) and registry_view("profileURI", leader) == (
        "ipfs://alice-trades"
    )

    appointed = world.run(
        "leader", "delegate", delegate, "--for", "1d", "--json", account="cv-leader"
    ).json()
    assert registry_view("delegateExpiry", leader, delegate) == appointed["expiry"]
    assert registry_view("isAuthorizedSigner", leader, delegate)

    assert world.run("leader", "revoke", delegate, account="cv-leader").code == 0
    assert not registry_view("isAuthorizedSigner", leader, delegate)

    assert world.run("leader", "cancel-nonce", "5", "7", account="cv-leader").code == 0
    usable = {n: registry_view("isNonceUsable", leader, n) for n in (5, 6, 7)}
    assert usable == {5: False, 6: True, 7: False}


def test_intent__signed_submitted_and_relayed_into_a_follower(world, tmp_path):
    world.run("leader", "register", "--profile-uri", "ipfs://alice-trades", account="cv-leader")
    follower = _create_vault(world, "cv-alice", threshold=1, account="cv-alice")
    _mint(world, "WETH", "cv-alice", 2 * WETH)
    world.run("vault", "deposit", follower, "--token", "WETH", "--amount", "2", account="cv-alice")
    world.indexed()

    signed_file = tmp_path / "intent.json"
    signed = world.type(
        f"intent sign {TRADE} --min-price 2000 --out {signed_file}", account="cv-leader", api=True
    )
    assert signed.code == 0, signed.err
    assert int(json.loads(signed_file.read_text())["min_price"]) == 2_000 * USDC

    submitted = world.run("intent", "submit", str(signed_file), "--json", api=True).json()
    digest = submitted["digest"]
    status = world.run(
        "intent", "status", digest, "--wait", RELAY_SECONDS, "--json", api=True
    ).json()
    assert status["status"] == "done", status
    assert status["min_price_readable"] == "2000 USDC per WETH"
    outcome = next(v for v in status["vaults"] if v["vault"] == follower)
    assert outcome["status"] == "mirrored" and int(outcome["amount_in"]) == WETH // 5
    assert outcome["price_readable"].endswith(" USDC per WETH")
    assert 2_000 < float(outcome["price_readable"].split()[0]) < 3_100
    assert _balance(world, "WETH", follower) == 2 * WETH - WETH // 5
    text = world.run("intent", "status", digest, api=True).out
    assert f"{follower} mirrored: 0.2 WETH ->" in text and "USDC per WETH" in text


def test_intent__a_delegate_signs_for_its_leader(world):
    world.run("leader", "register", "--profile-uri", "ipfs://alice-trades", account="cv-leader")
    bot, leader = "TEST::9", world.address("cv-leader")
    world.type(f"leader delegate {world.address(bot)} --for 1h", account="cv-leader")
    follower = _create_vault(world, "cv-bob", threshold=1, account="cv-bob")
    _mint(world, "WETH", "cv-bob", WETH)
    world.run("vault", "deposit", follower, "--token", "WETH", "--amount", "1", account="cv-bob")
    world.indexed()

    submitted = world.type(
        f"intent sign --leader {leader} {TRADE} --submit --json", account=bot, api=True
    ).json()
    done = world.type(
        f"intent status {submitted['digest']} --wait {RELAY_SECONDS} --json", api=True
    ).json()
    assert (done["status"], done["leader"], done["signer"]) == ("done", leader, world.address(bot))
    assert next(v for v in done["vaults"] if v["vault"] == follower)["status"] == "mirrored"


# ----------------------------------------------------------------------------- dry runs, errors


def test_dry_run__simulates_and_sends_nothing(world):
    vault = _create_vault(world, "cv-alice", threshold=1, account="cv-alice")
    _mint(world, "USDC", "cv-alice", 3 * USDC)
    client, alice = world.chain.client, world.address("cv-alice")
    head, nonce = world.chain.head(), client.request("eth_getTransactionCount", [alice, "latest"])

    paused = world.run("vault", "pause", vault, "--dry-run", "--json", account="cv-alice").json()
    assert paused["dry_run"] is True and paused["gas_estimate"] > 0 and "tx_hash" not in paused
    created = world.run(
        "vault",
        "create",
        "--leader",
        world.chain.leader.address,
        "--dry-run",
        "--json",
        account="cv-alice",
    ).json()
    assert client.request("eth_getCode", [created["vault"], "latest"]) == "0x"
    text = world.run("vault", "pause", vault, "--dry-run", account="cv-alice").out
    assert text.startswith(f"would pause {vault}") and "simulated, gas estimate" in text

    # A deposit needing an approval: both simulated in one block, the deposit as if approved.
    deposit = world.type(
        f"vault deposit {vault} --token USDC --amount 3 --dry-run --json", account="cv-alice"
    ).json()
    assert [(s["action"], s["dry_run"]) for s in deposit["steps"]] == [
        ("approve 3 USDC", True),
        ("deposit 3 USDC", True),
    ]
    assert _view(world, vault, "paused") is False
    assert _balance(world, "USDC", vault) == 0
    assert world.chain.head() == head
    assert client.request("eth_getTransactionCount", [alice, "latest"]) == nonce


def test_errors__one_clear_line_no_traceback(world, tmp_path):
    vault = _create_vault(world, "cv-alice", threshold=1, account="cv-alice")

    def refused(*args: str, account: str | None = None, api: bool = False) -> str:
        result = world.run(*args, account=account, api=api)
        assert result.code == 1 and result.out == "", result
        assert "Traceback" not in result.err
        return result.err

    err = refused("vault", "pause", vault, account=STRANGER)
    assert f"NotOwnerOrGuardian(caller={world.address(STRANGER)})" in err
    assert "neither an owner of this vault nor the guardian" in err
    err = refused(
        "vault", "deposit", vault, "--token", "USDC", "--amount", "1000000", account=STRANGER
    )
    assert "insufficient balance" in err
    err = refused(
        "vault", "deposit", vault, "--token", "USDC", "--amount", "1.1234567", account="cv-alice"
    )
    assert "more decimals than USDC's 6" in err
    assert "no Ape account 'nobody'" in refused("vault", "pause", vault, account="nobody")
    stranger = world.address(STRANGER)
    line = f"withdrawal propose {vault} --token USDC --amount 1 --to {stranger}"
    err = refused(*line.split(), account="cv-alice", api=True)
    assert "insufficient balance: the vault holds 0 USDC" in err
    err = refused("config", "propose", vault, "setThreshold", "1", account=STRANGER, api=True)
    assert f"{world.address(STRANGER)} ({STRANGER}) is not an owner of {vault}" in err
    err = refused("config", "propose", vault, "setThreshold", account="cv-alice", api=True)
    assert "setThreshold takes 1 argument(s)" in err
    err = refused("vault", "deposit", vault, "--token", "DOGE", "--amount", "1", account=CAROL)
    assert "unknown token 'DOGE'" in err
    _mint(world, "USDC", "cv-alice", USDC)
    world.type(f"vault pause {vault}", account="cv-alice")
    err = refused(
        *f"vault deposit {vault} --token USDC --amount 1 --dry-run".split(), account="cv-alice"
    )
    assert "deposit 1 USDC would fail: VaultPaused()" in err
    leader = world.address("cv-leader")
    err = refused(*f"intent sign --leader {leader} {TRADE}".split(), account=STRANGER, api=True)
    assert f"wrong signer: {world.address(STRANGER)} ({STRANGER}) is neither {leader}" in err
    other_chain = tmp_path / "deployment.json"
    other_chain.write_text(
        world.deployment_file.read_text().replace('"chain_id": 31337', '"chain_id": 1')
    )
    mismatch = run_cli(
        "vault", "status", vault, "--rpc", world.chain.node.url, "--deployment", str(other_chain)
    )
    assert mismatch.code == 1 and "is for chain 1, but the node at" in mismatch.err
    assert "is not a configuration function" in refused(
        "config", "propose", vault, "selfdestruct", account="cv-alice", api=True
    )


def test_errors__wrong_passphrase_is_refused(world, monkeypatch):
    monkeypatch.setenv("APE_ACCOUNTS_cv-bob_PASSPHRASE", "not the passphrase")
    from ape import accounts

    accounts.load("cv-bob").set_autosign(False)  # locked again, as in a new process
    result = world.run("vault", "pause", world.chain.deployment.factory, account="cv-bob")
    assert result.code == 1 and "could not unlock account cv-bob" in result.err


def test_passphrase__prompted_on_stderr_so_stdout_stays_json(world, tmp_path):
    """A keystore without APE_ACCOUNTS_<alias>_PASSPHRASE: the passphrase is asked for (here it
    comes on standard input), the prompt goes to stderr, stdout holds only the JSON result."""
    keystore = json.loads(
        (world.deployment_file.parent / "ape-accounts" / "cv-bob.json").read_text()
    )
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "dave.json").write_text(json.dumps(keystore))
    command = [
        sys.executable,
        "-m",
        "backend.cli",
        "leader",
        "register",
        "--profile-uri",
        "ipfs://d",
        "--dry-run",
        "--json",
        "--account",
        "dave",
        "--rpc",
        world.chain.node.url,
        "--deployment",
        str(world.deployment_file),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("APE_ACCOUNTS_")}
    result = subprocess.run(
        command,
        input=PASSPHRASE + "\n",
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env | {"APE_DATA_FOLDER": str(tmp_path)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["from"] == world.address("cv-bob")
    assert "Enter passphrase to permanently unlock 'dave'" in result.stderr


def test_version():
    version = run_cli("--version")
    assert version.code == 0 and version.out.startswith("copyvault ")


def test_ctrl_c__a_waiting_command_exits_130_without_traceback():
    """Ctrl-C while the command waits for the API (a server that accepts and never answers)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        api = f"http://127.0.0.1:{server.getsockname()[1]}"
        command = [sys.executable, "-m", "backend.cli", "intent", "status", "0x" + "00" * 32]
        process = subprocess.Popen(
            [*command, "--api", api],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server.settimeout(120)
        connection, _ = server.accept()  # the command is inside its request now
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        connection.close()
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and out == ""


def test_signing__a_prepared_document_that_differs_from_the_request_is_refused(world):
    """The command line signs what the API prepared only if it is what the user asked for."""
    from backend.chain import eip712
    from backend.cli.user.common import Env
    from backend.cli.user.signing import checked_document
    from backend.cli.user.units import UserError

    env = Env(world.chain.node.url, world.deployment_file, world.api_url, False, False, None)
    vault, usdc = world.chain.deployment.factory, world.chain.actions.token("USDC")
    asked = {"token": usdc, "amount": 5 * USDC, "to": world.address(CAROL)}
    message = eip712.Withdrawal(**asked, nonce=0, deadline=2**40)

    def prepared(domain: eip712.Domain, msg: eip712.Withdrawal, digest: str | None = None):
        real = "0x" + eip712.digest(domain, msg).hex()
        return {"digest": digest or real, "typed_data": eip712.typed_data(domain, msg)}

    domain = eip712.Domain(chain_id=31_337, verifying_contract=vault)
    assert checked_document(env, prepared(domain, message), contract=vault, expected=asked)[1] == (
        message
    )
    more = eip712.Withdrawal(**(asked | {"amount": 50 * USDC}), nonce=0, deadline=2**40)
    cases = {
        "amount=50000000, not 5000000": prepared(domain, more),
        "for chain 1 /": prepared(eip712.Domain(1, vault), message),
        "announced digest 0x" + "ab" * 32: prepared(domain, message, "0x" + "ab" * 32),
    }
    for refusal, document in cases.items():
        with pytest.raises(UserError, match=refusal.replace("(", r"\(")):
            checked_document(env, document, contract=vault, expected=asked)
