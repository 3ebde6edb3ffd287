"""All configuration, read once from ``HRFLOW_*`` environment variables (and ``.hrflow/dev.env``).

``hrflow dev`` writes ``.hrflow/dev.env`` with the embedded stack's addresses and generated secrets,
so ``hrflow token`` or ``hrflow audit verify`` run in the same directory reach the same stack. Real
environment variables always win over that file. Settings are never read inside workflow code.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from db.audit_anchors import AnchorStore
    from db.session import Limits

DEV_DIR = Path(".hrflow")
DEV_ENV_FILE = DEV_DIR / "dev.env"


class WebhookTarget(BaseModel):
    """A group robot: its full URL (WeCom's carries the key) and, for DingTalk's signing, the secret."""

    url: str
    secret: SecretStr | None = None


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message says which variable to set and how."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HRFLOW_",
        env_file=str(DEV_ENV_FILE),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # --- database ---
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL, e.g. postgresql+psycopg2://hrflow:secret@db:5432/hrflow",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="the URL `hrflow migrate` uses, as the tables' owner, when the API and worker run as a role"
                    " without DDL rights (default: HRFLOW_DATABASE_URL)",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200, description="connections (and threads) per API process")
    database_pool_timeout_seconds: float = Field(default=10, gt=0, le=300,
                                                 description="longest wait for a pooled connection")
    database_lock_timeout_ms: int = Field(default=5_000, ge=100, le=600_000,
                                          description="longest wait for a row, table or advisory lock")
    database_statement_timeout_ms: int = Field(default=30_000, ge=1_000, le=3_600_000,
                                               description="longest statement")
    database_idle_in_transaction_timeout_ms: int = Field(
        default=60_000, ge=1_000, le=3_600_000, description="the server ends a session idle this long in a transaction")

    # --- Temporal ---
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "hrflow"
    temporal_tls_cert: Path | None = Field(default=None, description="client certificate (PEM)")
    temporal_tls_key: Path | None = Field(default=None, description="client private key (PEM)")
    temporal_tls_ca: Path | None = Field(default=None, description="server CA (PEM), if private")
    temporal_api_key: SecretStr | None = Field(default=None, description="Temporal Cloud API key")
    temporal_update_wait_seconds: float = Field(default=30, gt=0, le=600,
                                                description="longest wait of an API request for a case's decision")

    # --- API ---
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    jwt_secret: SecretStr | None = None
    jwt_ttl_minutes: int = Field(default=8 * 60, ge=1)
    ui_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"],
        description="origins allowed to call the codec endpoint (the Temporal UI)",
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="largest JSON body")

    # --- web app ---
    dev_sign_in: bool = Field(default=False, description="the web app's sign-in as any registered person (`hrflow dev` only)")
    session_idle_minutes: int = Field(default=30, ge=1, description="a web session ends after this long without a request")
    temporal_ui_url: str | None = Field(
        default=None, description="the Temporal UI's address, for each case page's deep link (http://host:8233)")
    secure_cookies: bool = Field(default=False, description="mark the web session cookie Secure (behind HTTPS)")
    public_url: str | None = Field(default=None, description="the address people reach hrflow at (https://hr.example.cn),"
                                                            " for sign-in return addresses; else the request's own")

    email_link_hours: int = Field(default=72, ge=0, le=24 * 30, description="life of an e-mailed decision link"
                                                                        " (0: no links in e-mail)")

    # --- single sign-on (each configured provider is offered on the sign-in page) ---
    oidc_issuer: str | None = Field(default=None, description="OpenID Connect issuer URL (Keycloak realm, Authing, Azure AD)")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = Field(default=None, description="omit for a public client (PKCE only)")
    oidc_scopes: str = "openid profile email"
    oidc_login_claim: str = Field(default="preferred_username",
                                  description="the ID-token claim holding the directory login or employee number")
    wecom_corp_id: str | None = Field(default=None, description="WeCom 企业ID (corpid)")
    wecom_agent_id: str | None = Field(default=None, description="WeCom self-built application AgentId")
    wecom_secret: SecretStr | None = Field(default=None, description="that application's Secret")
    wecom_contacts_secret: SecretStr | None = Field(
        default=None, description="WeCom 通讯录同步 Secret: the address book is then the HR master the syncs read")
    wecom_callback_token: SecretStr | None = Field(default=None, description="the application's callback Token (接收消息)")
    wecom_encoding_aes_key: SecretStr | None = Field(default=None, description="its 43-character EncodingAESKey")
    dingtalk_app_key: str | None = Field(default=None, description="DingTalk app's AppKey (Client ID)")
    dingtalk_app_secret: SecretStr | None = Field(default=None, description="its AppSecret (Client Secret)")
    dingtalk_agent_id: str | None = Field(default=None, description="its AgentId, for work notifications")
    dingtalk_contacts: bool = Field(default=False, description="the DingTalk address book is the HR master the syncs read")
    dingtalk_oapi_base: str = "https://oapi.dingtalk.com"
    dingtalk_api_base: str = "https://api.dingtalk.com"
    dingtalk_login_base: str = "https://login.dingtalk.com"
    feishu_app_id: str | None = Field(default=None, description="Feishu self-built app's App ID (cli_...)")
    feishu_app_secret: SecretStr | None = Field(default=None, description="its App Secret")
    feishu_verification_token: SecretStr | None = Field(default=None, description="its callbacks' Verification Token")
    feishu_encrypt_key: SecretStr | None = Field(default=None, description="its callbacks' Encrypt Key")
    feishu_contacts: bool = Field(default=False, description="the Feishu address book is the HR master the syncs read")
    feishu_api_base: str = "https://open.feishu.cn"
    feishu_accounts_base: str = "https://accounts.feishu.cn"
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_login_base: str = "https://login.work.weixin.qq.com"
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="largest uploaded file")
    import_max_rows: int = Field(default=50_000, ge=1, description="most rows one employee import file may hold")
    hr_master_export: Path | None = Field(default=None, description="the HR master system's employee export (JSON),"
                                                                    " which POST /employees/sync reads")

    # --- audit ---
    audit_anchor_dir: Path | None = Field(
        default=None, description="where each audit seal's hash is anchored outside the database (a directory the"
                                  " database's administrators cannot write: another machine's share, a WORM mount)")

    # --- payload encryption ---
    codec_keys: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object {"key-id": "base64 32-byte AES key"}; all ids decrypt',
    )
    codec_active_key: str | None = Field(default=None, description="key id used to encrypt")
    person_keys: bool = Field(default=True, description="encrypt each employee's case payloads under a key of her"
                                                        " own (destroyed by her erasure); off: new payloads under the"
                                                        " master key (those already under hers stay readable)")
    person_key_cache_seconds: float = Field(default=300, ge=0, le=3600,
                                            description="how long a process keeps a person's key in memory: an"
                                                        " erasure takes effect everywhere within this time")
    blind_index_key: SecretStr | None = Field(
        default=None, description="base64 of 32 random bytes: the key of the resident ID numbers' blind index (their"
                                  " uniqueness and look-up); independent of the codec keys, never rotated")

    # --- embedded dev stack (`hrflow dev`) ---
    dev_dir: Path = DEV_DIR
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)

    # --- worker ---
    worker_max_concurrent_activities: int = Field(default=50, ge=1)
    worker_max_cached_workflows: int = Field(
        default=800, ge=0, description="open cases a worker keeps in memory (about 0.3 MB each: sized to keep a"
                                       " worker under 500 MB); the rest replay from history when a message or"
                                       " timer reaches them")
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_processes: int = Field(default=1, ge=1, le=256, description="worker processes `hrflow worker` runs:"
                                                                        " one per core")
    worker_graceful_shutdown_seconds: int = Field(default=20, ge=0)

    # --- outside agencies ---
    si_agency: str = Field(default="simulated", description="social-insurance agency adapter")
    sim_agency_latency_ms: int = Field(default=200, ge=0, description="simulated agency latency")

    # --- business settings that are company choices, not statute ---
    payroll_cutoff_day: int = Field(default=25, ge=1, le=28)
    rollback_window_hours: int = Field(default=72, ge=0)
    si_correction_days: int = Field(default=30, ge=1, description="a returned change closes after this")
    si_followup_days: int = Field(default=90, ge=0, description="revocation may be asked this long")
    base_adjustment_page_size: int = Field(default=500, ge=1, le=1000, description="lines per agency declaration")
    base_adjustment_pages_per_part: int = Field(default=20, ge=1, description="pages one child workflow declares")
    base_adjustment_parts_in_flight: int = Field(default=4, ge=1, description="child workflows declaring at once")
    maternity_deduction_installments: int = Field(default=1, ge=1, le=24, description="payrolls to recover advances")
    maternity_return_reminder_days: int = Field(default=7, ge=0)
    maternity_return_grace_days: int = Field(default=3, ge=0)

    # --- reminders (the daily sweep) ---
    reminder_due_within_days: int = Field(default=7, ge=0, description="remind of dates due within this many days")
    approval_sla_days: int = Field(default=3, ge=1, description="a task with no due date is overdue after this")
    escalation_days: int = Field(default=2, ge=1, description="an overdue task climbs one level per this many days")
    receivable_followup_days: int = Field(default=7, ge=1, description="remind finance of receivables idle this long")
    sweep_batch_size: int = Field(default=200, ge=1, le=5000, description="due items per sweep activity")

    # --- notification delivery ---
    delivery_interval_seconds: float = Field(default=10, ge=0, description="outbox poll interval in the worker; 0 = off")
    delivery_max_attempts: int = Field(default=8, ge=1, description="tries before a delivery is marked failed")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    mail_from: str = "hrflow@localhost"
    sms_access_key_id: str | None = Field(default=None, description="Alibaba Cloud SMS AccessKey ID")
    sms_access_key_secret: SecretStr | None = Field(default=None, description="its AccessKey Secret")
    sms_sign_name: str | None = Field(default=None, description="the approved SMS signature (短信签名)")
    sms_template_code: str | None = Field(default=None, description="the approved template (SMS_...) with one"
                                                                    " variable, ${subject}")
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    webhooks: dict[str, WebhookTarget] = Field(
        default_factory=dict,
        description='JSON {"role": {"url": ..., "secret": ...}}: a WeCom/DingTalk group robot per role',
    )

    # --- schedules ---
    schedules_sync_on_start: bool = Field(default=False, description="the worker syncs the schedules at start")

    # --- monthly risk and compliance report: alert thresholds ---
    report_attrition_ratio_alert: Decimal = Field(default=Decimal(2), gt=0,
                                                  description="maternity-return attrition / company average")
    report_undeducted_rate_alert: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    report_departed_unsettled_alert: Decimal = Field(default=Decimal("0.10"), ge=0, le=1)
    report_base_low_share: Decimal = Field(default=Decimal("0.60"), gt=0, description="of the local average wage")
    report_base_high_share: Decimal = Field(default=Decimal("3.00"), gt=0, description="of the local average wage")

    @field_validator("codec_keys")
    @classmethod
    def _keys_are_aes256(cls, keys: dict[str, str]) -> dict[str, str]:
        for key_id, encoded in keys.items():
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise ValueError(f"codec key {key_id!r} is not base64") from None
            if len(raw) != 32:
                raise ValueError(f"codec key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}")
        return keys

    @field_validator("blind_index_key")
    @classmethod
    def _blind_index_key_is_32_bytes(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            try:
                raw = base64.b64decode(key.get_secret_value(), validate=True)
            except binascii.Error:
                raise ValueError("HRFLOW_BLIND_INDEX_KEY is not base64") from None
            if len(raw) != 32:
                raise ValueError(f"HRFLOW_BLIND_INDEX_KEY must be 32 bytes, got {len(raw)}")
        return key

    # --- checks that say what to set ---
    def blind_index_key_bytes(self) -> bytes | None:
        return base64.b64decode(self.blind_index_key.get_secret_value()) if self.blind_index_key else None

    def require_blind_index_key(self) -> bytes:
        """The blind-index key; without it no ID number can be registered or looked up."""
        key = self.blind_index_key_bytes()
        if key is None:
            raise ConfigurationError(
                "HRFLOW_BLIND_INDEX_KEY is not set: set it to base64 of 32 random bytes"
                " (python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'), once, and keep it:"
                " changing it makes every ID number unfindable"
            )
        return key

    def require_database_url(self) -> str:
        if not self.database_url:
            raise ConfigurationError(
                "HRFLOW_DATABASE_URL is not set: set it to postgresql+psycopg2://USER:PASSWORD@HOST/DB"
                " (or run `hrflow dev`, which starts an embedded PostgreSQL)"
            )
        if not self.database_url.startswith(("postgresql://", "postgresql+psycopg2://")):
            raise ConfigurationError(
                "HRFLOW_DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg2://...)"
            )
        return self.database_url

    def database_limits(self) -> Limits:
        from db.session import Limits  # SQLAlchemy loads only for the commands that use the database

        return Limits(lock_timeout_ms=self.database_lock_timeout_ms,
                      statement_timeout_ms=self.database_statement_timeout_ms,
                      idle_in_transaction_timeout_ms=self.database_idle_in_transaction_timeout_ms,
                      pool_timeout_seconds=self.database_pool_timeout_seconds)

    def require_jwt_secret(self) -> str:
        if self.jwt_secret is None or not self.jwt_secret.get_secret_value():
            raise ConfigurationError(
                "HRFLOW_JWT_SECRET is not set: set it to a random string of at least 32 characters"
                " (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if len(self.jwt_secret.get_secret_value()) < 32:
            raise ConfigurationError("HRFLOW_JWT_SECRET is too short: use at least 32 characters")
        return self.jwt_secret.get_secret_value()

    def require_codec_keys(self) -> tuple[str, dict[str, bytes]]:
        """The active key id and every key (for decryption of older payloads)."""
        if not self.codec_keys:
            raise ConfigurationError(
                "HRFLOW_CODEC_KEYS is not set: set it to a JSON object such as"
                ' {"k1": "<base64 of 32 random bytes>"} (payloads carry names and ID numbers)'
            )
        active = self.codec_active_key or next(iter(self.codec_keys))
        if active not in self.codec_keys:
            raise ConfigurationError(
                f"HRFLOW_CODEC_ACTIVE_KEY={active!r} is not one of the ids in HRFLOW_CODEC_KEYS"
            )
        return active, {k: base64.b64decode(v) for k, v in self.codec_keys.items()}

    def anchor_store(self) -> AnchorStore | None:
        """Where the audit seals are anchored, or None when no place is configured."""
        from db.audit_anchors import DirectoryAnchors

        return DirectoryAnchors(self.audit_anchor_dir) if self.audit_anchor_dir else None

    @cached_property
    def sqlalchemy_url(self) -> str:
        return _psycopg2_url(self.require_database_url())

    @property
    def migration_sqlalchemy_url(self) -> str:
        """The owner's URL for schema changes, or the app's own when no separate owner is set."""
        if self.migration_database_url:
            return _psycopg2_url(self.migration_database_url)
        return self.sqlalchemy_url


def _psycopg2_url(url: str) -> str:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def load_settings(**overrides: object) -> Settings:
    """Read settings; a wrong value becomes a ``ConfigurationError`` naming the variable."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        # Overrides are init keywords of any field, checked by pydantic at run time, not by mypy.
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:  # a JSON-typed variable that is not JSON
        raise ConfigurationError(f"{str(exc).splitlines()[0]} (expected JSON)") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"HRFLOW_{field.upper()}: {first['msg']}") from None


def unreachable_database(exc: BaseException) -> ConfigurationError:
    """The one line a command ends with when the database named by HRFLOW_DATABASE_URL does not answer."""
    return ConfigurationError(f"cannot reach the database named by HRFLOW_DATABASE_URL: {str(exc).splitlines()[0]}")


def require_database(engine: Engine) -> None:
    """Run a first query, so that a wrong URL or an absent server stops a process before it starts
    anything else, with ``unreachable_database``'s one line instead of a traceback."""
    from db.session import ping  # SQLAlchemy loads only for the commands that use the database

    try:
        ping(engine)
    except Exception as exc:  # noqa: BLE001 - whatever stops the first query, the fix is the URL or the server
        raise unreachable_database(exc) from None
