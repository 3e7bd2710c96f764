"""The indexer: follows a deployment's events into the store (see indexer.py for its guarantees)."""
