"""Risk benchmark: labelled synthetic scenarios through the risk engine's real intake call.

    python -m bench.risk [--normal 10000] [--leaders 200] [--repeats 3] [--seed 7]
                         [--json reports/bench-risk.json]

A synthetic platform (six priced tokens, two venues, leaders with their own sizes, pairs, price
bounds, hours and rhythm) first builds history (learnt, not scored), then an evaluation period in
which normal intents and four labelled attacks arrive in time order, each through
`RiskGate.judge`, the call intake makes per intent:

- stolen key: a leader's key bursts maximum-size trades into a token no leader traded, at prices
  far below the oracle's;
- slow drain: a leader's key sends many small trades of the usual size and pairs, each a little
  below the oracle's price (just past the tolerance), spread over hours;
- wash trading: two leaders' bots trade the same pair back and forth every few seconds;
- normal: `--normal` intents of leaders not involved in any attack.

Printed: per attack, how many of its runs were held or paused, the blocks (12 s) from its first
bad intent to the first hold or pause, and the share of its bad intents not admitted; for the
normal set, the false-positive rate; and the CPU per scored intent. Targets (issue 15): every
attack held or paused within 1 block of its first bad intent, false positives under 1 %.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field, replace

from backend.risk.engine import PRICE_SCALE, IntentView, RiskEngine, RiskPolicy
from backend.risk.gate import FlaggedIntent, RiskGate
from bench.report import machine, text_table, write_json

BLOCK_SECONDS = 12
DAY = 86_400
HISTORY_DAYS = 40
EVALUATION_DAYS = 20
TOKENS = {  # token -> US dollars per whole token (18 decimals each)
    "weth": 3_000.0,
    "usdc": 1.0,
    "dai": 1.0,
    "wbtc": 60_000.0,
    "link": 15.0,
    "uni": 8.0,
}
FRESH_TOKEN = "fresh"  # priced by the oracle, never traded by anyone before the attack
VENUES = ("uniswap", "sushi")
ATTACKS = ("stolen_key", "slow_drain", "wash")


@dataclass
class Leader:
    name: str
    pairs: list[tuple[str, str]]
    venue: str
    fraction: float  # median fraction_bps
    discount: float  # the price bound it usually signs (0 < d < 0.04), or None for min_price 0
    declares_price: bool
    hour: float  # centre of its active hours (UTC)
    burst_chance: float


@dataclass
class Event:
    """An intent as the engine sees it, and its label: "normal", or the attack and its run."""

    view: IntentView
    label: str
    bad: bool = False

    @property
    def at(self) -> float:
        return self.view.at


@dataclass
class Outcome:
    events: int = 0
    flagged: int = 0
    first_bad: float | None = None
    first_flag: float | None = None
    actions: dict[str, int] = field(default_factory=lambda: {"admit": 0, "hold": 0, "severe": 0})


def _usd_per_unit() -> dict[str, float]:
    prices = dict(TOKENS, **{FRESH_TOKEN: 0.05})
    return {token: usd / 10**18 for token, usd in prices.items()}


def _min_price(token_in: str, token_out: str, discount: float | None) -> int:
    """The min_price (tokenOut per tokenIn, 1e18-scaled) `discount` below the oracle's."""
    if discount is None:
        return 0
    usd = _usd_per_unit()
    fair = usd[token_in] / usd[token_out]
    return int(fair * (1 - discount) * PRICE_SCALE)


def _leader(rng: random.Random, index: int) -> Leader:
    tokens = rng.sample(sorted(TOKENS), rng.randint(2, 4))
    pairs = [(a, b) for a in tokens for b in tokens if a != b]
    return Leader(
        name=f"leader{index:04d}",
        pairs=pairs,
        venue=rng.choice(VENUES),
        fraction=rng.uniform(300, 3_000),
        discount=rng.uniform(0.003, 0.03),
        declares_price=rng.random() > 0.1,
        hour=rng.uniform(0, 24),
        burst_chance=rng.uniform(0, 0.1),
    )


