"""Reverting calls stay reverts under `ape test --gas` (a work-around for eth-ape 0.8.51/0.8.52).

With gas tracking on, Ape's `Web3Provider.send_call` does not make an `eth_call`: it traces the call
(`debug_traceCall`, for the gas table) and returns the trace's `returnValue` without looking at its
`failed` flag. A view that reverts then "returns" its revert data, which Ape decodes as the
function's outputs: `venue.pairFor` reverting with `PairNotFound(address,address)` surfaced as
`DecodingError: Padding bytes were not empty`, and a revert whose data happened to decode would have
passed silently as a value. Both 0.8.51 and 0.8.52 (the newest release) have this code.

`install()` wraps `send_call` so that, only while the gas tracker is on, the call is first made
for real (`skip_trace=True`: an ordinary `eth_call`, which raises the revert exactly as without
`--gas`); only a call that succeeds is then traced for its gas. Without `--gas` nothing changes.
`make gas-report` runs tests that revert in views under `--gas` and so proves this still holds.
Remove this module when Ape checks `failed` itself.
"""

from __future__ import annotations

import functools
from typing import Any

from ape_ethereum.provider import Web3Provider

_MARK = "_copyvault_reverts_survive_gas_tracking"


def _gas_tracking(provider: Web3Provider) -> bool:
    runner = getattr(provider, "_test_runner", None)
    return runner is not None and runner.gas_tracker.enabled


def install() -> None:
    """Wrap `Web3Provider.send_call` once (idempotent)."""
    original = Web3Provider.send_call
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def send_call(self: Web3Provider, txn: Any, *args: Any, **kwargs: Any) -> Any:
        if _gas_tracking(self) and not kwargs.get("skip_trace", False):
            # Raises the call's revert, if any, as an untraced call would.
            original(self, txn, *args, **{**kwargs, "skip_trace": True})
        return original(self, txn, *args, **kwargs)

    setattr(send_call, _MARK, True)
    Web3Provider.send_call = send_call  # type: ignore[method-assign]
