"""Typed settings, read once from the environment (Probot's variable names where Probot has one).

Variables: APP_ID, PRIVATE_KEY (PEM text; literal "\\n" sequences are turned into newlines) or
PRIVATE_KEY_PATH, WEBHOOK_SECRET, GITHUB_API_URL (or Probot's GHE_HOST / GHE_PROTOCOL), HOST, PORT,
LOG_LEVEL, LOG_FORMAT (json | pretty), STATE_URL (sqlite:///./relative.db, sqlite:////absolute.db or
redis://host:port/db; REDIS_URL when STATE_URL is unset), REDIS_SSL_CERT_REQS (required | optional |
none, for rediss://), WORKER_CONCURRENCY, MAX_ATTEMPTS, JOB_LEASE_SECONDS, RETRY_BASE_SECONDS, RETRY_CAP_SECONDS, FINISHED_RETENTION_SECONDS, WRITES_PER_MINUTE, WRITES_PER_HOUR,
REDELIVERY_INTERVAL_SECONDS, SWEEP_INTERVAL_SECONDS, SWEEP_LOOKBACK_HOURS, MEMBERSHIP_TTL_SECONDS,
CONFIG_TTL_SECONDS, BODY_TIMEOUT_SECONDS, MAX_BUFFERED_BYTES, METRICS_TOKEN.

`release-train serve` reads them from the environment over a `.env` file in the working directory,
when there is one (as `release-train setup` writes it): a variable set in the environment wins.

WEBHOOK_SECRET may hold several secrets separated by commas, during a rotation: "new,old". A
delivery signed with any of them is accepted. Secrets therefore cannot contain a comma; spaces
around each secret are ignored. Remove the old one once GitHub signs with the new one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dotenv import dotenv_values

T = TypeVar("T")

# The queue's SQLite file under the directory `serve` runs in: ./var/release-train.db (a relative path;
# sqlite:////data/x.db, with four slashes, is the absolute /data/x.db).
DEFAULT_STATE_URL = "sqlite:///./var/release-train.db"


class SettingsError(Exception):
    """Required settings are missing or malformed; the message names every such variable."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def environment(env_file: Path = Path(".env"), env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment over the variables of `env_file` when it exists; a variable set in the environment wins."""
    from_file = dotenv_values(env_file, interpolate=False) if env_file.is_file() else {}
    return {**{k: v for k, v in from_file.items() if v is not None}, **(os.environ if env is None else env)}


def api_url_from_env(env: Mapping[str, str]) -> str:
    url = env.get("GITHUB_API_URL", "")
    if not url and env.get("GHE_HOST"):
        # Probot's name: GitHub Enterprise Server serves its REST API under /api/v3.
        protocol = env.get("GHE_PROTOCOL", "https")
        url = f"{protocol}://{env['GHE_HOST']}/api/v3"
    return (url or "https://api.github.com").rstrip("/")