def _normal_event(rng: random.Random, leader: Leader, at: float) -> Event:
    token_in, token_out = rng.choice(leader.pairs)
    if rng.random() < 0.03:  # now and then a token the leader never held (known to the platform)
        token_out = rng.choice([t for t in TOKENS if t != token_in])
    venue = leader.venue if rng.random() < 0.9 else rng.choice(VENUES)
    size = rng.lognormvariate(0, 0.35) * (3 if rng.random() < 0.01 else 1)  # a rare big trade
    fraction = min(10_000, max(1, int(size * leader.fraction)))
    discount = leader.discount * rng.uniform(0.7, 1.3) if leader.declares_price else None
    price = _min_price(token_in, token_out, discount)
    return Event(IntentView(leader.name, venue, token_in, token_out, fraction, price, at), "normal")


def _leader_events(rng: random.Random, leader: Leader, start: float, days: int, count: int):
    """`count` intents over `days` from `start`, in the leader's hours, some in quick runs."""
    events = []
    for _ in range(count):
        day = rng.randrange(days)
        hour = (rng.gauss(leader.hour, 2.5)) % 24
        at = start + day * DAY + hour * 3_600
        events.append(_normal_event(rng, leader, at))
        if rng.random() < leader.burst_chance:  # a rebalance: another trade seconds later
            events.append(_normal_event(rng, leader, at + rng.uniform(5, 30)))
    return events


def _stolen_key(rng: random.Random, leader: Leader, at: float, label: str) -> list[Event]:
    token_in = rng.choice(leader.pairs)[0]
    events = []
    for i in range(10):
        price = _min_price(token_in, FRESH_TOKEN, rng.uniform(0.3, 1.0))
        view = IntentView(
            leader.name, leader.venue, token_in, FRESH_TOKEN, 10_000, price, at + 2 * i
        )
        events.append(Event(view, label, bad=True))
    return events


def _slow_drain(rng: random.Random, leader: Leader, at: float, label: str) -> list[Event]:
    events = []
    for i in range(30):
        view = _normal_event(rng, leader, at + i * rng.uniform(1_800, 5_400)).view
        price = _min_price(view.token_in, view.token_out, rng.uniform(0.07, 0.12))
        events.append(Event(replace(view, min_price=price), label, bad=True))
    return events


def _wash(rng: random.Random, a: Leader, b: Leader, at: float, label: str) -> list[Event]:
    x, y = a.pairs[0]
    events, moment = [], at
    for i in range(20):
        leader, (token_in, token_out) = (a, (x, y)) if i % 2 == 0 else (b, (y, x))
        fraction = int(leader.fraction)
        price = _min_price(token_in, token_out, 0.01)
        view = IntentView(leader.name, a.venue, token_in, token_out, fraction, price, moment)
        events.append(Event(view, label, bad=True))
        moment += rng.uniform(3, 5)
    return events


@dataclass
class World:
    history: list[Event]
    evaluation: list[Event]


