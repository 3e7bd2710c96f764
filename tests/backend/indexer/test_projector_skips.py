"""The projector counts a router skip only for a vault of the factory (audit finding 5): a
MirrorSkipped naming any other address (as the router of old emitted for made-up addresses in a
replayed public intent) yields no skip row, while a vault's skip does. (The rows are checked
before they are written: writing needs the events' own rows, which the indexer stores first.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.db.models import MirrorSkip
from backend.indexer.projector import Projector

CHAIN_ID = 31337
VAULT = "0x" + "11" * 20
MADE_UP = "0x" + "cd" * 20
DIGEST = "0x" + "ab" * 32


@dataclass
class Event:
    contract: str
    name: str
    args: dict[str, Any]
    address: str
    log_index: int
    block_number: int = 7
    block_timestamp: int | None = 1_700_000_000
    tx_hash: str = "0x" + "ee" * 32


class Names:
    vault_functions: dict[str, str] = {}

    def reason_name(self, selector: str) -> str:
        return {"0x4d38e1c4": "VaultPaused()"}.get(selector, selector)


def test_projector__skip_of_an_address_that_is_no_vault__no_row_vaults_skip_recorded(sqlite_stores):
    engine = sqlite_stores.engine()
    with engine.begin() as conn:
        projector = Projector(conn, CHAIN_ID, Names())
        router = "0x" + "22" * 20
        projector.apply(Event("factory", "VaultCreated", {
            "vault": VAULT, "creator": VAULT, "leader": VAULT, "owners": [VAULT],
            "threshold": 1, "oracle": VAULT, "salt": "0x" + "00" * 32,
        }, "0x" + "33" * 20, 0))  # fmt: skip
        for index, vault in enumerate([MADE_UP, VAULT], start=1):
            projector.apply(Event("router", "MirrorSkipped", {
                "vault": vault, "intentDigest": DIGEST, "reason": "0x4d38e1c4",
            }, router, index))  # fmt: skip
        rows = [(r["vault"], r["reason"]) for r in projector.rows[MirrorSkip]]
    assert rows == [(VAULT, "VaultPaused()")]
