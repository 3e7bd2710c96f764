"""Withdrawal and configuration proposals end to end, on both stores: owners propose and sign one
by one (EOA owners with ECDSA, a contract owner through EIP-1271), the ready-to-submit call is
sent on chain, indexed, and the proposal reads as executed; another operation consuming the nonce,
or a passed deadline, makes a proposal stale."""

from __future__ import annotations

import time

from backend.chain import eip712
from backend.chain.abi import ContractAbi
from backend.chain.actions import HOUR, Key
from backend.chain.tx import created_address
from tests.backend.api.helpers import config_body, sign, vault_domain, withdrawal_body

USDC_AMOUNT = 250 * 10**6


def _vault(api, owners, *, threshold: int, salt: int = 7) -> str:
    a = api.chain.actions
    vault = a.create_vault(owners, threshold=threshold, leader=api.chain.leader.address, salt=salt)
    a.deposit(vault, a.token("USDC"), 1_000 * 10**6, api.chain.depositor)
    api.index()
    return vault


def _deadline(api) -> int:
    return api.chain.actions.timestamp() + HOUR


def _withdrawal(api, vault, proposer, **overrides):
    a = api.chain.actions
    values = {
        "token": a.token("USDC"),
        "amount": USDC_AMOUNT,
        "to": api.chain.depositor.address,
        "nonce": 0,
        "deadline": _deadline(api),
    } | overrides
    return withdrawal_body(api.chain, vault, proposer, **values)


def _usdc_of(api, account: str) -> int:
    a = api.chain.actions
    return a.view(a.token_abi, a.token("USDC"), "balanceOf", account)


