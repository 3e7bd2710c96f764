"""copyvault benchmarks (docs/protocol.md §4). Run them on demand, e.g. ``python -m bench.gas``."""
