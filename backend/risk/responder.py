"""What follows a flagged intent, done in a thread of its own (intake never waits on it).

- hold: intake already stored the intent as `held` (the relayer never plans it), with its score
  and features; the responder appends the decision to the audit trail (category
  `risk_decision`, actor `system:risk-engine`);
- severe: it also pauses every unpaused vault that follows the leader through the backend's
  guardian key (`pause_with_guardian`: only vaults whose owners accepted the guardian; pausing
  stops trading, never the owners' withdrawals), sends the signed alert, and records both
  outcomes in the same audit entry;
- a new withdrawal proposal: flagged in the audit trail when its recipient is new to the vault
  (backend/risk/withdrawals.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.chain.client import ChainClient
from backend.db.audit_models import AuditEntry
from backend.db.models import Vault
from backend.exceptions import CopyvaultError
from backend.risk.alerts import WebhookAlerter
from backend.risk.gate import FlaggedIntent
from backend.risk.withdrawals import ProposedWithdrawal, assess_withdrawal
from backend.services import audit_log
from backend.services.operator_actions import pause_with_guardian

log = logging.getLogger(__name__)
ACTOR = "system:risk-engine"


@dataclass
class Pauser:
    """The guardian key and where to send its pauses."""

    client: ChainClient
    factory: str
    sender: Any  # SignerSender of the guardian key

    def pause(self, vault: str) -> dict[str, str]:
        checksummed = to_checksum_address(vault)
        try:
            tx_hash = pause_with_guardian(
                self.client, factory=self.factory, vault=checksummed, sender=self.sender
            )
            return {"vault": checksummed, "tx_hash": tx_hash}
        except Exception as exc:  # not accepted, already paused, node away, reverted: recorded
            return {"vault": checksummed, "error": str(exc)}


class RiskResponder:
    def __init__(
        self,
        store: Engine,
        *,
        pauser: Callable[[], Pauser | None],
        alerter: WebhookAlerter | None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.store = store
        self.pauser = pauser  # built when first needed: no guardian key, no pauses (recorded)
        self.alerter = alerter
        self.now = now
        self.queue: queue.Queue[FlaggedIntent | ProposedWithdrawal | None] = queue.Queue()

    # -------------------------------------------------------------- acting

    def submit(self, case: FlaggedIntent | ProposedWithdrawal) -> None:
        self.queue.put(case)

    def handle(self, case: FlaggedIntent | ProposedWithdrawal) -> AuditEntry | None:
        if isinstance(case, ProposedWithdrawal):
            return self._review_withdrawal(case)
        paused, alert = None, None
        if case.assessment.action == "severe":
            paused = self._pause_vaults(case)
            alert = self._alert(case, paused)
        return self._record(case, paused, alert)

    def _followers(self, case: FlaggedIntent) -> list[str]:
        with Session(self.store) as session:
            return list(
                session.scalars(
                    select(Vault.address)
                    .where(
                        Vault.chain_id == case.chain_id,
                        Vault.leader == case.leader,
                        Vault.paused.is_(False),
                    )
                    .order_by(Vault.address)
                )
            )

    def _pause_vaults(self, case: FlaggedIntent) -> list[dict[str, str]]:
        vaults = self._followers(case)
        try:
            pauser = self.pauser()
        except CopyvaultError as exc:  # no guardian key configured: the decision says so
            return [{"vault": to_checksum_address(v), "error": str(exc)} for v in vaults]
        if pauser is None:
            return [{"vault": to_checksum_address(v), "error": "no guardian key"} for v in vaults]
        return [pauser.pause(vault) for vault in vaults]

    def _alert(self, case: FlaggedIntent, paused: list[dict[str, str]]) -> str:
        if self.alerter is None:
            return "not sent: COPYVAULT_RISK_WEBHOOK_URL is not set"
        payload = {
            "event": "risk.severe",
            "chain_id": case.chain_id,
            "intent": case.digest,
            "leader": to_checksum_address(case.leader),
            "score": case.assessment.score,
            "features": case.assessment.features_json(),
            "paused": paused,
            "at": self.now().isoformat(),
        }
        return self.alerter.send(payload)

    def _record(self, case: FlaggedIntent, paused, alert) -> AuditEntry:
        """One audit-trail entry per decision (category `risk_decision`)."""
        verdict = case.assessment
        after: dict[str, Any] = {
            "status": "held",
            "score": verdict.score,
            "features": verdict.features_json(),
        }
        if paused is not None:
            after |= {"paused": paused, "alert": alert}
        with Session(self.store, expire_on_commit=False) as session:
            entry = audit_log.append(
                session,
                category="risk_decision",
                actor=ACTOR,
                action=f"intent.{verdict.action}",
                subject=f"{case.digest}@{case.chain_id}",  # as operator actions name it
                before={"status": "accepted", "leader": to_checksum_address(case.leader)},
                after=after,
                reason=f"score {verdict.score} at or above the {verdict.action} threshold",
                at=self.now(),
            )
            session.commit()
        return entry

    def _review_withdrawal(self, w: ProposedWithdrawal) -> AuditEntry | None:
        with Session(self.store, expire_on_commit=False) as session:
            verdict = assess_withdrawal(session, w)
            session.rollback()  # the read ends before the audit trail's write lock is taken
            if verdict is None:
                return None
            entry = audit_log.append(
                session,
                category="risk_decision",
                actor=ACTOR,
                action="withdrawal.flag",
                subject=f"{w.digest}@{w.chain_id}",
                after={
                    "vault": to_checksum_address(w.vault),
                    "recipient": to_checksum_address(w.recipient),
                    "asset": to_checksum_address(w.token),  # "token" reads as a secret to the trail
                    "amount": str(w.amount),
                    "score": verdict.score,
                    "features": verdict.features_json(),
                },
                reason="a withdrawal proposed to a recipient new to the vault",
                at=self.now(),
            )
            session.commit()
        return entry

    # -------------------------------------------------------------- the thread

    def drain(self) -> int:
        """Handle every queued case now (tests, shutdown); how many."""
        handled = 0
        while True:
            try:
                case = self.queue.get_nowait()
            except queue.Empty:
                return handled
            if case is not None:
                self._handle_logged(case)
                handled += 1
            self.queue.task_done()

    def _handle_logged(self, case: FlaggedIntent | ProposedWithdrawal) -> None:
        try:
            self.handle(case)
        except Exception:  # the store away: the intent itself still holds its score and status
            log.exception("risk: judging or recording %s failed", case.digest)

    def run(self) -> None:
        while (case := self.queue.get()) is not None:
            self._handle_logged(case)
            self.queue.task_done()
        self.queue.task_done()

    def wait_idle(self) -> None:
        """Return once every case submitted so far is handled (tests, orderly shutdown)."""
        self.queue.join()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="risk-responder", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.queue.put(None)