def test_withdrawal__proposed_signed_one_by_one_submitted_and_indexed__executed(api):
    chain, a = api.chain, api.chain.actions
    owners = chain.owners
    vault = _vault(api, owners, threshold=2)
    body = _withdrawal(api, vault, owners[0])

    created = api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body)
    assert created.status_code == 201, created.text
    proposal = created.json()
    on_chain_digest = a.view(
        a.vault_abi,
        vault,
        "withdrawalDigest",
        body["token"],
        USDC_AMOUNT,
        body["to"],
        0,
        body["deadline"],
    )
    assert proposal["digest"] == "0x" + on_chain_digest.hex()
    assert (proposal["status"], proposal["signatures_needed"], proposal["threshold"]) == (
        "pending",
        1,
        2,
    )
    assert [c["signer"] for c in proposal["confirmations"]] == [owners[0].address]
    assert proposal["confirmations"][0]["method"] == "ecdsa"
    assert proposal["ready_call"] is None
    assert proposal["typed_data"]["primaryType"] == "Withdrawal"
    digest = proposal["digest"]

    # The same proposal again is the same proposal (idempotent), nothing added.
    again = api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body)
    assert again.status_code == 200
    assert again.json()["digest"] == digest and len(again.json()["confirmations"]) == 1
    assert api.proposal_rows() == (1, 1)

    # A second owner signs the typed data the API returned.
    domain, message = eip712.parse_typed_data(proposal["typed_data"])
    signature = "0x" + eip712.sign(owners[2].private_key, domain, message).hex()
    signed = api.post(
        f"/v1/proposals/{digest}/signatures",
        json={"signer": owners[2].address, "signature": signature},
    )
    assert signed.status_code == 201, signed.text
    ready = signed.json()
    assert ready["status"] == "ready" and ready["signatures_needed"] == 0
    call = ready["ready_call"]
    assert call["to"] == vault and call["function"].startswith("withdraw(")
    assert call["signers"] == sorted(call["signers"], key=lambda s: int(s, 16))
    assert set(call["signers"]) == {owners[0].address, owners[2].address}
    # Signing twice changes nothing.
    twice = api.post(
        f"/v1/proposals/{digest}/signatures",
        json={"signer": owners[2].address, "signature": signature},
    )
    assert twice.status_code == 200 and twice.json()["confirmations"] == ready["confirmations"]

    before = _usdc_of(api, chain.depositor.address)
    receipt = a.sender(chain.relayer).send(call["to"], call["data"])
    assert _usdc_of(api, chain.depositor.address) == before + USDC_AMOUNT
    assert api.ok(f"/v1/proposals/{digest}")["status"] == "ready"  # not indexed yet

    api.index()
    executed = api.ok(f"/v1/proposals/{digest}")
    assert executed["status"] == "executed"
    assert executed["executed"]["tx_hash"] == receipt["transactionHash"]
    assert executed["ready_call"] is None
    late = api.post(
        f"/v1/proposals/{digest}/signatures",
        json={"signer": owners[1].address, "signature": sign(owners[1], chain, vault, message)},
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "proposal_closed"
    assert api.proposal_rows() == (1, 2)
    listed = api.ok(f"/v1/vaults/{vault}/proposals", status="executed")
    assert [p["digest"] for p in listed["items"]] == [digest]
    assert api.ok(f"/v1/vaults/{vault}/proposals", status="pending")["items"] == []
    assert api.ok(f"/v1/vaults/{vault}")["nonce"] == 1


def _deploy_contract_owner(api, signer: Key) -> str:
    """A smart-contract account (EIP-1271) that approves digests `signer`'s key signed."""
    chain = api.chain
    wallet = ContractAbi(chain.actions.artifacts.get("MockERC1271Wallet"))
    receipt = chain.actions.sender(chain.deployer).send(None, wallet.deploy_data(signer.address))
    return created_address(receipt)


def test_config_change__contract_owner_signs_with_eip1271__executed(api):
    chain, a = api.chain, api.chain.actions
    wallet_key = chain.keys[1]
    wallet = _deploy_contract_owner(api, wallet_key)
    eoa = chain.owners[0]
    vault = _vault(api, [eoa, Key(wallet, "")], threshold=2)
    data = a.config_call("setThreshold", 1)
    body = config_body(chain, vault, eoa, data=data, nonce=0, deadline=_deadline(api))

    created = api.post(f"/v1/vaults/{vault}/proposals/config", json=body)
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert proposal["function"] == "setThreshold(uint256)"
    assert proposal["kind"] == "config" and proposal["status"] == "pending"
    digest = proposal["digest"]
    message = eip712.ConfigChange(data=data, nonce=0, deadline=body["deadline"])

    # Signed by a key the contract does not accept: refused, nothing stored.
    wrong = api.post(
        f"/v1/proposals/{digest}/signatures",
        json={"signer": wallet, "signature": sign(chain.owners[1], chain, vault, message)},
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_signature"
    assert "isValidSignature" in wrong.json()["error"]["message"]
    assert api.proposal_rows() == (1, 1)

    approved = api.post(
        f"/v1/proposals/{digest}/signatures",
        json={"signer": wallet, "signature": sign(wallet_key, chain, vault, message)},
    )
    assert approved.status_code == 201, approved.text
    ready = approved.json()
    methods = {c["signer"]: c["method"] for c in ready["confirmations"]}
    assert methods == {eoa.address: "ecdsa", wallet: "eip1271"}
    assert ready["status"] == "ready"
    call = ready["ready_call"]
    assert call["function"].startswith("executeConfig(")

    a.sender(chain.relayer).send(call["to"], call["data"])
    api.index()
    assert api.ok(f"/v1/proposals/{digest}")["status"] == "executed"
    assert api.ok(f"/v1/vaults/{vault}")["threshold"] == 1
    assert a.view(a.vault_abi, vault, "threshold") == 1


def test_proposal__nonce_used_by_another_operation__stale_and_the_queued_one_becomes_ready(api):
    chain, a = api.chain, api.chain.actions
    owners = chain.owners
    vault = _vault(api, owners, threshold=2)
    first = api.post(
        f"/v1/vaults/{vault}/proposals/withdrawals", json=_withdrawal(api, vault, owners[0])
    ).json()
    # A proposal queued at the next nonce, fully signed: still pending (queued).
    queued_body = _withdrawal(api, vault, owners[1], nonce=1, amount=5 * 10**6)
    queued = api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=queued_body).json()
    message = eip712.Withdrawal(
        token=queued_body["token"],
        amount=5 * 10**6,
        to=queued_body["to"],
        nonce=1,
        deadline=queued_body["deadline"],
    )
    queued = api.post(
        f"/v1/proposals/{queued['digest']}/signatures",
        json={"signer": owners[2].address, "signature": sign(owners[2], chain, vault, message)},
    ).json()
    assert queued["status"] == "pending" and "queued" in queued["status_reason"]
    assert queued["signatures_needed"] == 0 and queued["ready_call"] is None

    # Another operation (a config change signed off-API) consumes nonce 0.
    a.execute_config(
        vault, a.config_call("setGuardianAccepted", False), owners[:2], relayer=chain.relayer
    )
    api.index()
    stale = api.ok(f"/v1/proposals/{first['digest']}")
    assert stale["status"] == "stale"
    assert "nonce 0" in stale["status_reason"] and "setGuardianAccepted" in stale["status_reason"]
    closed = api.post(
        f"/v1/proposals/{first['digest']}/signatures",
        json={
            "signer": owners[1].address,
            "signature": _withdrawal(api, vault, owners[1])["signature"],
        },
    )
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "proposal_closed"

    now_ready = api.ok(f"/v1/proposals/{queued['digest']}")
    assert now_ready["status"] == "ready"
    a.sender(chain.relayer).send(vault, now_ready["ready_call"]["data"])
    api.index()
    assert api.ok(f"/v1/proposals/{queued['digest']}")["status"] == "executed"

    # Listing by status, and pages of one.
    assert [
        p["digest"] for p in api.ok(f"/v1/vaults/{vault}/proposals", status="stale")["items"]
    ] == [first["digest"]]
    page = api.ok(f"/v1/vaults/{vault}/proposals", limit=1)
    assert page["items"][0]["digest"] == queued["digest"]  # newest first
    rest = api.ok(f"/v1/vaults/{vault}/proposals", limit=1, cursor=page["next_cursor"])
    assert rest["items"][0]["digest"] == first["digest"] and rest["next_cursor"] is None


def test_proposal__deadline_passes__stale(api):
    owners = api.chain.owners
    vault = _vault(api, owners, threshold=2)
    deadline = int(time.time()) + 2
    created = api.post(
        f"/v1/vaults/{vault}/proposals/withdrawals",
        json=_withdrawal(api, vault, owners[0], deadline=deadline),
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    time.sleep(max(0.0, deadline - time.time()) + 1.1)
    stale = api.ok(f"/v1/proposals/{created.json()['digest']}")
    assert stale["status"] == "stale" and "deadline" in stale["status_reason"]


def test_proposal__same_proposal_from_a_second_owner_adds_their_signature(api):
    owners = api.chain.owners
    vault = _vault(api, owners, threshold=3)
    deadline = _deadline(api)
    first = api.post(
        f"/v1/vaults/{vault}/proposals/withdrawals",
        json=_withdrawal(api, vault, owners[0], deadline=deadline),
    )
    # Without a nonce: the vault's current one, hence the same digest.
    body = _withdrawal(api, vault, owners[1], deadline=deadline)
    del body["nonce"]
    second = api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body)
    assert second.status_code == 200
    assert second.json()["digest"] == first.json()["digest"]
    assert {c["signer"] for c in second.json()["confirmations"]} == {
        owners[0].address,
        owners[1].address,
    }
    assert second.json()["signatures_needed"] == 1
    assert api.proposal_rows() == (1, 2)
    assert vault_domain(api.chain, vault).verifying_contract == vault


GARBAGE_SIGNATURES = {
    # Well-formed, but by another owner's key: does not approve the digest for this signer.
    "another_key": "invalid_signature",
    # Not a signature at all (s above the curve order's half).
    "garbage": "malformed_signature",
}


def _bad_signature(api, vault, body, kind: str) -> str:
    if kind == "garbage":
        return "0x" + "ff" * 65
    return _withdrawal(api, vault, api.chain.owners[1], deadline=body["deadline"])["signature"]


def test_proposal_repost__garbage_signature__400_although_the_proposal_exists(api):
    owners = api.chain.owners
    vault = _vault(api, owners, threshold=2)
    body = _withdrawal(api, vault, owners[0])
    assert api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body).status_code == 201
    for kind, code in GARBAGE_SIGNATURES.items():
        again = body | {"signature": _bad_signature(api, vault, body, kind)}
        response = api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=again)
        assert response.status_code == 400, (kind, response.text)
        assert response.json()["error"]["code"] == code
    assert api.proposal_rows() == (1, 1)


def test_signature_repost__garbage_signature_by_an_owner_who_signed__400(api):
    owners = api.chain.owners
    vault = _vault(api, owners, threshold=2)
    body = _withdrawal(api, vault, owners[0])
    digest = api.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body).json()["digest"]
    for kind, code in GARBAGE_SIGNATURES.items():
        signature = _bad_signature(api, vault, body, kind)
        response = api.post(
            f"/v1/proposals/{digest}/signatures",
            json={"signer": owners[0].address, "signature": signature},
        )
        assert response.status_code == 400, (kind, response.text)
        assert response.json()["error"]["code"] == code
    # Signing again with the real signature is still the harmless 200.
    same = {"signer": owners[0].address, "signature": body["signature"]}
    assert api.post(f"/v1/proposals/{digest}/signatures", json=same).status_code == 200
    assert api.proposal_rows() == (1, 1)
