"""Sign typed data with the wallets' own implementation, to cross-check the Python signer.

`toolchain/js-signer.js` runs `@metamask/eth-sig-util`'s ``signTypedData`` (V4), which is
what MetaMask executes for eth_signTypedData_v4. Tests use it to show that a signature
made by a user's wallet and one made by `backend.chain.eip712.sign` are the same bytes.
It needs ``node`` on PATH and the project's ``node_modules`` (``npm ci``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
JS_SIGNER: Final = REPO_ROOT / "toolchain" / "js-signer.js"
TIMEOUT_SECONDS: Final = 60


class JsSignerError(RuntimeError):
    """The node signer could not run or refused the request (its message says which)."""


def _json_safe(value: Any) -> Any:
    """Integers as decimal strings, bytes as 0x-hex: JS rounds JSON numbers past 2**53."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    raise TypeError(f"cannot pass {type(value).__name__} to the JS signer")


def _private_key_hex(private_key: bytes | str) -> str:
    """Normalise a 32-byte key to 0x-hex, the one form the script accepts."""
    raw = (
        private_key
        if isinstance(private_key, bytes)
        else bytes.fromhex(private_key.removeprefix("0x"))
    )
    if len(raw) != 32:
        raise ValueError("private key must be 32 bytes")
    return "0x" + raw.hex()


def sign_typed_data_v4_js(private_key: bytes | str, typed_data: dict[str, Any]) -> bytes:
    """Sign `typed_data` exactly as eth_signTypedData_v4 in MetaMask does; 65-byte r||s||v.

    The key travels on stdin only, never in argv (which other local users can read).
    """
    node = shutil.which("node")
    if node is None:
        raise JsSignerError("node is not on PATH; install Node.js 18+ to run the JS signer")
    request = json.dumps(
        {"privateKey": _private_key_hex(private_key), "typedData": _json_safe(typed_data)}
    )
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [node, str(JS_SIGNER)],
            input=request,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            cwd=REPO_ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise JsSignerError(f"JS signer timed out after {TIMEOUT_SECONDS}s") from exc
    if result.returncode != 0:
        raise JsSignerError(result.stderr.strip() or f"JS signer exited {result.returncode}")
    signature = bytes.fromhex(result.stdout.strip().removeprefix("0x"))
    if len(signature) != 65:
        raise JsSignerError(f"JS signer returned {len(signature)} bytes, expected 65")
    return signature
