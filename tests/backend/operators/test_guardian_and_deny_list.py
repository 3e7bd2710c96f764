"""Guardian pauses through the backend's guardian key (refused with a clear 409 unless the vault
accepted the guardian and the factory's guardian is this key), and the deny list's seam."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from backend.db.operator_models import OperatorAction
from backend.services.deny_list import is_denied
from tests.backend.operators.helpers import OpsEnv, error_code


def _vault(ops: OpsEnv, *, accept_guardian: bool = True) -> str:
    a = ops.chain.actions
    vault = a.create_vault(
        [ops.chain.owners[0]],
        leader=ops.chain.leader.address,
        accept_guardian=accept_guardian,
        salt=secrets.randbelow(2**64),
    )
    ops.api.index()
    return vault


def _paused(ops: OpsEnv, vault: str) -> bool:
    a = ops.chain.actions
    return a.view(a.vault_abi, vault, "paused")


def _pause(ops: OpsEnv, op, vault: str):
    return ops.call(
        "POST", f"/v1/operator/vaults/{vault}/guardian-pause", op, json={"reason": "exploit"}
    )


def _actions(ops: OpsEnv) -> int:
    with ops.session() as s:
        return s.scalar(select(func.count()).select_from(OperatorAction))


def test_guardian_pause__accepting_vault__paused_on_chain_by_the_guardian_key(ops: OpsEnv):
    risk = ops.signed_in("risk")
    vault = _vault(ops)
    response = _pause(ops, risk, vault)
    assert response.status_code == 200, response.text
    assert _paused(ops, vault)
    receipt = ops.chain.rpc("eth_getTransactionReceipt", response.json()["tx_hash"])
    assert receipt["from"].lower() == ops.guardian_address.lower()
    again = _pause(ops, risk, vault)
    assert (again.status_code, error_code(again)) == (409, "vault_already_paused")


def test_guardian_pause__vault_without_guardian__409_and_still_running(ops: OpsEnv):
    risk = ops.signed_in("risk")
    vault = _vault(ops, accept_guardian=False)
    response = _pause(ops, risk, vault)
    assert (response.status_code, error_code(response)) == (409, "guardian_not_accepted")
    assert not _paused(ops, vault) and _actions(ops) == 0


def test_guardian_pause__factory_guardian_is_another_key__409_guardian_mismatch(ops: OpsEnv):
    risk = ops.signed_in("risk")
    vault = _vault(ops)
    a = ops.chain.actions
    a.sender(ops.chain.deployer).send(
        ops.chain.deployment.factory,
        a.factory_abi.call_data("setGuardian", ops.chain.guardian.address),
    )
    response = _pause(ops, risk, vault)
    assert (response.status_code, error_code(response)) == (409, "guardian_mismatch")
    assert not _paused(ops, vault) and _actions(ops) == 0


def test_guardian_pause__unknown_vault__404(ops: OpsEnv):
    risk = ops.signed_in("risk")
    response = _pause(ops, risk, "0x" + "ab" * 20)
    assert (response.status_code, error_code(response)) == (404, "vault_not_found")


def test_deny_list__is_denied_seam__returns_the_listed_ones_in_order(ops: OpsEnv):
    compliance = ops.signed_in("compliance")
    bad, good = "0x" + "aa" * 20, "0x" + "bb" * 20
    added = ops.call(
        "PUT", f"/v1/operator/deny-list/{bad}", compliance, json={"reason": "OFAC SDN list"}
    )
    assert added.status_code == 200, added.text
    chain_id = ops.chain.deployment.chain_id
    with ops.session() as s:
        assert is_denied(s, chain_id, [good, bad.upper().replace("0X", "0x"), good]) == [
            "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
        ]
        assert is_denied(s, chain_id, [good]) == []
        assert is_denied(s, chain_id + 1, [bad]) == []
    listed = ops.call("GET", "/v1/operator/deny-list", compliance, totp=None).json()
    assert [(e["address"].lower(), e["reason"]) for e in listed] == [(bad, "OFAC SDN list")]
    removed = ops.call(
        "POST", f"/v1/operator/deny-list/{bad}/remove", compliance, json={"reason": "delisted"}
    )
    assert removed.status_code == 204
    again = ops.call(
        "POST", f"/v1/operator/deny-list/{bad}/remove", compliance, json={"reason": "delisted"}
    )
    assert (again.status_code, error_code(again)) == (404, "not_denied")
