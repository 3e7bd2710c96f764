"""copyvault's settings: one pydantic-settings object, read from `COPYVAULT_*` variables.

    COPYVAULT_DATABASE_URL=postgresql+psycopg://user:pass@host/db   # default: SQLite under data_dir
    COPYVAULT_RPC_URL=http://127.0.0.1:8545
    COPYVAULT_DEPLOYMENT_FILE=deployment.json

Variables can also come from a `.env` file in the working directory (variables set in the
environment win; `.env.example` lists every setting). `COPYVAULT_ENV_FILE` names another file, or
none when empty. Lines of the file without the prefix are left alone (the file may serve other
tools too); a prefixed name that is no setting is refused, so a misspelt setting cannot go unseen.

`load_settings()` is the one constructor the CLI and the app use: it turns validation errors into a
`ConfigError` that names the environment variable to fix. Secrets are `SecretStr` (never printed),
are only required by the commands that need them (`Settings.require`), and placeholder values such
as "changeme" are refused wherever a secret can appear (secret fields, URL passwords and API keys).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from backend.exceptions import ConfigError

ENV_PREFIX: Final = "COPYVAULT_"
DEFAULT_DATA_DIR: Final = Path("data")
SQLITE_FILE_NAME: Final = "copyvault.db"
# Names the dotenv file to read (default `.env` in the working directory); empty: read none.
ENV_FILE_VARIABLE: Final = "COPYVAULT_ENV_FILE"
DEFAULT_ENV_FILE: Final = ".env"

# Values people leave in templates. Compared case-insensitively, ignoring "-", "_" and spaces.
_PLACEHOLDERS: Final = frozenset(
    {
        "changeme",
        "changethis",
        "placeholder",
        "secret",
        "password",
        "passwd",
        "todo",
        "fixme",
        "xxx",
        "xxxx",
        "example",
        "yourkey",
        "yourapikey",
        "yourpassword",
        "apikey",
        "replaceme",
        "none",
        "null",
    }
)


def is_placeholder(value: str) -> bool:
    """Whether `value` is a template placeholder rather than a real secret."""
    normalised = "".join(c for c in value.strip().lower() if c not in "-_ ")
    if normalised in _PLACEHOLDERS:
        return True
    # "<your key>", "${KEY}", "{{ key }}", "***"
    stripped = value.strip()
    return (
        (stripped.startswith("<") and stripped.endswith(">"))
        or stripped.startswith("${")
        or stripped.startswith("{{")
        or (bool(stripped) and set(stripped) <= {"*", "x", "X", "."})
    )


def _refuse_placeholder_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        raw = value.get_secret_value()
        if not raw.strip():
            raise ValueError("is empty; set a real value or leave the variable unset")
        if is_placeholder(raw):
            raise ValueError("is a placeholder value; set the real secret")
    return value


# A secret setting: never shown in reprs or logs, placeholders refused. Use it for every new secret.
Secret = Annotated[SecretStr, AfterValidator(_refuse_placeholder_secret)]


def env_file_path() -> Path | None:
    """The dotenv file settings are read from now: COPYVAULT_ENV_FILE, else `.env`; None if empty.

    Looked up at each construction (not at import) so tests and tools can point it elsewhere.
    """
    name = os.environ.get(ENV_FILE_VARIABLE, DEFAULT_ENV_FILE)
    return Path(name) if name.strip() else None


def _url_placeholders(url: str) -> list[str]:
    """The parts of `url` that look like placeholders: password, path segments, query values."""
    parts = urlsplit(url)
    found = []
    if parts.password is not None and is_placeholder(parts.password):
        found.append("password")
    for segment in parts.path.split("/"):
        if segment and is_placeholder(segment):
            found.append(f"path segment {segment!r}")
    for key, value in parse_qsl(parts.query):
        if is_placeholder(value):
            found.append(f"query parameter {key!r}")
    return found


class Settings(BaseSettings):
    """Everything configurable in the backend. Field `x` is read from `COPYVAULT_X`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        frozen=True,
        env_file_encoding="utf-8",
        # Only COPYVAULT_* lines of the dotenv file count; an unknown one is refused (extra=forbid).
        dotenv_filtering="match_prefix",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence, first wins: arguments, the environment, then the dotenv file.
        dotenv = DotEnvSettingsSource(settings_cls, env_file=env_file_path())
        return init_settings, env_settings, dotenv, file_secret_settings

    # ------------------------------------------------------------------ store
    data_dir: Path = Field(
        DEFAULT_DATA_DIR, description="Folder for local state (the default SQLite database)."
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the store: sqlite:///path/to.db or postgresql+psycopg://... "
            "Unset: SQLite at <data_dir>/copyvault.db."
        ),
    )
    auto_migrate: bool = Field(True, description="Run the store's migrations when the app starts.")

    # ------------------------------------------------------------------ chain
    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint of the node.")
    deployment_file: Path = Field(
        Path("deployment.json"), description="Deployment JSON written by `copyvault deploy`."
    )
    artifacts_file: Path | None = Field(
        None,
        description="Compiled contracts (ape compile); default: <repo>/.build/__local__.json.",
    )
    deployer_key: Secret | None = Field(
        None,
        description=(
            "Private key (0x hex) that `copyvault deploy` signs with when the node does not "
            "manage unlocked accounts (any real network)."
        ),
    )
    rpc_timeout: float = Field(30.0, gt=0, description="Seconds before one RPC request times out.")
    rpc_retries: int = Field(
        6, ge=0, description="Retries of a failed RPC request (timeouts, 5xx, refused connections)."
    )
    rpc_backoff_initial: float = Field(0.25, ge=0, description="First retry delay, seconds.")
    rpc_backoff_max: float = Field(15.0, ge=0, description="Longest retry delay, seconds.")

    # ------------------------------------------------------------------ indexer
    confirmations: int = Field(
        2, ge=0, description="Blocks to wait below the head before a block is indexed."
    )
    poll_interval: float = Field(1.0, gt=0, description="Seconds between polls at the head.")
    block_range_initial: int = Field(2_000, ge=1, description="First eth_getLogs range, blocks.")
    block_range_max: int = Field(100_000, ge=1, description="Largest eth_getLogs range, blocks.")
    logs_per_request: int = Field(
        10_000,
        ge=1,
        description="Aim for about this many logs per eth_getLogs answer (the range adapts).",
    )
    address_chunk: int = Field(
        1_000, ge=1, description="Most contract addresses in one eth_getLogs filter."
    )
    indexer_enabled: bool = Field(True, description="Run the indexer inside `copyvault serve`.")

    # ------------------------------------------------------------------ API
    api_host: str = Field("127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(8000, ge=0, le=65_535, description="Port the API listens on.")
    api_max_body_bytes: int = Field(
        65_536, ge=1_024, description="Largest request body the API accepts (413 beyond)."
    )
    api_stream_poll_interval: float = Field(
        0.5, gt=0, description="Seconds between polls of the events table by /v1/stream."
    )
    api_price_cache_seconds: float = Field(
        10.0, ge=0, description="Seconds oracle prices for assets under management are reused."
    )

    # ------------------------------------------------------------------ backpressure and readiness
    # The API's own connection pool: the indexer and the relayer have pools of their own, so no
    # burst of requests can make them wait (issue 10: reads starved indexing for 26 s).
    api_pool_size: int = Field(
        10, ge=1, description="Connections the API keeps open to the store (per process)."
    )
    api_pool_overflow: int = Field(
        10, ge=0, description="Extra connections the API may open beyond api_pool_size at peaks."
    )
    api_pool_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a request waits for a free store connection before 503 store_busy.",
    )
    api_statement_timeout_ms: int = Field(
        5_000,
        ge=1,
        description=(
            "PostgreSQL: longest statement of an API request, milliseconds (503 store_busy beyond)."
        ),
    )
    api_lock_timeout_ms: int = Field(
        2_000,
        ge=1,
        description="PostgreSQL: longest wait of an API request for a row or table lock, ms.",
    )
    api_busy_timeout_ms: int = Field(
        5_000,
        ge=1,
        description="SQLite: longest wait of an API request for the write lock, milliseconds.",
    )
    api_retry_after_seconds: int = Field(
        2, ge=1, description="Retry-After of 503 answers (store busy, not ready, stream limits)."
    )
    ready_max_lag_blocks: int = Field(
        10,
        ge=0,
        description=(
            "Blocks the index may trail the chain head beyond `confirmations` and still be ready "
            "(/v1/ready; intake answers 503 index_behind past it)."
        ),
    )
    ready_cache_seconds: float = Field(
        0.5,
        ge=0,
        description=(
            "Seconds intake reuses a 'ready' verdict (one node call per period); a 'not ready' "
            "one is checked again for each refused intent."
        ),
    )
    api_max_open_proposals_per_vault: int = Field(
        100,
        ge=1,
        description=(
            "Most pending or ready proposals one vault may have; a new proposal beyond gets 409 "
            "too_many_open_proposals."
        ),
    )
    api_max_streams: int = Field(
        200, ge=1, description="Most /v1/stream clients per API process (503 stream_limit beyond)."
    )
    api_max_streams_per_client: int = Field(
        8,
        ge=1,
        description="Most /v1/stream clients per client IP address and process (503 beyond).",
    )

    # ------------------------------------------------------------------ platform: limits
    # (rate limits, slow clients, CORS, security headers, TLS; docs/api.md "Limits")
    rate_limit_enabled: bool = Field(
        True, description="Apply the rate limits below (429 rate_limited beyond)."
    )
    rate_limit_per_address: str = Field(
        "20/second;600/minute",
        description=(
            "Requests one client address may make, shared by all API processes (rate strings of "
            "the `limits` library, ';' between several: '20/second;600/minute')."
        ),
    )
    rate_limit_per_credential: str = Field(
        "20/second;600/minute",
        description="Requests one bearer token or session cookie may make, from any address.",
    )
    rate_limit_per_leader: str = Field(
        "10/second;300/minute", description="Intents one leader may submit, from any client."
    )
    rate_limit_sync_interval: float = Field(
        0.1,
        gt=0,
        le=5,
        description="Seconds between reconciliations of a process's counts with the store.",
    )
    rate_limit_exempt_paths: list[str] = Field(
        ["/v1/health", "/v1/ready", "/metrics"],
        description="Paths never rate limited (probes); exact matches.",
    )
    trusted_proxies: list[str] = Field(
        [],
        description=(
            "Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed; from anyone else those headers are ignored."
        ),
    )
    api_cors_origins: list[str] = Field(
        [],
        description=(
            "Origins (scheme://host[:port]) browsers may call the API from; empty: no CORS headers "
            "at all (same-origin only)."
        ),
    )
    api_cors_allow_credentials: bool = Field(
        False,
        description="Let the allowed origins send cookies (Access-Control-Allow-Credentials).",
    )
    api_max_header_bytes: int = Field(
        16_384, ge=1_024, description="Largest request head (request line + headers), bytes (431)."
    )
    api_max_headers: int = Field(64, ge=8, description="Most header lines in one request (431).")
    api_head_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's line and headers (408, closed).",
    )
    api_body_timeout: float = Field(
        30.0, gt=0, description="Seconds a client has to send a request's body (408)."
    )
    api_max_connections: int = Field(
        2_048, ge=1, description="Open connections per API process (503 beyond)."
    )
    api_max_connections_per_client: int = Field(
        64,
        ge=1,
        description="Open connections one client address may hold per API process (503 beyond).",
    )
    api_pin_workers: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "With `serve --workers N`: each API process pins itself to a CPU of its own while "
            "CPUs last, so its threads share one core's caches (docs/performance.md). auto: on "
            "with SQLite, off with PostgreSQL, whose server processes need the same cores when "
            "it runs on the machine."
        ),
    )
    api_hsts_seconds: int = Field(
        31_536_000, ge=0, description="Strict-Transport-Security max-age on TLS answers; 0: none."
    )
    tls_certfile: Path | None = Field(
        None, description="PEM certificate (chain) `copyvault serve` answers TLS with."
    )
    tls_keyfile: Path | None = Field(None, description="PEM private key of tls_certfile.")
    tls_key_password: Secret | None = Field(
        None, description="Password of tls_keyfile, when it is encrypted."
    )

    # ------------------------------------------------------------------ intents and relayer
    intent_deadline_margin: int = Field(
        30,
        ge=0,
        description=(
            "Seconds an intent must still have before its deadline to be accepted (time to relay "
            "and mine it)."
        ),
    )
    # ------------------------------------------------------------------ admission
    intake_max_pending_per_leader: int = Field(
        32,
        ge=1,
        description=(
            "Most intents of one leader not yet final (accepted, planning, relaying) that intake "
            "holds; beyond it POST /v1/intents answers 429 leader_pending_limit."
        ),
    )
    intake_pending_retry_after_seconds: int = Field(
        12,
        ge=1,
        description="Retry-After seconds of a 429 leader_pending_limit (about one block).",
    )

    relayer_enabled: bool = Field(
        False,
        description=(
            "Run a relayer worker inside `copyvault serve` (needs COPYVAULT_RELAYER_KEY_FILE). "
            "`copyvault relay` runs workers on their own."
        ),
    )
    relayer_key_file: Path | None = Field(
        None,
        description=(
            "The relayer's sender key, encrypted: an AES-256-GCM file written by `copyvault "
            "relayer-key` (needs COPYVAULT_SECRETS_KEY) or an Ethereum V3 keystore (needs "
            "COPYVAULT_RELAYER_KEYSTORE_PASSWORD)."
        ),
    )
    secrets_key: Secret | None = Field(
        None,
        description=(
            "32-byte key (64 hex digits) that encrypts secrets at rest with AES-256-GCM, such as "
            "the relayer key file. `copyvault relayer-key secrets-key` makes one."
        ),
    )
    relayer_keystore_password: Secret | None = Field(
        None, description="Password of the relayer's V3 keystore file, when that is the format."
    )
    relayer_batch_gas: int = Field(
        2**24,
        ge=1_000_000,
        le=2**24,
        description=(
            "Most gas one mirrorAggregated transaction may use; at most 2^24, the EIP-7825 cap."
        ),
    )
    relayer_max_batch: int = Field(
        200, ge=1, description="Most vaults in one mirrorAggregated transaction."
    )
    relayer_poll_interval: float = Field(
        0.2, gt=0, description="Seconds between a relayer worker's rounds when it has no work."
    )
    relayer_replace_after: float = Field(
        30.0,
        gt=0,
        description="Seconds before a transaction not yet mined is replaced with a higher fee.",
    )
    relayer_fee_bump_percent: int = Field(
        25, ge=10, le=1_000, description="How much each replacement raises both fees, percent."
    )
    relayer_max_fee_gwei: float = Field(
        500.0, gt=0, description="The relayer never offers more than this max fee per gas."
    )
    relayer_confirmations: int = Field(
        12,
        ge=0,
        description=(
            "Blocks a relay transaction's block must have (itself included) before its outcomes "
            "are final and its intent done; until then every round checks it is still on the "
            "canonical chain and re-plans what a reorg undid. 0 trusts inclusion (local chains)."
        ),
    )
    relayer_claim_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a worker holds an intent it is planning before others may take it.",
    )
    relayer_max_attempts: int = Field(
        3,
        ge=1,
        description="Batches sent for one group of vaults before the relayer gives up on them.",
    )

    # ------------------------------------------------------------------ identity (sign-in, keys)
    siwe_domain: str = Field(
        "localhost:8000",
        min_length=1,
        description=(
            "The host (and port) a Sign-in with Ethereum message must name as its domain: the web "
            "app's own, which wallets show and check against the page's origin."
        ),
    )
    siwe_uri_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Origins (scheme://host[:port]) a sign-in message's URI may have, as a JSON list. "
            "Empty: https://<siwe_domain> only."
        ),
    )
    siwe_nonce_seconds: int = Field(
        300, ge=10, le=3_600, description="How long a sign-in nonce may be used (once)."
    )
    siwe_clock_skew_seconds: int = Field(
        60,
        ge=0,
        le=600,
        description="Tolerance for a wallet's clock on a sign-in message's issued-at/not-before.",
    )
    session_seconds: int = Field(
        3_600, ge=60, le=7 * 86_400, description="Lifetime of a session from its sign-in."
    )
    api_key_max_days: int = Field(
        90, ge=1, le=366, description="Longest lifetime a leader API key may be given, in days."
    )
    api_key_max_rate_per_minute: int = Field(
        600, ge=1, description="Highest own rate (requests per minute) an API key may be given."
    )
    api_key_max_per_leader: int = Field(
        20, ge=1, le=1_000, description="Most live (unrevoked, unexpired) API keys of one leader."
    )
    intents_require_credentials: bool = Field(
        False,
        description=(
            "Refuse POST /v1/intents without the leader's API key or a session of the leader or "
            "one of its delegates (401 credentials_required). Off by default: the intent's "
            "EIP-712 signature already authenticates the leader."
        ),
    )

    # ------------------------------------------------------------------ operators (platform)
    operator_session_seconds: int = Field(
        900, ge=60, le=86_400, description="Lifetime of an operator session (cvo_ token), seconds."
    )
    operator_max_failures: int = Field(
        5,
        ge=1,
        description=(
            "Consecutive failed passwords or TOTP codes (sign-in or step-up) that lock an "
            "operator account."
        ),
    )
    operator_lockout_seconds: int = Field(
        900, ge=1, description="How long a locked operator account stays locked, seconds."
    )
    operator_enrolment_seconds: int = Field(
        86_400, ge=60, description="How long an operator's one-time enrolment token is valid."
    )
    operator_cookie_secure: bool = Field(
        True,
        description=(
            "Mark the operator session cookie Secure (sent over HTTPS only). Leave on outside "
            "local tests."
        ),
    )
    guardian_key_file: Path | None = Field(
        None,
        description=(
            "The platform guardian's key, encrypted with COPYVAULT_SECRETS_KEY (`copyvault "
            "guardian-key new|import`): what operators' guardian pauses sign with."
        ),
    )

    # ------------------------------------------------------------------ backups
    backup_key: Secret | None = Field(
        None,
        description=(
            "32-byte key (64 hex digits) that seals backups with AES-256-GCM (`copyvault backup "
            "new-key` makes one). Kept apart from COPYVAULT_SECRETS_KEY so that rotating that key "
            "never makes an old backup unreadable; store it away from the backups."
        ),
    )
    backup_dir: Path | None = Field(
        None, description="Folder of `copyvault backup` files; default: <data_dir>/backups."
    )

    # ------------------------------------------------------------------ compliance and keys
    # (KYC, screening, key rotation: one block, so parallel additions merge around it)
    intake_require_verified_leader: bool = Field(
        False,
        description=(
            "Admit intents only from leaders whose newest KYC attestation is `verified` and not "
            "expired; others get 403 leader_not_verified."
        ),
    )
    kyc_evidence_retention_days: int = Field(
        1_825,
        ge=1,
        le=36_500,
        description=(
            "Days KYC evidence is kept after it was recorded; `copyvault compliance "
            "purge-evidence` then deletes it (the decision itself stays)."
        ),
    )
    new_secrets_key: Secret | None = Field(
        None,
        description=(
            "The next COPYVAULT_SECRETS_KEY, read by `copyvault keys rotate` only: every secret is "
            "re-encrypted with it; then it replaces COPYVAULT_SECRETS_KEY."
        ),
    )

    # ------------------------------------------------------------------ audit trail (anchoring)
    anchorer_enabled: bool = Field(
        False,
        description=(
            "Run the audit anchorer inside `copyvault serve` (or as its own process with "
            "`copyvault audit anchor`): it publishes the audit log's head and the Merkle root of "
            "the intents accepted since the last anchor to the AuditAnchor contract. Signs with "
            "its own key (COPYVAULT_ANCHORER_KEY_FILE), which must hold ANCHORER_ROLE."
        ),
    )
    anchorer_key_file: Path | None = Field(
        None,
        description=(
            "The anchorer's key, encrypted with COPYVAULT_SECRETS_KEY (`copyvault audit "
            "anchorer-key new|import`). Its own key, not the relayer's: the relayer counts its "
            "nonces in the store, and a second sender of that key would break the count."
        ),
    )
    anchor_interval_seconds: int = Field(
        3600,
        ge=1,
        description="Seconds between anchors: at most this long an entry or intent is unanchored.",
    )
    anchor_after_entries: int = Field(
        0,
        ge=0,
        description=(
            "Also anchor as soon as this many audit entries are unanchored (0: by interval only)."
        ),
    )
    anchor_settle_seconds: int = Field(
        10,
        ge=0,
        description=(
            "An anchor's interval ends this many seconds before now, so intents still being "
            "written when it is taken fall in the next interval rather than in none."
        ),
    )

    # ------------------------------------------------------------------ risk engine (docs/risk.md)
    risk_enabled: bool = Field(
        True, description="Score every intent at intake and act on the score (docs/risk.md)."
    )
    risk_hold_score: int = Field(
        40, ge=1, le=100, description="Score (0-100) from which an intent is held for review."
    )
    risk_severe_score: int = Field(
        70,
        ge=1,
        le=100,
        description="Score from which the leader's vaults are also paused and an alert is sent.",
    )
    risk_min_history: int = Field(
        20,
        ge=1,
        description="Intents a leader needs before its own baseline is trusted (novelty, size).",
    )
    risk_price_tolerance_bps: int = Field(
        500,
        ge=1,
        le=10_000,
        description="Discount of min_price below the oracle's price that is never suspicious.",
    )
    risk_burst_window_seconds: int = Field(
        60, ge=1, description="Window in which a leader's intents are counted for bursts."
    )
    risk_wash_window_seconds: int = Field(
        120, ge=1, description="Window in which two leaders' opposite trades count as washing."
    )
    risk_review_seconds: int = Field(
        3_600,
        ge=0,
        description="After a hold, the leader's next intents are held too for this long.",
    )
    risk_history_intents: int = Field(
        50_000, ge=100, description="Most recent intents the baselines are learned from."
    )
    risk_refresh_seconds: float = Field(
        30.0, gt=0, description="Seconds between rebuilds of the baselines from the store."
    )
    risk_webhook_url: str | None = Field(
        None, description="Where severe alerts are POSTed (signed); none: alerts are only stored."
    )
    risk_webhook_secret_file: Path | None = Field(
        None,
        description=(
            "The webhook's HMAC secret, encrypted with COPYVAULT_SECRETS_KEY (`copyvault risk "
            "webhook-secret --out FILE`)."
        ),
    )
    risk_webhook_retries: int = Field(
        4, ge=0, le=20, description="Retries of an alert the receiver did not take (2xx)."
    )
    risk_webhook_backoff_seconds: float = Field(
        0.5, ge=0, description="First retry delay of an alert; doubled at each retry."
    )
    risk_webhook_timeout: float = Field(
        5.0, gt=0, description="Seconds one alert delivery may take."
    )

    # ------------------------------------------------------------------ web app (issue 13)
    web_dist_dir: Path | None = Field(
        None,
        description="The built web app served at / (`npm --prefix web run build`); default: "
        "<repo>/web/dist. Not built: / answers 503 with how to build it.",
    )
    swagger_ui_dir: Path | None = Field(
        None,
        description="Swagger UI's files for /docs (npm swagger-ui-dist, served by the app: no "
        "CDN); default: <repo>/node_modules/swagger-ui-dist.",
    )
    reports_dir: Path | None = Field(
        None,
        description="Where `make slither` writes its report (GET /v1/auditor/slither); default: "
        "<repo>/reports.",
    )
    gas_snapshot_file: Path | None = Field(
        None,
        description="The gas snapshot GET /v1/auditor/gas serves; default: "
        "<repo>/bench/gas-snapshot.json.",
    )
    oracle_sample_blocks: int = Field(
        50,
        ge=1,
        description="The indexer keeps every feed's answer at least once per this many blocks "
        "(and after every deposit, withdrawal, trade or feed change): vault value over time.",
    )

    # ------------------------------------------------------------------ validation

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme in ("postgresql", "postgres"):
            # One driver for PostgreSQL: psycopg 3.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        elif scheme not in ("sqlite", "postgresql+psycopg"):
            raise ValueError(
                f"scheme {scheme or '(none)'!r} is not supported; use sqlite:///path/to/file.db "
                "or postgresql+psycopg://user:password@host:5432/database"
            )
        bad = _url_placeholders(value)
        if bad:
            raise ValueError(f"has a placeholder {', '.join(bad)}; put the real credentials in")
        return value

    @field_validator("siwe_uri_origins")
    @classmethod
    def _check_siwe_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin.strip())
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
            ):
                raise ValueError(
                    f"{origin!r} is not an origin: give scheme://host[:port] only, e.g. "
                    '["https://app.example.com"]'
                )
        return [origin.strip().rstrip("/") for origin in value]

    @field_validator("rpc_url")
    @classmethod
    def _check_rpc_url(cls, value: str) -> str:
        value = value.strip()
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// JSON-RPC URL")
        bad = _url_placeholders(value)
        if bad:
            raise ValueError(
                f"has a placeholder {', '.join(bad)}; put your node provider's real key in"
            )
        return value

    # ------------------------------------------------------------------ validation: limits

    @field_validator("rate_limit_per_address", "rate_limit_per_credential", "rate_limit_per_leader")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        from backend.security.rate_limits import parse_rate

        try:
            parse_rate(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate: write e.g. 600/minute, or 20/second;600/minute"
            ) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network; write e.g. 10.0.0.5 or 10.0.0.0/24"
                ) from None
        return [entry.strip() for entry in value]

    @field_validator("api_cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or origin.rstrip("/") != f"{parts.scheme}://{parts.netloc}"
            ):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port] with no path, e.g. "
                    "https://app.example.org ('*' is not accepted: list each origin)"
                )
        return [origin.rstrip("/") for origin in value]

    @model_validator(mode="after")
    def _check_tls_pair(self) -> Settings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError(
                "TLS needs both COPYVAULT_TLS_CERTFILE and COPYVAULT_TLS_KEYFILE (or neither)"
            )
        return self

    # ------------------------------------------------------------------ derived values

    @property
    def sqlalchemy_url(self) -> str:
        """The store URL, with the SQLite default filled in."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / SQLITE_FILE_NAME}"

    @property
    def pins_api_workers(self) -> bool:
        """Whether each API process of `serve --workers N` claims a CPU of its own."""
        if self.api_pin_workers == "auto":
            return self.sqlalchemy_url.startswith("sqlite")
        return self.api_pin_workers == "on"

    def require(self, name: str) -> Any:
        """The value of setting `name`, or a ConfigError naming its variable when it is unset."""
        value = getattr(self, name)
        if value is None:
            description = type(self).model_fields[name].description or ""
            raise ConfigError(
                f"{ENV_PREFIX}{name.upper()} is not set but is needed here. {description}".strip()
            )
        return value


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and `overrides`); a ConfigError naming every bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "is not a copyvault setting (misspelt?); .env.example lists them all"
            lines.append(f"  {ENV_PREFIX}{field.upper()}: {message}")
        raise ConfigError("invalid settings:\n" + "\n".join(lines)) from None
