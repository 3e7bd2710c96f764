"""copyvault benchmarks (SPEC §4). Run them on demand, e.g. ``python -m bench.gas``."""
