"""The risk engine: per-leader baselines, an explainable score per intent, and what follows from
it (hold, or pause and alert). docs/risk.md describes the features and how to tune them."""
