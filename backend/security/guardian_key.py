"""The platform guardian's key: encrypted at rest like the relayer's, decrypted into a signer.

The factory's `guardian()` may pause any vault whose owners accepted the guardian
(`CopyVault.guardianAccepted()`); it can do nothing else. Operators with the `risk` role use it
through the API (guardian pause, step-up). `copyvault guardian-key new|import` writes the file at
COPYVAULT_GUARDIAN_KEY_FILE (AES-256-GCM under COPYVAULT_SECRETS_KEY; the envelope's purpose is
`guardian-key`, so a relayer key file cannot be passed off as it); `address` prints its address
for the platform admin's `setGuardian`.
"""

from __future__ import annotations

from backend.config import Settings
from backend.security.relayer_key import RelayerSigner, load_envelope_signer

PURPOSE = "guardian-key"
VARIABLE = "COPYVAULT_GUARDIAN_KEY_FILE"


def load_guardian_signer(settings: Settings) -> RelayerSigner:
    return load_envelope_signer(
        settings.guardian_key_file,
        settings,
        purpose=PURPOSE,
        variable=VARIABLE,
        command="copyvault guardian-key",
    )
