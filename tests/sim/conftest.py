from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack_sim import SlackSimulator

TOKEN = "xoxb-sim-token"


@pytest.fixture
def sim() -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=TOKEN) as s:
        yield s


@pytest.fixture
def client(sim: SlackSimulator) -> WebClient:
    # A real slack_sdk client, so the simulator is proven against what the bot will use.
    return WebClient(token=TOKEN, base_url=sim.api_url, timeout=5)
