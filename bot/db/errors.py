"""One line, without secrets, for a database sevbot cannot use: what `sevbot serve` refuses to start with and what
every other command prints instead of a traceback."""
from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError


def safe_url(url: str) -> str:
    """The database URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # unparsable: show no part of it that could hold a password
        return url.split("://", 1)[0] + "://…"


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def database_problem(exc: BaseException, url: str | None) -> str:
    """`cannot use <url, password hidden>: <the driver's reason>`, e.g. `... port 1 failed: Connection refused`.

    The driver's own words name the cause best (refused, unknown host, no such database, bad password), but they
    come as several lines with SQLAlchemy's wrapping; keep the first line of the driver's message only."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    reason = lines[0] if lines else type(cause).__name__
    # psycopg's "connection failed: connection to server at …" repeats itself; the part after the last "failed:" is the cause.
    if reason.startswith("connection failed: ") and "failed: " in reason[len("connection failed: "):]:
        reason = reason.rsplit("failed: ", 1)[1].strip() or reason
    reason = " ".join(reason.split())
    password = _password(url) if url else None
    if password:
        reason = reason.replace(password, "***")
    return f"cannot use {safe_url(url) if url else 'the database'}: {reason}"
