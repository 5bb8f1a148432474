"""Shared fixtures: databases on both backends, the Slack simulator, and the real bot serving HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbs import postgres_unavailable, postgres_url, sqlite_url


def pytest_report_header(config: pytest.Config) -> str:
    reason = postgres_unavailable()
    return "PostgreSQL: " + ("available, database tests run on SQLite AND PostgreSQL" if reason is None else f"!!! {reason} !!!")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend; PostgreSQL tests are skipped loudly when no server answers."""
    if request.param == "sqlite":
        with sqlite_url(tmp_path) as url:
            yield url
        return
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with postgres_url() as url:
        yield url
