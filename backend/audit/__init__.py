"""The audit trail: its hash chain (entries), the Merkle tree of accepted intents, the on-chain
anchors, their publisher (the anchorer) and the verifier. docs/audit-trail.md describes it."""
