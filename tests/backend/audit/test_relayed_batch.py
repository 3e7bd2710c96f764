"""Every relayed batch lands in the audit trail (backend/relayer/worker.py), on both stores: the
batch signed (and by which relayer key, with its nonce and transaction) and its final outcome, in
the transactions that changed the batch."""

from __future__ import annotations

from backend.db.audit_models import AuditEntry
from tests.backend.relayer.conftest import WETH, relay  # noqa: F401  (the relayer's fixture)


def test_relayed_batch__signed_and_mined__both_recorded_with_the_transaction(relay):  # noqa: F811
    relay.followers(2, weth=2 * WETH)
    digest = relay.submit(nonce=1, fraction_bps=1_000)

    relay.worker().run_until_idle()

    (batch,) = relay.batches()
    entries = [e for e in relay.rows(AuditEntry) if e.category == "relayed_batch"]
    assert [e.action for e in entries] == ["relayer.batch_signed", "relayer.batch_mined"]
    signed, mined = entries
    assert {e.subject for e in entries} == {digest}
    assert signed.actor == f"relayer:{batch.sender}"
    assert signed.after["tx_hash"] == batch.tx_hash == mined.after["tx_hash"]
    assert (signed.after["batch"], signed.after["nonce"], signed.after["vaults"]) == (
        batch.id,
        batch.tx_nonce,
        2,
    )
    assert (mined.after["mirrored"], mined.after["block"]) == (2, batch.block_number)
