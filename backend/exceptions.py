"""Every error the backend raises on purpose derives from `CopyvaultError`.

Each message says what went wrong and how to fix it, so an operator reading a log line or a CLI
error needs nothing else. Catch `CopyvaultError` at the edges (CLI, API, background tasks) and let
anything else propagate: an exception outside this tree is a bug.
"""

from __future__ import annotations


class CopyvaultError(Exception):
    """The root of copyvault's errors."""


# ----------------------------------------------------------------------------- configuration


class ConfigError(CopyvaultError):
    """A setting is missing, malformed or a placeholder (see backend/config.py)."""


class ArtifactError(CopyvaultError):
    """Compiled contract artifacts (.build/__local__.json) are missing, stale or incomplete."""


class DeploymentError(CopyvaultError):
    """A deployment failed, or a deployment file is unreadable or does not match the node."""


# ----------------------------------------------------------------------------- chain access


class ChainError(CopyvaultError):
    """The node answered something the backend cannot use."""


class ChainUnavailableError(ChainError):
    """The node did not answer (connection refused, timeout, HTTP 5xx) even after the retries."""


class RpcError(ChainError):
    """The node answered a JSON-RPC error the backend does not retry."""

    def __init__(
        self, message: str, *, method: str, code: int | None = None, data: str | None = None
    ):
        super().__init__(message)
        self.method = method
        self.code = code
        # The error's data when the node sent some: for a revert, the revert data (0x-hex).
        self.data = data

    @property
    def revert_data(self) -> bytes | None:
        """The revert data of a reverted call (the custom error's selector and arguments)."""
        data = self.data
        if not isinstance(data, str) or not data.startswith("0x"):
            return None
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None


class RangeTooLargeError(RpcError):
    """The node refused an eth_getLogs query as too large (too many results, response too big,
    block range too wide). The indexer reacts by querying smaller block ranges."""


class ReorgDuringFetchError(ChainError):
    """The chain reorganised while a block range was being fetched; the range is fetched again."""


class ChainLinkBrokenError(ChainError):
    """A range's first block does not descend from the last indexed block (its parent hash is
    not the cursor's hash): the indexed blocks were replaced, a reorg to roll back."""


# ----------------------------------------------------------------------------- store and indexer


class StoreError(CopyvaultError):
    """The database cannot be used (unreachable, not migrated, or holding another deployment)."""


class IndexerError(CopyvaultError):
    """The indexer met a state it cannot continue from on its own."""
