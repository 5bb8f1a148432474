"""Shared fixtures: databases on both backends, the Slack simulator, and the real bot serving HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from pathlib import Path

import pytest

from tests.dbs import postgres_unavailable, postgres_url, sqlite_url

if TYPE_CHECKING:
    from bot.sandbox import Sandbox
    from tests.harness import Bot, FakeClock


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


@pytest.fixture
def bot(database_url: str) -> Iterator["Bot"]:
    """The real bot over HTTP against the simulator, on SQLite and (when reachable) PostgreSQL."""
    from tests.harness import Bot, running_bot  # noqa: F401

    with running_bot(database_url) as running:
        yield running


@pytest.fixture
def sqlite_bot(tmp_path: Path) -> Iterator["Bot"]:
    """Same bot on SQLite only, for flows whose database behaviour another test already covers on both."""
    from tests.harness import running_bot

    with running_bot(f"sqlite:///{tmp_path / 'sevbot.db'}") as running:
        yield running


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator["Sandbox"]:
    """`sevbot sandbox` in-process: the production Runtime, the simulator and the web page, on free ports."""
    from bot.db.migrate import upgrade
    from bot.sandbox import Sandbox, sandbox_config
    from bot.settings import load_settings

    settings = load_settings(slack_bot_token=None, slack_signing_secret=None, slack_app_token=None,
                             database_url=f"sqlite:///{tmp_path / 'sandbox.db'}", sevbot_host="127.0.0.1",
                             sevbot_port=0, sevbot_config=None)
    upgrade(settings.database_url)
    running = Sandbox.start(settings, sandbox_config(), sim_port=0, web_port=0)
    try:
        yield running
    finally:
        running.stop()
    assert running.sim.violations == [], f"the bot broke Slack's rules: {running.sim.violations}"


@pytest.fixture
def clock() -> "FakeClock":
    """A clock the test moves (tests/harness.py)."""
    from tests.harness import FakeClock

    return FakeClock()


@pytest.fixture
def alert_bot(database_url: str, clock: "FakeClock") -> Iterator["Bot"]:
    """The bot with alert sources of each kind (tests/alerts_harness.py), on both backends, with a movable clock."""
    from tests.alerts_harness import alerts_config
    from tests.harness import running_bot

    with running_bot(database_url, alerts_config(), clock=clock) as running:
        yield running


@pytest.fixture
def paging_bot(database_url: str, clock: "FakeClock") -> Iterator["Bot"]:
    """The bot with the escalation ladder of tests/harness.py `paging_config`, on both backends, with a movable clock."""
    from tests.harness import paging_config, running_bot

    with running_bot(database_url, paging_config(), clock=clock) as running:
        yield running


@pytest.fixture
def paging_bot_oncall(database_url: str) -> Iterator["Bot"]:
    """The paging bot with the on-call schedules of tests/oncall_harness.py, its clock at Wednesday 14 January 2026
    noon UTC (movable), on both backends."""
    from tests.harness import FakeClock, running_bot
    from tests.oncall_harness import WEDNESDAY_NOON, oncall_config

    with running_bot(database_url, oncall_config(), clock=FakeClock(WEDNESDAY_NOON)) as running:
        yield running
