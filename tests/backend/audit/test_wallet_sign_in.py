"""Wallet sign-ins (EIP-4361, backend/services/auth.py) land in the audit trail, on both stores:
the success and every refused attempt with the check that failed, the address and the client,
and never the signature, message or session token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.audit_models import AuditEntry
from tests.backend.auth.conftest import ident  # noqa: F401  (the identity tests' fixture)


def _sign_ins(ident) -> list[AuditEntry]:  # noqa: F811
    with Session(ident.api.engine) as s:
        query = select(AuditEntry).where(AuditEntry.category == "sign_in")
        return list(s.scalars(query.order_by(AuditEntry.seq)))


def test_wallet_sign_in__success_then_replay__both_recorded_without_secrets(ident):  # noqa: F811
    owner = ident.chain.owners[0]
    text = ident.message(owner.address)
    signature = ident.sign(owner, text)
    token = ident.sign_in_response(text, signature).json()["token"]
    assert ident.sign_in_response(text, signature).status_code == 401

    success, replay = _sign_ins(ident)
    wallet = f"wallet:{owner.address.lower()}"
    assert (success.actor, success.action, success.after) == (
        wallet,
        "siwe.sign_in",
        {"success": True, "failure": None},
    )
    assert (replay.actor, replay.action, replay.after["failure"]) == (
        wallet,
        "siwe.sign_in_failed",
        "siwe_nonce_used",
    )
    assert success.client == "testclient"
    for entry in (success, replay):
        assert token not in entry.body and signature[2:] not in entry.body
        assert "Nonce" not in entry.body  # not the signed message either


def test_wallet_sign_in__unparseable_message__recorded_without_an_address(ident):  # noqa: F811
    response = ident.sign_in_response("not a sign-in message", "0x" + "00" * 65)
    assert response.status_code in (400, 401)
    (entry,) = _sign_ins(ident)
    assert entry.actor == "wallet:(unparsed message)" and entry.after["success"] is False
