"""Every setting of the platform, read from the environment with the ``KRSN_`` prefix."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of one KRSN-RT2I process; each field is the variable ``KRSN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="KRSN_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/krsn.db",
        description="SQLAlchemy URL of the database: SQLite by default, "
        "postgresql+psycopg://… for PostgreSQL.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL for sessions and rate limits; unset keeps them in the "
        "database and in-process.",
    )
    data_dir: Path = Field(Path("./var"), description="Folder for the secret key and files.")
    secret_key: str | None = Field(
        None,
        description="Key that encrypts secrets at rest (MFA seeds, credentials). Unset: "
        "generated once into <data_dir>/secret.key.",
    )
    ui_dir: Path | None = Field(
        None,
        description="Folder of the built web UI (its index.html and assets/), served at /. "
        "Unset: web/dist of the repository the package runs from (built by `make ui`).",
    )
    host: str = Field("127.0.0.1", description="Address `krsn serve` binds to.")
    port: int = Field(8000, description="Port `krsn serve` listens on.")
    session_ttl_seconds: int = Field(86400, description="Lifetime of a browser session.")
    cookie_secure: bool = Field(
        False, description="Send cookies only over HTTPS; set true behind TLS."
    )
    login_max_failures: int = Field(5, description="Failed logins in a row that lock an account.")
    lockout_minutes: int = Field(15, description="How long a locked account stays locked.")
    user_rate_limit_per_minute: int = Field(
        600, description="Requests per minute and endpoint for a browser session."
    )
    max_body_bytes: int = Field(
        1_048_576, description="Largest request body the API accepts, in bytes."
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, description="How long SQLite waits for a lock before failing."
    )
    sqlite_cache_mb: int = Field(
        256,
        ge=2,
        description="Page cache of each SQLite connection, in MiB; taken only as the "
        "database grows. Ingestion into a large store needs its indexes in memory.",
    )
    ingest_batch_rows: int = Field(
        20_000,
        ge=100,
        description="Feed rows stored per transaction; each batch commits on its own, so "
        "a run stopped halfway keeps every batch before the one it was in.",
    )
    log_level: str = Field("INFO", description="Logging level.")
    egress_allow_private: bool = Field(
        False,
        description="Let outbound fetches (feeds, webhooks, collectors) reach private, "
        "loopback and link-local addresses.",
    )
    egress_allowed_hosts: str = Field(
        "",
        description="Comma-separated host names or CIDR ranges that outbound fetches may "
        "reach despite the private-address rule.",
    )
    feed_fetch_timeout_seconds: float = Field(
        30.0, description="Longest wait for a connection or a read during a feed download."
    )
    feed_fetch_max_bytes: int = Field(
        536_870_912, description="Largest feed payload, received or unpacked, in bytes."
    )
    feed_fetch_retries: int = Field(
        3, description="Retries after the first try on connection errors, 429 and 5xx."
    )
    scheduler_enabled: bool = Field(
        True,
        description="Run due feeds in the background of `krsn serve`; turn off where another "
        "process schedules them.",
    )
    scheduler_interval_seconds: float = Field(
        60.0, gt=0, description="How often the scheduler looks for due feeds, in seconds."
    )
    collection_workers: int = Field(
        2,
        ge=1,
        le=32,
        description="Collections one server runs at once (API runs and scheduled ones).",
    )
    collection_batch_items: int = Field(
        200,
        ge=1,
        le=10_000,
        description="Collected records stored per transaction during a collection run.",
    )
    collection_stale_seconds: float = Field(
        90.0,
        gt=30,
        description="A running collection whose heartbeat is older than this was left by a "
        "process that stopped, and is marked failed.",
    )
    osint_import_dir: Path | None = Field(
        None,
        description="The server folder public_db collections may read lists from by path "
        "(config.path). Unset: they read from URLs only.",
    )
    ner_model: str | None = Field(
        None,
        description="The spaCy pipeline that finds persons, organisations and places "
        "(e.g. en_core_web_sm, installed by the user); krsn-gazetteer forces the built-in "
        "recogniser. Unset: en_core_web_sm when installed, else the built-in one.",
    )
    tor_proxy: str | None = Field(
        None,
        description="SOCKS proxy for dark_web collections, e.g. socks5h://127.0.0.1:9050 "
        "(a local Tor). Unset: dark_web collections refuse to run.",
    )
    notify_poll_seconds: float = Field(
        15.0,
        gt=0,
        description="How often the notification dispatcher looks for due notifications, "
        "in seconds (a new alert wakes it at once).",
    )
    notify_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait for a connection or a reply in one delivery attempt "
        "(SMTP, webhook, Slack, SMS).",
    )
    notify_workers: int = Field(
        4, ge=1, le=64, description="Notifications sent at the same time by one dispatcher."
    )
    notify_retry_base_seconds: float = Field(
        30.0,
        gt=0,
        description="Back-off after a failed attempt that may succeed later: base × 2^retries.",
    )
    notify_retry_max_seconds: float = Field(
        3600.0, gt=0, description="Longest back-off between two attempts, in seconds."
    )
    notify_max_attempts: int = Field(
        6, ge=1, description="Attempts before a notification is marked failed."
    )
    notify_base_url: str = Field(
        "",
        description="Public address of the UI (https://krsn.example.org) that alert links in "
        "notifications start with; empty: links are paths.",
    )
    notify_smtp_host: str = Field("localhost", description="SMTP server for e-mail notifications.")
    notify_smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP server.")
    notify_smtp_tls: str = Field(
        "none",
        pattern="^(none|starttls|ssl)$",
        description="How the SMTP connection is protected: none (a local relay), starttls "
        "(usually port 587) or ssl (implicit TLS, usually port 465).",
    )
    notify_smtp_username: str | None = Field(
        None, description="SMTP user name; unset sends without signing in."
    )
    notify_smtp_password: str | None = Field(None, description="SMTP password.")
    notify_smtp_from: str = Field(
        "krsn@localhost", description="Sender address of e-mail notifications."
    )
    notify_sms_url: str | None = Field(
        None,
        description="HTTP endpoint of the SMS provider, posted one JSON body per message; "
        "unset: SMS channels cannot be created.",
    )
    notify_sms_token: str | None = Field(
        None, description="Token sent to the SMS provider in an Authorization: Bearer header."
    )
    notify_sms_body: str = Field(
        '{"to": "{to}", "message": "{message}"}',
        description="JSON body posted to the SMS provider; {to} (E.164 number) and {message} "
        "are replaced by JSON-escaped text.",
    )

    def resolved_ui_dir(self) -> Path:
        """The configured UI folder, or web/dist beside the source tree of this package."""
        if self.ui_dir is not None:
            return self.ui_dir
        return Path(__file__).resolve().parents[2] / "web" / "dist"

    def resolved_secret_key(self) -> str:
        """The configured key, or the one kept in ``<data_dir>/secret.key`` (made on first use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def settings_table() -> str:
    """The Markdown table of every setting, as the README shows it."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "unset" if default is None else f"`{default}`"
        rows.append(f"| `KRSN_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


README_START = "<!-- settings-table:start -->"
README_END = "<!-- settings-table:end -->"


def render_readme(readme: str) -> str:
    """The README with its settings table replaced by the current one."""
    head, _, rest = readme.partition(README_START)
    _, _, tail = rest.partition(README_END)
    return f"{head}{README_START}\n{settings_table()}\n{README_END}{tail}"


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    target.write_text(render_readme(target.read_text()))
