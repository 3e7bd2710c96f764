"""The one call intake makes per intent (and bench/risk.py makes, so the bench measures the real
path): score, learn, and hand a severe verdict to whoever pauses and alerts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backend.risk.engine import Assessment, IntentView, RiskEngine


@dataclass(frozen=True)
class FlaggedIntent:
    """A hold or severe verdict for the responder: which leader, which intent, why."""

    chain_id: int
    digest: str
    leader: str
    assessment: Assessment


class RiskGate:
    def __init__(
        self,
        engine: RiskEngine,
        *,
        chain_id: int,
        on_flagged: Callable[[FlaggedIntent], None] = lambda case: None,
    ):
        self.engine = engine
        self.chain_id = chain_id
        self.on_flagged = on_flagged

    def judge(self, view: IntentView, digest: str) -> Assessment:
        """The verdict on an intent that passed every intake rule. The intent is learnt at once
        (a burst is seen by the next request, before the store has it); a held or severe one is
        handed to the responder, which records it and, if severe, pauses and alerts in its own
        thread: intake never waits on the chain or the webhook."""
        engine = self.engine  # the refresher may swap it meanwhile: judge with one
        # Requests run in a thread pool: one at a time reads and learns (a deque appended to
        # while another thread iterates it would raise), a few microseconds each.
        with engine.lock:
            assessment = engine.assess(view)
            engine.observe(view, flagged=assessment.action != "admit")
        if assessment.action != "admit":
            self.on_flagged(FlaggedIntent(self.chain_id, digest, view.leader, assessment))
        return assessment
