"""Scoring an intent against what its leader (and the platform) usually does.

Every feature is a robust statistic a risk operator can check by hand (median and median absolute
deviation, counts in a window, set membership), worth a bounded number of points; the score is
their sum, capped at 100, and the features that scored are kept with the intent. No model is
fitted per intent: intake pays for a few dictionary look-ups and float operations (tens of
microseconds, bench/risk.py measures it), and nothing here touches the store. Baselines live in
memory; `backend.risk.history` rebuilds them from the store (the state all processes share) and
each process adds what it accepts in between (`observe`).

An intent's discount is how far below the oracle's price its `min_price` lets the trade fill:
1 - min_price / oracle price (1.0 for `min_price` 0, which declares no bound of its own).
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from backend.config import Settings

PRICE_SCALE: Final = 10**18
MAX_SCORE: Final = 100
BASELINE_LENGTH: Final = 256  # observations per leader the statistics look at
RECENT_TIMES: Final = 64  # a leader's latest intent times (bursts, gaps)
MAD_TO_SIGMA: Final = 1.4826  # the MAD of a normal distribution times this is its sigma
RARE_HOUR_SHARE: Final = 0.01
HOUR_MIN_HISTORY: Final = 50

# Points per feature: the most each can add. Hold at 40 and severe at 70 (settings) mean no
# single weak signal holds an intent, while one strong one (a price far off the oracle) does.
POINTS: Final = {
    "fraction": 30,
    "new_token": 10,
    "fresh_token": 25,
    "new_venue": 10,
    "price_vs_oracle": 45,
    "rare_hour": 5,
    "burst": 30,
    "frequency": 15,
    "wash": 60,
    "under_review": 40,
}
ACTIONS: Final = ("admit", "hold", "severe")


@dataclass(frozen=True, slots=True)
class IntentView:
    """What scoring reads of an intent (addresses lowercase; `at` in unix seconds)."""

    leader: str
    venue: str
    token_in: str
    token_out: str
    fraction_bps: int
    min_price: int
    at: float


@dataclass(frozen=True, slots=True)
class Feature:
    """One signal that scored: its name, the measured value, the points, and why in words."""

    name: str
    value: float
    points: int
    why: str

    def as_dict(self) -> dict[str, object]:
        value = round(self.value, 6)
        return {"name": self.name, "value": value, "points": self.points, "why": self.why}


@dataclass(frozen=True, slots=True)
class Assessment:
    score: int
    action: str  # one of ACTIONS
    features: tuple[Feature, ...]

    def features_json(self) -> list[dict[str, object]]:
        return [f.as_dict() for f in self.features]


@dataclass(frozen=True)
class RiskPolicy:
    """The thresholds and windows (COPYVAULT_RISK_* settings)."""

    hold_score: int = 40
    severe_score: int = 70
    min_history: int = 20
    price_tolerance: float = 0.05
    burst_window: float = 60.0
    wash_window: float = 120.0
    review_seconds: float = 3_600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskPolicy:
        return cls(
            hold_score=settings.risk_hold_score,
            severe_score=max(settings.risk_severe_score, settings.risk_hold_score),
            min_history=settings.risk_min_history,
            price_tolerance=settings.risk_price_tolerance_bps / 10_000,
            burst_window=settings.risk_burst_window_seconds,
            wash_window=settings.risk_wash_window_seconds,
            review_seconds=settings.risk_review_seconds,
        )

    def action(self, score: int) -> str:
        if score >= self.severe_score:
            return "severe"
        return "hold" if score >= self.hold_score else "admit"


# ----------------------------------------------------------------------------- statistics


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _median_and_spread(values: deque[float]) -> tuple[float, float]:
    """(median, MAD scaled to a standard deviation): robust to the outliers being looked for."""
    ordered = sorted(values)
    centre = _median(ordered)
    spread = _median(sorted(abs(v - centre) for v in ordered)) * MAD_TO_SIGMA
    return centre, spread


def _quantile(values: deque[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ramp(excess: float, scale: float) -> float:
    """0 at no excess, 1 at `scale` or more: how far past its threshold a value is."""
    if excess <= 0:
        return 0.0
    return 1.0 if excess >= scale else excess / scale


@dataclass(slots=True)
class _Stats:
    """A leader's statistics, recomputed every few observations (not per intent)."""

    fraction_median: float
    fraction_spread: float
    discount_p90: float | None
    gap_median: float | None


