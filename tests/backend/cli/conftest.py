"""The CLI tests index chains too: the indexer tests' fixture, shared."""

from tests.backend.indexer.conftest import make_indexer

__all__ = ["make_indexer"]
