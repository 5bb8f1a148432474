"""What the command-line entry points (`bot/cli.py`, `bot/sandbox.py`) share: loading settings, one-line errors.

Bad input always gets one line on stderr and exit status 2, never a traceback. Failures a command expects say so
themselves (`CliError`); failures the user can fix wherever they happen (a database that does not answer, a file
that cannot be written) are turned into that line in one place, `explain`, which `bot/cli.py`'s `main` calls.
Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import DBAPIError

from bot.config import ConfigError, IncidentConfig, load_config
from bot.db.engine import Database
from bot.db.errors import database_problem, safe_url
from bot.settings import Settings, SettingsError, load_settings

__all__ = ["CliError", "explain", "load_settings_and_config", "open_database", "prepare_sqlite_dir", "safe_url",
           "write_output"]


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
        folder = Path(url.removeprefix("sqlite:///")).expanduser().resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"DATABASE_URL: cannot make the folder {folder} for the SQLite file: {exc.strerror or exc}") from None


def open_database(settings: Settings) -> Database:
    """The database, checked to be at this release's schema (or a newer one's) before a command reads it."""
    from bot.db.migrate import schema_state

    db = Database(settings.database_url)
    try:
        problem = schema_state(db.engine).problem()
    except BaseException:
        db.dispose()
        raise  # unreachable: `explain` says so in one line
    if problem:
        db.dispose()
        raise CliError(f"DATABASE_URL: {problem}")
    return db


def write_output(path: str, data: str | bytes, option: str) -> None:
    """Write a command's output file; one that cannot be written is the user's to fix (`-o: cannot write …`)."""
    try:
        if isinstance(data, bytes):
            Path(path).write_bytes(data)
        else:
            Path(path).write_text(data, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None


def explain(exc: BaseException) -> str | None:
    """The one line for a failure the user can fix, wherever in a command it happened; None for anything else."""
    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, DBAPIError):  # the server is down or unknown, the database or file missing, a bad password
        return f"DATABASE_URL: {database_problem(exc, _database_url())}"
    if isinstance(exc, OSError) and exc.filename is not None:  # a file or folder the command was given
        return f"{exc.filename}: {exc.strerror or exc}"
    return None


def _database_url() -> str | None:
    """The URL the failed command used: the same settings, read again (they loaded a moment ago)."""
    try:
        return load_settings().database_url
    except SettingsError:
        return None