@dataclass(frozen=True)
class Settings:
    app_id: int
    private_key: str = field(repr=False)
    # The first secret signs nothing (GitHub signs); during a rotation any of them verifies.
    webhook_secrets: tuple[str, ...] = field(repr=False, default=())
    github_api_url: str = "https://api.github.com"
    host: str = "0.0.0.0"
    port: int = 3000
    log_level: str = "INFO"
    log_format: str = "pretty"
    state_url: str = DEFAULT_STATE_URL
    redis_ssl_cert_reqs: str = "required"  # for rediss://: Heroku's Redis presents a self-signed certificate
    # Work queue
    concurrency: int = 8  # repositories processed in parallel
    max_attempts: int = 6  # before a job is dead-lettered
    job_lease_seconds: float = 120.0
    retry_base_seconds: float = 2.0  # job-level backoff: base * 2^(attempt-1), with jitter
    retry_cap_seconds: float = 300.0
    finished_retention_seconds: float = 24 * 3600.0
    # Write pacing per installation (GitHub: about 80 a minute and 500 an hour)
    writes_per_minute: int = 80
    writes_per_hour: int = 500
    # Catch-up
    redelivery_interval_seconds: float = 300.0
    sweep_interval_seconds: float = 900.0
    sweep_lookback_hours: float = 72.0
    # Caches
    membership_ttl_seconds: float = 300.0
    config_ttl_seconds: float = 60.0  # a repository's config is re-read (conditionally) after this
    max_body_bytes: int = 25 * 1024 * 1024
    # The door under abuse
    body_timeout_seconds: float = 10.0  # a body must arrive whole within this (GitHub waits 10 s for the answer)
    max_buffered_bytes: int = 64 * 1024 * 1024  # request bodies held at once, over all requests, before 503
    metrics_token: str = field(repr=False, default="")  # when set, /metrics needs Authorization: Bearer <token>

    @property
    def webhook_secret(self) -> str:
        return self.webhook_secrets[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings, or one SettingsError naming every variable that is missing or malformed."""
        env = os.environ if env is None else env
        problems: list[str] = []

        def read(parse: Callable[..., T], *args: Any) -> T:
            try:
                return parse(env, *args)
            except SettingsError as exc:
                problems.append(str(exc))
                return args[-1]  # the default, so the rest can still be read and checked

        secret_raw = env.get("WEBHOOK_SECRET", "")
        if not secret_raw:
            problems.append("WEBHOOK_SECRET is not set: the server cannot verify webhook signatures")
        # Rotation: "new,old" (comma separated) accepts deliveries signed with either.
        secrets = tuple(s for s in (part.strip() for part in secret_raw.split(",")) if s)
        private_key = env.get("PRIVATE_KEY", "")
        key_path = env.get("PRIVATE_KEY_PATH", "")
        if not private_key and not key_path:
            problems.append("PRIVATE_KEY is not set (nor PRIVATE_KEY_PATH): the app cannot authenticate")
        elif not private_key:
            try:
                private_key = Path(key_path).read_text()
            except OSError as exc:
                problems.append(f"PRIVATE_KEY_PATH {key_path!r} cannot be read: {exc.strerror}")
        private_key = private_key.replace("\\n", "\n")
        if private_key and "PRIVATE KEY" not in private_key:
            problems.append("PRIVATE_KEY does not look like a PEM private key")
        if not env.get("APP_ID", ""):
            problems.append("APP_ID is not set: the app cannot authenticate")
        app_id = read(_int, "APP_ID", 0)
        log_format = env.get("LOG_FORMAT", "pretty").lower()
        if log_format not in ("json", "pretty"):
            problems.append(f"LOG_FORMAT must be 'json' or 'pretty', got {log_format!r}")
        settings = cls(
            app_id=app_id,
            private_key=private_key,
            webhook_secrets=secrets,
            github_api_url=api_url_from_env(env),
            host=env.get("HOST", "0.0.0.0"),
            port=read(_int, "PORT", 3000),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            log_format=log_format,
            # Heroku's Redis add-on sets (and rotates) REDIS_URL; STATE_URL, when set, wins.
            state_url=env.get("STATE_URL") or env.get("REDIS_URL") or DEFAULT_STATE_URL,
            redis_ssl_cert_reqs=read(_choice, "REDIS_SSL_CERT_REQS", ("required", "optional", "none"), "required"),
            concurrency=read(_int, "WORKER_CONCURRENCY", 8),
            max_attempts=read(_int, "MAX_ATTEMPTS", 6),
            job_lease_seconds=read(_float, "JOB_LEASE_SECONDS", 120.0),
            retry_base_seconds=read(_float, "RETRY_BASE_SECONDS", 2.0),
            retry_cap_seconds=read(_float, "RETRY_CAP_SECONDS", 300.0),
            finished_retention_seconds=read(_float, "FINISHED_RETENTION_SECONDS", 24 * 3600.0),
            writes_per_minute=read(_int, "WRITES_PER_MINUTE", 80),
            writes_per_hour=read(_int, "WRITES_PER_HOUR", 500),
            redelivery_interval_seconds=read(_float, "REDELIVERY_INTERVAL_SECONDS", 300.0),
            sweep_interval_seconds=read(_float, "SWEEP_INTERVAL_SECONDS", 900.0),
            sweep_lookback_hours=read(_float, "SWEEP_LOOKBACK_HOURS", 72.0),
            membership_ttl_seconds=read(_float, "MEMBERSHIP_TTL_SECONDS", 300.0),
            config_ttl_seconds=read(_float, "CONFIG_TTL_SECONDS", 60.0),
            body_timeout_seconds=read(_float, "BODY_TIMEOUT_SECONDS", 10.0),
            max_buffered_bytes=read(_int, "MAX_BUFFERED_BYTES", 64 * 1024 * 1024),
            metrics_token=env.get("METRICS_TOKEN", ""),
        )
        if problems:
            raise SettingsError("; ".join(problems))
        return settings
