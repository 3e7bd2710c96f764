"""The lanes of `make test`: the suite split into three Ape sessions that run side by side, each
on an anvil of its own (`python toolchain/run_tests.py --lane NAME`).

One session keeps about one of a 2-core machine's cores busy: much of its time it waits on anvil,
on the servers and command-line processes the tests start, and on PostgreSQL. Three lanes fill
both cores and end in about half the time of one session. The split follows measured durations
(`--durations` in every lane's output) so that the lanes end at about the same time.

The contract tests come first in their lane, so that a broken contract shows within minutes.
(They once failed whenever tests/web shared their session: a fixture name with two scopes misled
Ape's chain isolation, which tests/conftest.py now refuses at collection.)
tests/toolchain/test_lanes.py checks that every test file is in exactly one lane.
"""

from __future__ import annotations

# The backend's directories that make the `services` lane; the rest of tests/backend is `platform`.
_SERVICES = ("api", "relayer", "indexer", "store", "chain", "risk", "security")

LANES: dict[str, tuple[str, ...]] = {
    # The contracts, then the browser, benchmark, script, toolchain and document tests.
    "contracts": (
        "tests/contracts",
        "tests/web",
        "tests/bench",
        "tests/scripts",
        "tests/toolchain",
        "tests/docs",
        "tests/test_vectors_copy.py",
    ),
    # The read API, relayer, indexer and store.
    "services": tuple(f"tests/backend/{name}" for name in _SERVICES),
    # Operators, identity, intake, the command line, the audit trail, compliance and the rest.
    "platform": ("tests/backend", *(f"--ignore=tests/backend/{name}" for name in _SERVICES)),
}


def lane_arguments(name: str) -> list[str]:
    """The `ape test` arguments that select lane `name`."""
    return list(LANES[name])
