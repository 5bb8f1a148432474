"""Process settings from the environment and `.env` (pydantic-settings).

Each field is named after its environment variable so an error message can name the variable a user must fix.
"""
from __future__ import annotations

import socket

import re
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///sevbot.db"


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smh]?)\s*$")


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `1h` or plain seconds → seconds."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: use 90s, 15m, 1h or a number of seconds")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


class SettingsError(Exception):
    """A setting is wrong; the message is one line that names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    sevbot_host: str = "127.0.0.1"
    sevbot_port: int = Field(default=3000, ge=0, le=65535)
    sevbot_config: Path | None = None
    # Override every severity's stakeholder-update cadence and every tier's ack timeout: "90s", "15m", or seconds.
    sevbot_update_interval: float | None = None
    sevbot_ack_timeout: float | None = None
    # Directory of runbook YAML files; default: runbooks/ in the sevbot checkout.
    sevbot_runbooks: Path | None = None
    # This process's name on the work it leases (default host:port). A restart with the same name takes its own
    # unfinished work back at once; two replicas must have different names (different hosts or ports do).
    sevbot_replica_id: str | None = None
    # Seconds a Web API call may take before it counts as unanswered (a post is then looked for, not re-sent).
    # 3 s: Slack answers in well under a second, and an unanswered post is looked for before it is sent again, so
    # waiting longer only delays recovery (bench/chaos_bench.py: p99 16 s to recover at 10 s, 7-14 s at 5 s).
    slack_timeout: float = Field(default=3.0, gt=0, le=60)
    # `GET /metrics` for Prometheus (docs/monitoring.md): `on` or `off`. With SEVBOT_METRICS_PORT set, it is served
    # there (on SEVBOT_HOST) instead of beside the Slack endpoints, e.g. to keep it off the public ingress.
    sevbot_metrics: str = "on"
    sevbot_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # `text`: human-readable lines; `json`: one JSON object per line, for a log pipeline (bot/logs.py).
    sevbot_log_format: str = "text"

    @property
    def replica_id(self) -> str:
        return self.sevbot_replica_id or f"{socket.gethostname()}:{self.sevbot_port}"

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        # slack_sdk appends the method name directly, so the base needs its trailing slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url_is_supported(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if value.startswith("postgres:"):
            value = "postgresql:" + value[len("postgres:"):]
        if value.startswith("postgresql:"):
            # psycopg 3 is the driver we ship; SQLAlchemy's bare postgresql:// means psycopg2.
            value = "postgresql+psycopg:" + value[len("postgresql:"):]
        try:
            make_url(value)
        except (ArgumentError, ValueError):  # e.g. a port that is not a number; the URL may hold a password: not shown
            raise ValueError("is not a URL SQLAlchemy can read (user:password@host:port/database)") from None
        return value

    @field_validator("sevbot_config")
    @classmethod
    def _config_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("sevbot_update_interval", "sevbot_ack_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        if value is None or value == "":
            return None
        return parse_duration(str(value))

    @field_validator("sevbot_runbooks")
    @classmethod
    def _runbooks_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"no such directory: {value}")
        return value

    @field_validator("sevbot_log_format", mode="before")
    @classmethod
    def _log_format_is_known(cls, value: object) -> str:
        text = str(value).strip().lower()
        if text not in ("text", "json"):
            raise ValueError(f"{str(value)[:40]!r} is not a log format: use text or json")
        return text

    @field_validator("sevbot_metrics", mode="before")
    @classmethod
    def _metrics_is_on_or_off(cls, value: object) -> str:
        text = str(value).strip().lower()
        if text not in ("on", "off"):
            raise ValueError(f"{str(value)[:40]!r} is neither on nor off")
        return text

    @field_validator("sevbot_metrics_port", mode="before")
    @classmethod
    def _metrics_port(cls, value: object, info: ValidationInfo) -> object:
        if value is None or str(value).strip() == "":
            return None
        if str(value).strip() == str(info.data.get("sevbot_port")) and str(value).strip() != "0":
            raise ValueError("is SEVBOT_PORT: leave it unset to serve /metrics on the main port")
        return value

    @property
    def has_slack_credentials(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
