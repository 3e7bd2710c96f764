"""copyvault backend: indexer, relayer and API around the on-chain vaults (docs/backend.md)."""
