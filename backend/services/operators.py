"""Operator accounts: enrolment, sign-in, sessions, step-up TOTP, lock-out and new-device records.

Every function takes the time (`now`, timezone-aware UTC) from its caller, so tests can move it.

- Passwords: argon2id (argon2-cffi's `PasswordHasher`, RFC 9106 parameters); only the hash is
  stored, and no log line or error message carries the password.
- TOTP (RFC 6238, pyotp; 30-second steps, 6 digits, one step of drift either way): the seed is
  stored as an AES-256-GCM envelope (backend/security/encryption.py, COPYVAULT_SECRETS_KEY) bound
  to the operator's username. A code is accepted only for a step later than the operator's
  `last_totp_step`, claimed by one conditional UPDATE: each step is usable once, even by two
  concurrent requests.
- Lock-out: COPYVAULT_OPERATOR_MAX_FAILURES consecutive failed passwords or codes (sign-in,
  step-up, enrolment confirmation) lock the account for COPYVAULT_OPERATOR_LOCKOUT_SECONDS; a
  locked account is refused before its password or code is even checked.
- Sessions: a random `cvo_` token; only its SHA-256 is stored; short-lived; revocable.
- Devices: a random device id the browser keeps in a cookie (or a script sends in a header); a
  sign-in from a device the operator never signed in from successfully is flagged `new_device`.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2 import profiles as argon2_profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from backend.api.errors import (
    EnrolmentIncompleteError,
    EnrolmentTokenInvalidError,
    InvalidCredentialsError,
    OperatorDisabledError,
    OperatorLockedError,
    OperatorSessionInvalidError,
    StepUpRequiredError,
    TotpInvalidError,
    TotpReusedError,
    WeakPasswordError,
)
from backend.config import Settings
from backend.db.engine import write_transaction
from backend.db.operator_models import (
    Operator,
    OperatorAction,
    OperatorDevice,
    OperatorSession,
    OperatorSignIn,
)
from backend.db.types import utc_aware
from backend.exceptions import ConfigError
from backend.security.encryption import decrypt, encrypt, required_secrets_key
from backend.security.tokens import sha256_hex
from backend.services import audit_log

SESSION_PREFIX = "cvo_"
ENROLMENT_PREFIX = "cvoe_"
TOTP_PURPOSE = "operator-totp"
TOTP_STEP = 30
TOTP_ISSUER = "copyvault"
MIN_PASSWORD = 12
MAX_PASSWORD = 1_024

# argon2id with RFC 9106's second recommended profile (t=3, 64 MiB, p=4: argon2-cffi's default).
PASSWORD_PROFILE = argon2_profiles.RFC_9106_LOW_MEMORY
_hasher = PasswordHasher.from_parameters(PASSWORD_PROFILE)


@dataclass(frozen=True)
class Client:
    """Where a request came from: the TCP peer, the User-Agent and the device id (if any)."""

    address: str | None
    user_agent: str | None
    device_id: str | None

    @property
    def device(self) -> str | None:
        return self.user_agent[:256] if self.user_agent else None


# ----------------------------------------------------------------------------- secrets


def _secrets_key(settings: Settings) -> bytes:
    return required_secrets_key(settings.secrets_key, "operators' TOTP seeds")


def seal_totp(seed: str, username: str, settings: Settings) -> dict[str, Any]:
    return encrypt(
        seed.encode(), _secrets_key(settings), purpose=TOTP_PURPOSE, context={"operator": username}
    )


def open_totp(envelope: dict[str, Any], settings: Settings) -> str:
    key = _secrets_key(settings)
    return decrypt(envelope, key, purpose=TOTP_PURPOSE, context_fields=("operator",)).decode()


def provisioning_uri(seed: str, username: str) -> str:
    return pyotp.TOTP(seed).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def check_password_rules(password: str, username: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise WeakPasswordError(
            f"an operator password has {MIN_PASSWORD} to {MAX_PASSWORD} characters; use a longer "
            "passphrase from a password manager"
        )
    if username.lower() in password.lower():
        raise WeakPasswordError("the password must not contain the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified when the username is unknown, so that the answer takes as long as for a known
    one. Made on first use, not at import: every command-line process imports this module."""
    return hasher.hash(secrets.token_hex(16))


