"""Secrets at rest: AES-256-GCM envelopes (encryption.py) and the relayer's sender key
(relayer_key.py), which is only ever held decrypted inside a `RelayerSigner`."""
