"""What the command-line entry points (`bot/cli.py`, `bot/sandbox.py`) share: loading settings, one-line errors."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import ConfigError, IncidentConfig, load_config
from bot.settings import Settings, SettingsError, load_settings


class CliError(Exception):
    """Printed as `sevbot: <message>` with exit status 2."""


def load_settings_and_config() -> tuple[Settings, IncidentConfig]:
    try:
        settings = load_settings()
        return settings, load_config(settings.sevbot_config)
    except (SettingsError, ConfigError) as exc:
        raise CliError(str(exc)) from None


def prepare_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its folder: make the folder, so a fresh checkout's default path works."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def safe_url(url: str) -> str:
    """The database URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)
