"""Severe risk alerts, POSTed to a webhook and signed so the receiver knows they are ours.

Each delivery carries two headers:

- `X-Copyvault-Timestamp`: unix seconds when it was signed;
- `X-Copyvault-Signature`: `sha256=` and the hex HMAC-SHA256, keyed by the webhook secret, of
  `<timestamp>.<body>` (the timestamp is signed with the body, so a receiver that refuses old
  timestamps cannot be replayed an old alert).

A receiver recomputes the HMAC with its copy of the secret over the exact bytes received
(`verify_signature` below does it) and compares in constant time. A delivery the receiver does not
answer with 2xx is retried `retries` times, the delay doubling from `backoff`.

The secret is stored like the platform's other secrets: an AES-256-GCM envelope under
COPYVAULT_SECRETS_KEY (purpose `risk-webhook-secret`) in the file named by
COPYVAULT_RISK_WEBHOOK_SECRET_FILE, written by `copyvault risk webhook-secret`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.exceptions import ConfigError
from backend.security.encryption import decrypt, encrypt, required_secrets_key
from backend.security.relayer_key import read_key_file, write_owner_only

PURPOSE = "risk-webhook-secret"
VARIABLE = "COPYVAULT_RISK_WEBHOOK_SECRET_FILE"
SECRET_BYTES = 32
TIMESTAMP_HEADER = "X-Copyvault-Timestamp"
SIGNATURE_HEADER = "X-Copyvault-Signature"


# ----------------------------------------------------------------------------- the secret


def _secrets_key(settings: Settings) -> bytes:
    return required_secrets_key(settings.secrets_key, "the risk webhook's secret")


def write_secret_file(path: Path, secret: bytes, settings: Settings, *, overwrite: bool) -> None:
    """The secret's envelope at `path`, readable by its owner only."""
    envelope = encrypt(secret, _secrets_key(settings), purpose=PURPOSE)
    write_owner_only(path, envelope, overwrite=overwrite)


def load_secret(settings: Settings) -> bytes:
    if settings.risk_webhook_secret_file is None:
        raise ConfigError(
            f"{VARIABLE} is not set; signed alerts need the webhook secret "
            "(`copyvault risk webhook-secret --out FILE` writes one)"
        )
    envelope = read_key_file(settings.risk_webhook_secret_file, VARIABLE)
    return decrypt(envelope, _secrets_key(settings), purpose=PURPOSE)


# ----------------------------------------------------------------------------- signing


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: bytes, headers: Any, body: bytes, *, now: float, max_age: float = 300
) -> bool:
    """What a receiver checks: a recent timestamp, and the HMAC over timestamp and body."""
    try:
        timestamp = int(headers[TIMESTAMP_HEADER])
    except (KeyError, TypeError, ValueError):
        return False
    if abs(now - timestamp) > max_age:
        return False
    given = headers.get(SIGNATURE_HEADER) or ""
    return hmac.compare_digest(given, signature(secret, timestamp, body))


# ----------------------------------------------------------------------------- delivery


@dataclass
class WebhookAlerter:
    url: str
    secret: bytes
    retries: int = 4
    backoff: float = 0.5
    timeout: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookAlerter | None:
        """The alerter the settings describe; None when no webhook URL is set."""
        if settings.risk_webhook_url is None:
            return None
        return cls(
            url=settings.risk_webhook_url,
            secret=load_secret(settings),
            retries=settings.risk_webhook_retries,
            backoff=settings.risk_webhook_backoff_seconds,
            timeout=settings.risk_webhook_timeout,
        )

    def send(self, payload: dict[str, Any]) -> str:
        """Deliver `payload`; what happened, in words (kept with the decision)."""
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        last = ""
        for attempt in range(1, self.retries + 2):
            timestamp = int(time.time())
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: str(timestamp),
                    SIGNATURE_HEADER: signature(self.secret, timestamp, body),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    return f"sent: HTTP {answer.status} after {attempt} attempt(s)"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            if attempt <= self.retries:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        return f"failed after {self.retries + 1} attempt(s): {last}"