def build_world(rng: random.Random, *, leaders: int, normal: int, repeats: int) -> World:
    crew = [_leader(rng, i) for i in range(leaders + 4 * repeats)]
    normal_crew, attackers = crew[:leaders], crew[leaders:]
    for leader in attackers:  # a key whose owner never bounds prices is out of the price's reach
        leader.declares_price = True
    per_leader = max(1, normal * (HISTORY_DAYS + EVALUATION_DAYS) // EVALUATION_DAYS // leaders)
    history, evaluation = [], []
    for leader in crew:
        for event in _leader_events(rng, leader, 0, HISTORY_DAYS + EVALUATION_DAYS, per_leader):
            if event.at < HISTORY_DAYS * DAY:
                history.append(event)
            elif leader in normal_crew:
                evaluation.append(event)
    evaluation.sort(key=lambda e: e.at)
    evaluation = evaluation[:normal]
    end = evaluation[-1].at if evaluation else (HISTORY_DAYS + 1) * DAY
    for run in range(repeats):
        stolen, drained, wash_a, wash_b = attackers[4 * run : 4 * run + 4]
        wash_b.venue, wash_b.pairs[0] = wash_a.venue, wash_a.pairs[0][::-1]
        start = HISTORY_DAYS * DAY
        evaluation += _stolen_key(rng, stolen, rng.uniform(start, end), f"stolen_key#{run}")
        evaluation += _slow_drain(rng, drained, rng.uniform(start, end), f"slow_drain#{run}")
        evaluation += _wash(rng, wash_a, wash_b, rng.uniform(start, end), f"wash#{run}")
    evaluation.sort(key=lambda e: e.at)
    return World(sorted(history, key=lambda e: e.at), evaluation)


def _engine() -> RiskEngine:
    engine = RiskEngine(RiskPolicy())
    engine.usd_per_unit = _usd_per_unit()
    return engine


def run(world: World) -> dict:
    engine = _engine()
    flagged: list[FlaggedIntent] = []
    gate = RiskGate(engine, chain_id=1, on_flagged=flagged.append)
    for event in world.history:  # what the store's history would teach (backend.risk.history)
        engine.observe(event.view)
    outcomes: dict[str, Outcome] = {}
    started = time.process_time()
    for index, event in enumerate(world.evaluation):
        verdict = gate.judge(event.view, f"0x{index:064x}")
        outcome = outcomes.setdefault(event.label, Outcome())
        outcome.events += 1
        outcome.actions[verdict.action] += 1
        if event.bad and outcome.first_bad is None:
            outcome.first_bad = event.at
        if verdict.action != "admit":
            outcome.flagged += 1
            if outcome.first_flag is None:
                outcome.first_flag = event.at
    cpu = time.process_time() - started
    return {
        "outcomes": outcomes,
        "cpu_us_per_intent": cpu / max(1, len(world.evaluation)) * 1e6,
        "handed_to_responder": len(flagged),
    }


def _blocks(outcome: Outcome) -> int | None:
    if outcome.first_flag is None or outcome.first_bad is None:
        return None
    return int(outcome.first_flag // BLOCK_SECONDS - outcome.first_bad // BLOCK_SECONDS)


def summarise(result: dict) -> dict:
    outcomes: dict[str, Outcome] = result["outcomes"]
    rows = {}
    for attack in ATTACKS:
        runs = [o for label, o in outcomes.items() if label.split("#")[0] == attack]
        blocks = [_blocks(o) for o in runs]
        caught = [b for b in blocks if b is not None and b <= 1]
        events = max(1, sum(o.events for o in runs))
        rows[attack] = {
            "runs": len(runs),
            "detected": sum(b is not None for b in blocks),
            "within_1_block": len(caught),
            "blocks_to_action": blocks,
            "bad_intents_stopped": sum(o.flagged for o in runs) / events,
            "paused": sum(o.actions["severe"] > 0 for o in runs),
        }
    normal = outcomes.get("normal", Outcome())
    return {
        "attacks": rows,
        "normal": {
            "intents": normal.events,
            "held": normal.actions["hold"],
            "severe": normal.actions["severe"],
            "false_positive_rate": normal.flagged / max(1, normal.events),
        },
        "cpu_us_per_intent": result["cpu_us_per_intent"],
        "targets_met": all(r["within_1_block"] == r["runs"] for r in rows.values())
        and normal.flagged / max(1, normal.events) < 0.01,
    }


def table(summary: dict) -> list[str]:
    rows = [["scenario", "runs", "held or paused", "paused", "blocks to action", "stopped",
             "false positives"]]  # fmt: skip
    for attack, row in summary["attacks"].items():
        blocks = ", ".join("-" if b is None else str(b) for b in row["blocks_to_action"])
        rows.append([
            attack, str(row["runs"]), f"{row['detected']}/{row['runs']}",
            f"{row['paused']}/{row['runs']}", blocks, f"{row['bad_intents_stopped']:.0%}", "",
        ])  # fmt: skip
    normal = summary["normal"]
    rows.append([
        "normal", str(normal["intents"]), "", "", "", "",
        f"{normal['false_positive_rate']:.2%} ({normal['held']} held, {normal['severe']} severe)",
    ])  # fmt: skip
    return text_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--normal", type=int, default=10_000, help="normal intents scored")
    parser.add_argument("--leaders", type=int, default=200, help="normal leaders")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each attack")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", default="reports/bench-risk.json")
    args = parser.parse_args(argv)
    world = build_world(
        random.Random(args.seed), leaders=args.leaders, normal=args.normal, repeats=args.repeats
    )
    summary = summarise(run(world))
    for line in table(summary):
        print(line)
    print(
        f"CPU per scored intent: {summary['cpu_us_per_intent']:.1f} µs "
        f"(assess + learn, {len(world.evaluation)} intents after {len(world.history)} of history)"
    )
    print("targets met" if summary["targets_met"] else "targets NOT met")
    report = {"bench": "risk", "args": vars(args), "machine": machine(), **summary}
    write_json(args.json, report, lambda line: print(line, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
