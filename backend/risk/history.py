"""Baselines from the store: the state every API process shares.

`rebuild` reads the latest COPYVAULT_RISK_HISTORY_INTENTS intents (one SELECT, in id order), the
tokens indexed trades touched, and the oracle's prices, and returns a fresh `RiskEngine`. The
refresher thread swaps it in every COPYVAULT_RISK_REFRESH_SECONDS, so what another process
accepted (a burst spread over several processes, a hold elsewhere) reaches this one within that
time; intake never reads the store for scoring.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, select, union
from sqlalchemy.orm import Session

from backend.chain.client import ChainClient
from backend.db.models import OracleFeed, Trade
from backend.db.relay_models import Intent
from backend.db.types import utc_aware
from backend.exceptions import ChainError
from backend.risk.engine import IntentView, RiskEngine, RiskPolicy
from backend.services.valuation import PriceBook

log = logging.getLogger(__name__)
PRICE_CACHE_SECONDS = 10.0


def _view(row) -> IntentView:
    at = utc_aware(row.received_at)
    assert at is not None
    return IntentView(
        leader=row.leader,
        venue=row.venue,
        token_in=row.token_in,
        token_out=row.token_out,
        fraction_bps=row.fraction_bps,
        min_price=row.min_price,
        at=at.timestamp(),
    )


def _flagged(row, policy: RiskPolicy) -> bool:
    """Held or rejected (by the engine or an operator), or scored past the hold threshold."""
    return row.status in ("held", "rejected") or (row.risk_score or 0) >= policy.hold_score


def load_intents(engine: RiskEngine, session: Session, chain_id: int, limit: int) -> None:
    latest = (
        select(
            Intent.id,
            Intent.leader,
            Intent.venue,
            Intent.token_in,
            Intent.token_out,
            Intent.fraction_bps,
            Intent.min_price,
            Intent.received_at,
            Intent.status,
            Intent.risk_score,
        )
        .where(Intent.chain_id == chain_id)
        .order_by(Intent.id.desc())
        .limit(limit)
        .subquery()
    )
    for row in session.execute(select(latest).order_by(latest.c.id)):
        engine.observe(_view(row), flagged=_flagged(row, engine.policy))


def load_traded_tokens(engine: RiskEngine, session: Session, chain_id: int) -> None:
    tokens = union(
        select(Trade.token_in.label("token")).where(Trade.chain_id == chain_id),
        select(Trade.token_out.label("token")).where(Trade.chain_id == chain_id),
    )
    for token in session.scalars(select(tokens.subquery().c.token)):
        engine.learn_token(token)


def usd_per_unit(
    session: Session, client: ChainClient, book: PriceBook, chain_id: int, oracle: str
) -> dict[str, float]:
    """token -> US dollars per raw unit, from the oracle's feeds (empty if the node is away)."""
    feeds = session.execute(
        select(OracleFeed).where(OracleFeed.chain_id == chain_id, OracleFeed.oracle == oracle)
    ).scalars()
    feeds = list(feeds)
    try:
        answers = book.answers(client, [f.feed for f in feeds])
    except ChainError as exc:
        log.warning("risk: oracle prices unavailable, the price feature waits: %s", exc)
        return {}
    return {
        f.token: answers[f.feed] / 10 ** (f.feed_decimals + f.token_decimals)
        for f in feeds
        if answers.get(f.feed, 0) > 0
    }


def rebuild(
    store: Engine,
    policy: RiskPolicy,
    *,
    chain_id: int,
    history: int,
    prices: Callable[[Session], dict[str, float]] | None = None,
) -> RiskEngine:
    engine = RiskEngine(policy)
    with Session(store) as session:
        load_intents(engine, session, chain_id, history)
        load_traded_tokens(engine, session, chain_id)
        if prices is not None:
            engine.usd_per_unit = prices(session)
    return engine


class Refresher:
    """Rebuilds the gate's engine from the store every `interval` seconds, in a thread."""

    def __init__(
        self,
        build: Callable[[], RiskEngine],
        install: Callable[[RiskEngine], None],
        interval: float,
    ):
        self.build, self.install, self.interval = build, install, interval
        self.stop = threading.Event()

    def refresh(self) -> None:
        self.install(self.build())

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # a store outage: keep the baselines we have, try again later
                log.exception("risk: rebuilding the baselines failed; keeping the current ones")

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="risk-refresher", daemon=True)
        thread.start()
        return thread
