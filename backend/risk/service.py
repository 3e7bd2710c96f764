"""The risk engine inside an API process: the gate intake calls, the responder thread that
records and acts, and the refresher thread that rebuilds the baselines from the store."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial

from backend.api.deps import AppState
from backend.config import Settings
from backend.risk.alerts import WebhookAlerter
from backend.risk.engine import RiskEngine, RiskPolicy
from backend.risk.gate import RiskGate
from backend.risk.history import PRICE_CACHE_SECONDS, Refresher, rebuild, usd_per_unit
from backend.risk.responder import Pauser, RiskResponder
from backend.services.valuation import PriceBook

JOIN_SECONDS = 5.0


@dataclass
class RiskSystem:
    gate: RiskGate
    responder: RiskResponder
    refresher: Refresher
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.refresher.refresh()  # baselines before the first intent is scored
        self.threads = [self.responder.start(), self.refresher.start()]

    def stop(self) -> None:
        self.refresher.stop.set()
        self.responder.stop()
        for thread in self.threads:
            thread.join(JOIN_SECONDS)


def _pauser_factory(settings: Settings, state: AppState):
    """Builds the guardian's sender once, when a severe verdict first needs it."""
    built: list[Pauser | None] = []

    def pauser() -> Pauser | None:
        if not built:
            if settings.guardian_key_file is None:
                return None
            from backend.chain.tx import SignerSender
            from backend.security.guardian_key import load_guardian_signer

            sender = SignerSender(state.client, load_guardian_signer(settings))
            built.append(Pauser(state.client, state.deployment.factory, sender))
        return built[0]

    return pauser


def build_risk(settings: Settings, state: AppState) -> RiskSystem:
    policy = RiskPolicy.from_settings(settings)
    chain_id = state.deployment.chain_id
    book = PriceBook(PRICE_CACHE_SECONDS)

    def prices(session):
        oracle = state.deployment.oracle.lower()
        return usd_per_unit(session, state.quick_client, book, chain_id, oracle)

    build = partial(
        rebuild,
        state.engine,
        policy,
        chain_id=chain_id,
        history=settings.risk_history_intents,
        prices=prices,
    )
    responder = RiskResponder(
        state.engine,
        pauser=_pauser_factory(settings, state),
        alerter=WebhookAlerter.from_settings(settings),
    )
    gate = RiskGate(RiskEngine(policy), chain_id=chain_id, on_flagged=responder.submit)

    def install(engine: RiskEngine) -> None:
        gate.engine = engine  # one reference swap: requests see the old or the new, whole

    return RiskSystem(gate, responder, Refresher(build, install, settings.risk_refresh_seconds))