@dataclass
class LeaderBaseline:
    """What one leader usually does."""

    fractions: deque[float] = field(default_factory=lambda: deque(maxlen=BASELINE_LENGTH))
    discounts: deque[float] = field(default_factory=lambda: deque(maxlen=BASELINE_LENGTH))
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=BASELINE_LENGTH))
    times: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_TIMES))
    tokens: set[str] = field(default_factory=set)
    venues: set[str] = field(default_factory=set)
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    count: int = 0
    review_until: float = 0.0
    _stats: _Stats | None = None
    _stats_count: int = -1

    def observe(self, view: IntentView, discount: float | None) -> None:
        self.fractions.append(view.fraction_bps)
        if discount is not None:
            self.discounts.append(discount)
        if self.times and view.at >= self.times[-1]:
            self.gaps.append(view.at - self.times[-1])
        self.observe_timing(view.at)
        self.tokens.update((view.token_in, view.token_out))
        self.venues.add(view.venue)
        self.hours[_hour(view.at)] += 1
        self.count += 1

    def observe_timing(self, at: float) -> None:
        """Count an intent in the leader's recent ones (bursts) without learning from it."""
        if not self.times or at >= self.times[-1]:
            self.times.append(at)

    def stats(self) -> _Stats:
        # Recomputed when 1/8 of the window is new: sorting 256 values per intent would cost more
        # than every other feature together, and a baseline does not move in a few intents.
        if self._stats is None or self.count - self._stats_count >= max(
            1, min(self.count, BASELINE_LENGTH) // 8
        ):
            median, spread = _median_and_spread(self.fractions)
            self._stats = _Stats(
                fraction_median=median,
                fraction_spread=spread,
                discount_p90=_quantile(self.discounts, 0.9) if self.discounts else None,
                gap_median=_median(sorted(self.gaps)) if self.gaps else None,
            )
            self._stats_count = self.count
        return self._stats

    def recent(self, since: float) -> int:
        """Intents at or after `since` among the latest ones."""
        return len(self.times) - bisect.bisect_left(self.times, since)


def _hour(at: float) -> int:
    return datetime.fromtimestamp(at, UTC).hour


# ----------------------------------------------------------------------------- the engine