def _password_matches(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(_hasher), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def totp_step(seed: str, code: str, now: datetime) -> int | None:
    """The time step `code` belongs to (now, or one step either side), or None."""
    if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(seed)
    current = int(now.timestamp()) // TOTP_STEP
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


# ----------------------------------------------------------------------------- failures, lock-out


def _is_locked(operator: Operator, now: datetime) -> bool:
    until = utc_aware(operator.locked_until)
    return until is not None and until > now


def _locked_error(operator: Operator) -> OperatorLockedError:
    until = utc_aware(operator.locked_until)
    return OperatorLockedError(
        f"the account is locked after repeated failed passwords or codes until "
        f"{until.isoformat() if until else 'later'}; try again then, or ask an admin"
    )


class _Attempts:
    """Consecutive failures of one operator, counted in the store atomically *before* a password
    or code is checked: however many requests guess at once, at most COPYVAULT_OPERATOR_MAX_
    FAILURES of them are ever checked per lock period. Each statement runs in a short write
    transaction of its own (SQLite: the write lock taken at BEGIN), committed at once, so
    concurrent requests see each other's counts and none fails on a stale snapshot."""

    def __init__(self, s: Session, operator: Operator, settings: Settings, now: datetime):
        self.engine = s.get_bind()
        self.operator, self.settings, self.now = operator, settings, now
        self.count = 0

    def _run(self, statement: Any) -> Any:
        """Run `statement` and commit; its first column's value, if it returns rows."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(statement)
            return result.scalar() if result.returns_rows else None

    def _where(self, *conditions: Any) -> Any:
        return update(Operator).where(Operator.id == self.operator.id, *conditions)

    def take(self) -> None:
        """Count this attempt; raises 423 if the account is locked (or this attempt is one too
        many of a concurrent burst, which locks it)."""
        unlocked = or_(Operator.locked_until.is_(None), Operator.locked_until <= self.now)
        count = self._run(
            self._where(unlocked)
            .values(failures=Operator.failures + 1)
            .returning(Operator.failures)
        )
        if count is None:
            self.operator.locked_until = self._run(
                select(Operator.locked_until).where(Operator.id == self.operator.id)
            )
            raise _locked_error(self.operator)
        self.count = count
        if count > self.settings.operator_max_failures:
            self.lock()

    def lock(self) -> None:
        until = self.now + timedelta(seconds=self.settings.operator_lockout_seconds)
        self._run(self._where().values(failures=0, locked_until=until, updated_at=self.now))
        self.operator.locked_until = until
        raise _locked_error(self.operator)

    def failed(self, error: Exception) -> Exception:
        """The attempt failed: lock at the limit; the error to raise."""
        if self.count >= self.settings.operator_max_failures:
            try:
                self.lock()
            except OperatorLockedError as locked:
                return locked
        return error

    def passed(self, *, reset: bool) -> None:
        """The attempt succeeded: forget it (a password), or every failure (a code)."""
        values = {"failures": 0} if reset else {"failures": Operator.failures - 1}
        self._run(self._where(Operator.failures > 0).values(**values))


def _claim_step(s: Session, operator: Operator, step: int) -> bool:
    """Mark `step` used; False if it (or a later one) already was. One conditional UPDATE,
    committed at once: each step is spent once, even by concurrent requests."""
    with write_transaction(s.get_bind()) as conn:
        claimed = conn.execute(
            update(Operator)
            .where(Operator.id == operator.id, Operator.last_totp_step < step)
            .values(last_totp_step=step)
        ).rowcount
    return claimed == 1


def verify_code(
    s: Session, operator: Operator, code: str | None, settings: Settings, now: datetime
) -> None:
    """Accept a TOTP code for `operator` once (spent at once, whatever happens next: a code seen
    in a request that then fails must not work twice), or count a failure and raise."""
    if operator.totp_secret is None:
        raise EnrolmentIncompleteError("the operator has no confirmed TOTP device yet: enrol first")
    attempts = _Attempts(s, operator, settings, now)
    attempts.take()
    step = totp_step(open_totp(operator.totp_secret, settings), code or "", now)
    if step is not None and _claim_step(s, operator, step):
        attempts.passed(reset=True)
        # End the caller's read transaction: it predates the commits above, and on SQLite a
        # transaction cannot start writing from a snapshot another connection has moved.
        s.commit()
        return
    if step is None:
        raise attempts.failed(
            TotpInvalidError(
                "the TOTP code is wrong: send the 6 digits your authenticator shows now"
            )
        )
    raise attempts.failed(
        TotpReusedError(
            "this TOTP code was already used (each 30-second code works once): wait for the next "
            "one"
        )
    )


def step_up(
    s: Session, operator: Operator, code: str | None, settings: Settings, now: datetime
) -> None:
    """The step-up check of a privileged action: a fresh TOTP code in X-Copyvault-TOTP."""
    if not code:
        raise StepUpRequiredError(
            "this action needs a fresh TOTP code: send it in the X-Copyvault-TOTP header"
        )
    verify_code(s, operator, code, settings, now)


# ----------------------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_at: datetime
    operator: Operator
    device_id: str
    new_device: bool


def _record_sign_in(
    s: Session,
    operator: Operator,
    client: Client,
    now: datetime,
    *,
    failure: str | None,
    new_device: bool,
) -> None:
    s.add(
        OperatorSignIn(
            operator_id=operator.id,
            at=now,
            client_address=client.address,
            device=client.device,
            success=failure is None,
            failure=failure,
            new_device=new_device,
        )
    )
    audit_log.append(
        s,
        category="sign_in",
        actor=f"operator:{operator.username}",
        action="operator.sign_in" if failure is None else "operator.sign_in_failed",
        client=client.address,
        after={"success": failure is None, "failure": failure, "new_device": new_device},
        at=now,
    )


def _record_unknown_username(s: Session, client: Client, now: datetime) -> None:
    """A failed sign-in for a username nobody has: recorded without the name, which may be
    anything a person typed (even a password in the wrong field)."""
    s.commit()  # the lookup's read ends: the record is written in a transaction of its own
    audit_log.append(
        s,
        category="sign_in",
        actor="operator:(unknown)",
        action="operator.sign_in_failed",
        client=client.address,
        after={"success": False, "failure": "unknown_username", "new_device": None},
        at=now,
    )
    s.commit()


def _known_device(s: Session, operator: Operator, device_id: str | None) -> OperatorDevice | None:
    if not device_id:
        return None
    return s.get(OperatorDevice, (operator.id, sha256_hex(device_id)))


def sign_in(
    s: Session,
    *,
    username: str,
    password: str,
    code: str,
    client: Client,
    settings: Settings,
    now: datetime,
) -> SignedIn:
    operator = s.scalar(select(Operator).where(Operator.username == username))
    if operator is None:
        _password_matches(None, password)  # same work as for a known username
        _record_unknown_username(s, client, now)
        raise InvalidCredentialsError("the username, password or code is wrong")
    device = _known_device(s, operator, client.device_id)
    new_device = device is None
    # Reads end here: what follows writes in fresh transactions (no stale SQLite snapshot).
    s.commit()

    def refuse(failure: str, error: Exception) -> Exception:
        _record_sign_in(s, operator, client, now, failure=failure, new_device=new_device)
        s.commit()
        return error

    attempts = _Attempts(s, operator, settings, now)
    try:
        attempts.take()
    except OperatorLockedError as locked:
        raise refuse("locked", locked) from None
    if not _password_matches(operator.password_hash, password):
        wrong = InvalidCredentialsError("the username, password or code is wrong")
        raise refuse("bad_password", attempts.failed(wrong))
    attempts.passed(reset=False)  # the code is the next attempt
    if operator.status == "disabled":
        raise refuse("disabled", OperatorDisabledError("this operator is disabled"))
    if operator.status != "active":
        raise refuse(
            "not_enrolled",
            EnrolmentIncompleteError(
                "enrolment is not complete: confirm the first TOTP code (POST "
                "/v1/operator/enrol/confirm) before signing in"
            ),
        )
    try:
        verify_code(s, operator, code, settings, now)
    except (TotpInvalidError, TotpReusedError, OperatorLockedError) as exc:
        raise refuse(exc.code, exc) from None
    device_id = client.device_id if device is not None else secrets.token_urlsafe(24)
    if device is None:
        s.add(
            OperatorDevice(
                operator_id=operator.id,
                device_hash=sha256_hex(device_id),
                first_seen=now,
                last_seen=now,
            )
        )
    else:
        device.last_seen = now
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=settings.operator_session_seconds)
    s.add(
        OperatorSession(
            token_hash=sha256_hex(token),
            operator_id=operator.id,
            client_address=client.address,
            device=client.device,
            created_at=now,
            expires_at=expires,
        )
    )
    _record_sign_in(s, operator, client, now, failure=None, new_device=new_device)
    s.commit()
    return SignedIn(token, expires, operator, device_id, new_device)


def session_operator(s: Session, token: str, now: datetime) -> tuple[OperatorSession, Operator]:
    """The live session of a `cvo_` token and its operator; raises if none, or if locked."""
    row = None
    if token.startswith(SESSION_PREFIX) and len(token) < 128:
        row = s.scalar(
            select(OperatorSession).where(OperatorSession.token_hash == sha256_hex(token))
        )
    if row is None or row.revoked_at is not None:
        raise OperatorSessionInvalidError(
            "the operator session is unknown or was signed out: sign in again"
        )
    if utc_aware(row.expires_at) <= now:
        raise OperatorSessionInvalidError("the operator session expired: sign in again")
    operator = s.get(Operator, row.operator_id)
    if operator is None or operator.status != "active":
        raise OperatorSessionInvalidError("the operator is disabled: its sessions are void")
    if _is_locked(operator, now):
        raise _locked_error(operator)
    return row, operator


def revoke_sessions(s: Session, operator_id: int, now: datetime) -> int:
    return s.execute(
        update(OperatorSession)
        .where(OperatorSession.operator_id == operator_id, OperatorSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


# ----------------------------------------------------------------------------- enrolment


def new_enrolment(operator: Operator, settings: Settings, now: datetime) -> str:
    """Give `operator` a fresh one-time enrolment token (returned once; only its hash is kept)."""
    token = ENROLMENT_PREFIX + secrets.token_urlsafe(32)
    operator.enrolment_token_hash = sha256_hex(token)
    operator.enrolment_expires_at = now + timedelta(seconds=settings.operator_enrolment_seconds)
    return token


def _enrolling(s: Session, token: str, now: datetime) -> Operator:
    operator = None
    if token.startswith(ENROLMENT_PREFIX) and len(token) < 128:
        operator = s.scalar(
            select(Operator).where(Operator.enrolment_token_hash == sha256_hex(token))
        )
    expires = utc_aware(operator.enrolment_expires_at) if operator is not None else None
    if operator is None or operator.status != "enrolling" or expires is None or expires <= now:
        raise EnrolmentTokenInvalidError(
            "the enrolment token is unknown, used or expired: ask an admin for a new one"
        )
    if _is_locked(operator, now):
        raise _locked_error(operator)
    return operator


def enrol(s: Session, *, token: str, password: str, settings: Settings, now: datetime) -> str:
    """Set the password and a new TOTP seed of an enrolling operator; the provisioning URI."""
    operator = _enrolling(s, token, now)
    s.commit()  # reads end here; the write below starts a fresh transaction
    check_password_rules(password, operator.username)
    seed = pyotp.random_base32()
    operator.password_hash = hash_password(password)
    operator.totp_secret = seal_totp(seed, operator.username, settings)
    operator.updated_at = now
    s.commit()
    return provisioning_uri(seed, operator.username)


def confirm_enrolment(
    s: Session, *, token: str, code: str, settings: Settings, now: datetime
) -> Operator:
    """Confirm the first TOTP code: the account becomes usable, the token is spent."""
    operator = _enrolling(s, token, now)
    if operator.password_hash is None or operator.totp_secret is None:
        raise EnrolmentIncompleteError(
            "set a password first (POST /v1/operator/enrol), then confirm the code it shows"
        )
    verify_code(s, operator, code, settings, now)
    operator.status = "active"
    operator.enrolment_token_hash = operator.enrolment_expires_at = None
    operator.updated_at = now
    s.commit()
    return operator


def create_first_admin(
    s: Session,
    *,
    username: str,
    password: str,
    seed: str,
    code: str,
    settings: Settings,
    now: datetime,
) -> Operator:
    """The command line's admin: created active only once its first TOTP code checks out, and
    only while the platform has no active admin (admins then create operators through the API)."""
    if s.scalar(select(Operator.id).where(Operator.role == "admin", Operator.status == "active")):
        raise ConfigError(
            "an active admin exists: admins create other operators through the API "
            "(POST /v1/operator/operators)"
        )
    if s.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise ConfigError(f"an operator named {username!r} exists: pick another name")
    check_password_rules(password, username)
    step = totp_step(seed, code, now)
    if step is None:
        raise ConfigError(
            "the TOTP code does not match: add the URI to an authenticator and run the command "
            "again (nothing was stored)"
        )
    operator = Operator(
        username=username,
        role="admin",
        status="active",
        password_hash=hash_password(password),
        totp_secret=seal_totp(seed, username, settings),
        last_totp_step=step,
        created_by="command line",
        created_at=now,
        updated_at=now,
    )
    s.add(operator)
    s.flush()
    s.add(
        OperatorAction(
            operator_id=operator.id,
            username=username,
            role="admin",
            action="operator.create_admin",
            target=username,
            at=now,
            client_address="command line",
            before=None,
            after={"role": "admin", "status": "active"},
        )
    )
    audit_log.append(
        s,
        category="operator_action",
        actor="command line",
        action="operator.create_admin",
        subject=username,
        client="command line",
        after={"role": "admin", "status": "active"},
        at=now,
    )
    s.commit()
    return operator
