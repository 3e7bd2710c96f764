"""Severe alerts go out as signed webhooks: HMAC-SHA256 over timestamp and body, retried with
backoff until the receiver takes them; the secret is stored encrypted like the others."""

from __future__ import annotations

import json
import secrets

import pytest

from backend.config import load_settings
from backend.exceptions import ConfigError
from backend.risk.alerts import WebhookAlerter, load_secret, verify_signature, write_secret_file
from backend.security.encryption import generate_secrets_key
from tests.backend.risk.receiver import running_receiver

PAYLOAD = {"event": "risk.severe", "leader": "0x" + "ab" * 20, "score": 100}


def _alerter(url: str, secret: bytes, **changes) -> tuple[WebhookAlerter, list[float]]:
    delays: list[float] = []
    values = {"url": url, "secret": secret, "retries": 3, "backoff": 0.25, "timeout": 5.0}
    return WebhookAlerter(**(values | changes), sleep=delays.append), delays


def test_alert__receiver_verifies_the_signature_over_timestamp_and_body():
    secret = secrets.token_bytes(32)
    with running_receiver(secret) as receiver:
        alerter, delays = _alerter(receiver.url, secret)
        outcome = alerter.send(PAYLOAD)
    assert outcome == "sent: HTTP 204 after 1 attempt(s)" and delays == []
    (got,) = receiver.received
    assert got.valid and json.loads(got.body) == PAYLOAD
    assert verify_signature(
        secret,
        {"X-Copyvault-Timestamp": got.timestamp, "X-Copyvault-Signature": got.signature},
        got.body,
        now=int(got.timestamp),
    )


def test_alert__receiver_fails_twice__retried_with_doubling_backoff():
    secret = secrets.token_bytes(32)
    with running_receiver(secret, fail_first=2) as receiver:
        alerter, delays = _alerter(receiver.url, secret)
        outcome = alerter.send(PAYLOAD)
    assert outcome == "sent: HTTP 204 after 3 attempt(s)"
    assert delays == [0.25, 0.5] and len(receiver.received) == 3
    assert all(r.valid for r in receiver.received)


def test_alert__signed_with_another_secret__receiver_refuses_and_it_is_reported():
    with running_receiver(secrets.token_bytes(32)) as receiver:
        alerter, delays = _alerter(receiver.url, secrets.token_bytes(32), retries=1)
        outcome = alerter.send(PAYLOAD)
    assert outcome == "failed after 2 attempt(s): HTTP 401" and delays == [0.25]
    assert [r.valid for r in receiver.received] == [False, False]


def test_alert__nobody_listening__failure_named_not_raised():
    with running_receiver(b"x") as receiver:
        url = receiver.url
    alerter, delays = _alerter(url, b"x", retries=2, timeout=2.0)
    outcome = alerter.send(PAYLOAD)
    assert outcome.startswith("failed after 3 attempt(s): ") and delays == [0.25, 0.5]


def test_verify_signature__edited_body_or_old_timestamp__refused():
    secret = secrets.token_bytes(32)
    with running_receiver(secret) as receiver:
        _alerter(receiver.url, secret)[0].send(PAYLOAD)
    got = receiver.received[0]
    headers = {"X-Copyvault-Timestamp": got.timestamp, "X-Copyvault-Signature": got.signature}
    now = int(got.timestamp)
    assert not verify_signature(secret, headers, got.body + b" ", now=now)
    assert not verify_signature(secret, headers, got.body, now=now + 301)
    assert not verify_signature(secret, {}, got.body, now=now)


def test_secret_file__encrypted_at_rest_and_read_back(tmp_path):
    path = tmp_path / "webhook.json"
    settings = load_settings(
        secrets_key=generate_secrets_key(), risk_webhook_secret_file=path, data_dir=tmp_path
    )
    secret = secrets.token_bytes(32)
    write_secret_file(path, secret, settings, overwrite=False)
    assert secret.hex() not in path.read_text() and (path.stat().st_mode & 0o777) == 0o600
    assert load_secret(settings) == secret
    with pytest.raises(ConfigError, match="exists"):
        write_secret_file(path, secret, settings, overwrite=False)
    other = settings.model_copy(update={"secrets_key": load_settings(
        secrets_key=generate_secrets_key()).secrets_key})  # fmt: skip
    with pytest.raises(ConfigError, match="did not decrypt"):
        load_secret(other)


def test_alerter_from_settings__url_without_secret_file__config_error_names_the_variable(tmp_path):
    settings = load_settings(risk_webhook_url="http://127.0.0.1:9/alerts", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="COPYVAULT_RISK_WEBHOOK_SECRET_FILE"):
        WebhookAlerter.from_settings(settings)
    assert WebhookAlerter.from_settings(load_settings(data_dir=tmp_path)) is None
