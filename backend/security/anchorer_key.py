"""The audit anchorer's key: encrypted at rest like the relayer's and the guardian's, decrypted
into a signer. It may only publish anchors (AuditAnchor's ANCHORER_ROLE). The envelope's purpose
is `anchorer-key`, so another key file cannot be passed off as it."""

from __future__ import annotations

from backend.config import Settings
from backend.security.relayer_key import RelayerSigner, load_envelope_signer

PURPOSE = "anchorer-key"
VARIABLE = "COPYVAULT_ANCHORER_KEY_FILE"


def load_anchorer_signer(settings: Settings) -> RelayerSigner:
    return load_envelope_signer(
        settings.anchorer_key_file,
        settings,
        purpose=PURPOSE,
        variable=VARIABLE,
        command="copyvault audit anchorer-key",
    )