class RiskEngine:
    """Baselines of every leader, the platform's known tokens, oracle prices and recent trades by
    pair (for washing between leaders). `assess` reads; `observe` learns; callers from several
    threads hold `lock` around both (RiskGate.judge does)."""

    def __init__(self, policy: RiskPolicy):
        self.policy = policy
        self.leaders: dict[str, LeaderBaseline] = {}
        self.platform_tokens: set[str] = set()
        self.platform_count = 0
        # token -> US dollars per raw unit, from the oracle's feeds (set by the refresher).
        self.usd_per_unit: Mapping[str, float] = {}
        # (venue, token a, token b) -> recent (time, leader, direction) on that pair.
        self.pairs: dict[tuple[str, str, str], deque[tuple[float, str, bool]]] = {}
        self.lock = threading.RLock()  # held by RiskGate.judge around assess and observe

    # -------------------------------------------------------------- reading

    def discount(self, view: IntentView) -> float | None:
        """1 - min_price / oracle price; None when the oracle prices either token unknown."""
        usd_in = self.usd_per_unit.get(view.token_in)
        usd_out = self.usd_per_unit.get(view.token_out)
        if not usd_in or not usd_out:
            return None
        fair = usd_in / usd_out  # raw tokenOut per raw tokenIn
        return 1.0 - view.min_price / PRICE_SCALE / fair

    def assess(self, view: IntentView) -> Assessment:
        baseline = self.leaders.get(view.leader)
        mature = baseline is not None and baseline.count >= self.policy.min_history
        found: list[Feature] = []
        if baseline is not None and baseline.review_until > view.at:
            found.append(
                Feature(
                    "under_review",
                    baseline.review_until - view.at,
                    POINTS["under_review"],
                    "an intent of this leader was held by the risk engine within the review "
                    "window: its next intents are held too",
                )
            )
        found += self._price(view, baseline if mature else None)
        found += self._novelty(view, baseline if mature else None)
        if mature:
            assert baseline is not None
            found += self._size_and_rhythm(view, baseline)
        found += self._wash(view)
        score = min(MAX_SCORE, sum(f.points for f in found))
        return Assessment(score, self.policy.action(score), tuple(f for f in found if f.points))

    def _price(self, view: IntentView, baseline: LeaderBaseline | None) -> list[Feature]:
        discount = self.discount(view)
        # A new leader's min_price 0 declares no bound: the vaults' own oracle bound applies.
        if discount is None or (baseline is None and view.min_price == 0):
            return []
        tolerance = self.policy.price_tolerance
        usual = baseline.stats().discount_p90 if baseline is not None else None
        # Past the tolerance (or the leader's own 90th percentile plus a quarter of it), the
        # points rise to their full weight over another quarter of the tolerance.
        threshold = tolerance if usual is None else max(tolerance, usual + tolerance / 4)
        points = round(POINTS["price_vs_oracle"] * _ramp(discount - threshold, tolerance / 4))
        if not points:
            return []
        return [
            Feature(
                "price_vs_oracle",
                discount,
                points,
                f"min_price is {discount:.1%} below the oracle's price; this leader's usual is at "
                f"most {threshold:.1%}",
            )
        ]

    def _novelty(self, view: IntentView, baseline: LeaderBaseline | None) -> list[Feature]:
        found = []
        if baseline is not None and view.token_out not in baseline.tokens:
            found.append(
                Feature("new_token", 1, POINTS["new_token"], "the leader never traded token_out")
            )
        if (
            self.platform_count >= self.policy.min_history
            and view.token_out not in self.platform_tokens
        ):
            found.append(
                Feature(
                    "fresh_token",
                    1,
                    POINTS["fresh_token"],
                    "no leader on the platform ever traded token_out",
                )
            )
        if baseline is not None and view.venue not in baseline.venues:
            found.append(
                Feature("new_venue", 1, POINTS["new_venue"], "the leader never used this venue")
            )
        return found

    def _size_and_rhythm(self, view: IntentView, baseline: LeaderBaseline) -> list[Feature]:
        # A feature that scores nothing is not built: its sentence would cost more than its maths.
        stats = baseline.stats()
        found = []
        # Size: robust z-score of fraction_bps; the spread has a floor so that a leader who always
        # trades the same fraction is not alarmed by a small change.
        spread = max(stats.fraction_spread, 0.1 * stats.fraction_median, 100.0)
        z = (view.fraction_bps - stats.fraction_median) / spread
        if points := round(POINTS["fraction"] * _ramp(z - 4, 4)):
            why = (
                f"fraction_bps {view.fraction_bps} vs the leader's median "
                f"{stats.fraction_median:.0f} ({z:.1f} robust deviations)"
            )
            found.append(Feature("fraction", z, points, why))
        if baseline.count >= HOUR_MIN_HISTORY:
            share = baseline.hours[_hour(view.at)] / baseline.count
            if share < RARE_HOUR_SHARE:
                why = f"{share:.1%} of the leader's intents came at this hour (UTC)"
                found.append(Feature("rare_hour", share, POINTS["rare_hour"], why))
        if stats.gap_median:
            found += self._rhythm(view, baseline, stats.gap_median)
        return found

    def _rhythm(self, view: IntentView, baseline: LeaderBaseline, gap_median: float):
        found = []
        window = self.policy.burst_window
        count = baseline.recent(view.at - window) + 1
        expected = window / gap_median
        if points := round(POINTS["burst"] * _ramp(count - 3 * expected - 3, 5)):
            why = f"{count} intents in {window:.0f}s where the leader's pace gives {expected:.1f}"
            found.append(Feature("burst", count, points, why))
        quick = gap_median / 20
        gap = view.at - baseline.times[-1] if baseline.times else gap_median
        if points := round(POINTS["frequency"] * _ramp(quick - gap, quick)):
            why = f"{gap:.0f}s since the leader's last intent; its median gap is {gap_median:.0f}s"
            found.append(Feature("frequency", gap, points, why))
        return found

    def _wash(self, view: IntentView) -> list[Feature]:
        """Opposite trades on the same venue and pair, between this leader and one other, within
        the window: the first such reversal is ordinary market life; repeated ones between the
        same two leaders are volume without a position (wash trading)."""
        recent = self.pairs.get(_pair(view))
        if not recent:
            return []
        since = view.at - self.policy.wash_window
        trail = [(leader, went) for at, leader, went in recent if at >= since]
        trail.append((view.leader, view.token_in < view.token_out))
        # Each change of side from one leader to another counts once for that pair of leaders.
        partners: dict[str, int] = {}
        for (first, first_went), (second, second_went) in zip(trail, trail[1:], strict=False):
            if first != second and first_went != second_went and view.leader in (first, second):
                partner = second if first == view.leader else first
                partners[partner] = partners.get(partner, 0) + 1
        if not partners:
            return []
        partner, reversals = max(partners.items(), key=lambda item: item[1])
        points = min(POINTS["wash"], 20 * (reversals - 1) + 10)
        return [
            Feature(
                "wash",
                reversals,
                points,
                f"{reversals} back-and-forth trades with leader {partner} on this pair and "
                f"venue within {self.policy.wash_window:.0f}s",
            )
        ]

    # -------------------------------------------------------------- learning

    def observe(self, view: IntentView, *, flagged: bool = False) -> None:
        """Learn an admitted intent; a `flagged` one (held) only starts the leader's review
        window and counts in its rhythm."""
        with self.lock:
            baseline = self.leaders.get(view.leader)
            if baseline is None:
                baseline = self.leaders[view.leader] = LeaderBaseline()
            if not flagged:
                baseline.observe(view, self.discount(view))
                self.platform_tokens.update((view.token_in, view.token_out))
                self.platform_count += 1
            else:  # a held intent is not the leader's habit: it starts a review, teaches nothing
                baseline.observe_timing(view.at)
                baseline.review_until = max(
                    baseline.review_until, view.at + self.policy.review_seconds
                )
            recent = self.pairs.get(_pair(view))
            if recent is None:
                recent = self.pairs[_pair(view)] = deque(maxlen=RECENT_TIMES)
            recent.append((view.at, view.leader, view.token_in < view.token_out))

    def learn_token(self, token: str) -> None:
        """A token traded on the platform (indexed trades) without an intent seen here."""
        self.platform_tokens.add(token)


def _pair(view: IntentView) -> tuple[str, str, str]:
    a, b = sorted((view.token_in, view.token_out))
    return (view.venue, a, b)
