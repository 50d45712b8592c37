"""Settings: a catalogue of every knob, each with help text.

Values come from ``CDG_*`` environment variables, then from ``CDG_HOME/config``
(``KEY=value`` lines), then the defaults below. Nothing is read at import time:
``load_settings()`` is called by the CLI and by ``create_app``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDG_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path(".cdg"),
        description="Directory holding config, key files, the SQLite store and demo sources.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the gateway store; default: SQLite file gateway.db in home.",
    )
    host: str = Field(default="127.0.0.1", description="Address `cdg serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `cdg serve` listens on.")
    public_url: str | None = Field(
        default=None,
        description="Base URL of the gateway in links it makes (resident links, demo summary); "
        "default http://HOST:PORT.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        max_length=2000,
        description="Comma-separated proxy addresses whose X-Forwarded-For/-Proto `cdg serve` "
        "trusts; empty: none (the connecting address is the client).",
    )
    master_key: str | None = Field(
        default=None,
        description="Base64 master key (32+ bytes); overrides the key files in home/keys.",
        repr=False,
    )
    log_signing_key: str | None = Field(
        default=None,
        description="Base64 Ed25519 seed that signs audit checkpoints; overrides home/keys.",
        repr=False,
    )
    log_origin: str = Field(
        default="community-data-gateway.local/audit",
        min_length=1,
        max_length=200,
        description="Origin line of the audit log's signed checkpoints (names this log).",
    )
    checkpoint_every_entries: int = Field(
        default=256,
        ge=1,
        le=1_000_000,
        description="Store a signed checkpoint at least every this many audit entries.",
    )
    checkpoint_every_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="Store a signed checkpoint when this long has passed since the last one.",
    )
    audit_verify_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes `cdg audit verify` uses to check ranges of the log side by "
        "side; 0: one per CPU, 1: all in the calling process.",
    )
    witnesses: str = Field(
        default="",
        description="Witnesses that cosign stored checkpoints: comma-separated "
        "`URL verifier-key` pairs (the witness's add-checkpoint prefix and its 0x04 key).",
    )
    witnesses_required: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Valid witness cosignatures `cdg audit verify` requires on the newest "
        "checkpoint; default: every configured witness.",
    )
    witness_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="Longest the gateway waits for one witness to answer.",
    )
    purposes_file: Path | None = Field(
        default=None,
        description="YAML purpose hierarchy replacing the built-in one (policies/purposes.yaml).",
    )
    source_dirs: str = Field(
        default="",
        description="Per-department directories for SQLite sources, `department=path` entries "
        "separated by os.pathsep; a department without one uses HOME/sources/DEPARTMENT.",
    )
    source_hosts: str = Field(
        default="",
        description="Comma-separated hosts, addresses or networks source servers may be on; "
        "default: loopback and the store's own host.",
    )
    statement_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Longest a query may run on a department's database before it is cancelled.",
    )
    max_rows: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Most rows any run returns; policies and approvals can only lower it.",
    )
    store_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Connections to a PostgreSQL store per process (as many again on bursts).",
    )
    source_pool_size: int = Field(
        default=5, ge=1, le=100, description="Connections kept open per registered source."
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=1_073_741_824,
        description="Largest request body accepted, in bytes; a larger one is answered 413 "
        "before it is read.",
    )
    log_level: str = Field(default="INFO", description="Python logging level of the service.")
    key_rotation_grace_seconds: int = Field(
        default=86_400,
        ge=0,
        le=90 * 86_400,
        description="After a key rotation, how long the principal's previous keys keep working.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Service log lines as plain `text` or one JSON object per line (`json`).",
    )
    webhook_hosts: str = Field(
        default="",
        description="Comma-separated host names or addresses webhook URLs may point at; "
        "default: none (webhook registration refused).",
    )
    webhook_max_attempts: int = Field(
        default=8,
        ge=1,
        le=50,
        description="Delivery attempts of one webhook message before giving up.",
    )
    webhook_backoff_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Wait before the second webhook attempt; doubles each time, with jitter.",
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, le=86_400, description="Longest wait between webhook attempts."
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Longest one webhook delivery may take."
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=600,
        description="How often an idle delivery worker looks for due webhook messages.",
    )
    webhook_worker: bool = Field(
        default=True,
        description="Run the webhook delivery worker in each serving process (else only "
        "`cdg webhooks deliver` sends).",
    )
    budget_alert_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a privacy-budget cap whose crossing sends `budget.nearly_spent`.",
    )
    time_zone: str = Field(
        default="Asia/Shanghai",
        min_length=1,
        max_length=64,
        description="IANA time zone in which the console shows times (the store keeps UTC).",
    )
    console_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="A console session unused this many minutes is signed out.",
    )
    console_secure_cookies: bool | None = Field(
        default=None,
        description="Mark console cookies Secure; default: when the request or the public "
        "URL is https.",
    )
    resident_link_hours: int = Field(
        default=72,
        ge=1,
        le=720,
        description="Hours a resident's one-time link stays valid when the issuer does not say.",
    )
    resident_session_minutes: int = Field(
        default=15,
        ge=1,
        le=120,
        description="Minutes a resident may read their history after opening their link.",
    )

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'gateway.db').resolve()}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"http://{host}:{self.port}"


def _read_config_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if key.startswith("CDG_"):
            values[key[4:].lower()] = value.strip()
    return values


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment, then CDG_HOME/config, then defaults."""
    env = os.environ if environ is None else environ
    home = Path(str(overrides.get("home") or env.get("CDG_HOME") or ".cdg"))
    from_file = _read_config_file(home / "config")
    from_env = {
        name: env[f"CDG_{name.upper()}"]
        for name in Settings.model_fields
        if f"CDG_{name.upper()}" in env
    }
    merged: dict[str, object] = {**from_file, **from_env, "home": home, **overrides}
    # Passing values explicitly keeps pydantic-settings from reading os.environ a second time.
    return Settings.model_validate(merged)
