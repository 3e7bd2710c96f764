"""copyvault backend: indexer, relayer and API around the on-chain vaults (SPEC §2)."""
