"""Only correctly signed, fresh Slack requests act. Anything else: 401, no row, no Web API call."""
from __future__ import annotations

import time
import urllib.request
from urllib.parse import urlencode

import pytest

from tests.harness import Bot

COMMAND = urlencode({"command": "/incident", "text": "declare sev1 Forged", "user_id": "U0L1", "channel_id": "C0GENERAL",
                     "team_id": "T0SEVBOT", "trigger_id": "x", "response_url": "http://127.0.0.1:1/none"}).encode()


def _send(bot: Bot, headers: dict[str, str]) -> int:
    return bot.slack.send_raw(COMMAND, {"Content-Type": "application/x-www-form-urlencoded", **headers}).status


@pytest.mark.parametrize(
    "headers_for",
    [
        lambda bot: {**bot.slack.sign(COMMAND), "X-Slack-Signature": "v0=" + "0" * 64},
        lambda bot: bot.slack.sign(COMMAND, timestamp=int(time.time()) - 6 * 60),
        lambda bot: {},
        lambda bot: {"X-Slack-Request-Timestamp": str(int(time.time()))},
        lambda bot: {k: v for k, v in bot.slack.sign(COMMAND).items() if k != "X-Slack-Request-Timestamp"},
        lambda bot: bot.slack.sign(COMMAND + b"&extra=1"),
    ],
    ids=["forged-signature", "stale-timestamp", "no-headers", "no-signature", "no-timestamp", "body-tampered"],
)
def test_unsigned_or_stale_requests_are_refused(bot: Bot, headers_for) -> None:  # type: ignore[no-untyped-def]
    bot.sim.reset_calls()
    assert _send(bot, headers_for(bot)) == 401
    time.sleep(0.2)
    assert bot.incidents() == []
    assert bot.sim.calls == []


def test_a_correctly_signed_request_acts(sqlite_bot: Bot) -> None:
    assert _send(sqlite_bot, sqlite_bot.slack.sign(COMMAND)) == 200
    assert len(sqlite_bot.incidents()) == 1


def test_healthz_reports_database_and_migrations(sqlite_bot: Bot) -> None:
    with urllib.request.urlopen(sqlite_bot.runtime.url + "/healthz", timeout=5) as response:
        assert response.status == 200
    from bot.db.migrate import downgrade

    downgrade(sqlite_bot.runtime.settings.database_url, "base")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(sqlite_bot.runtime.url + "/healthz", timeout=5)
    assert caught.value.code == 503 and b"not migrated" in caught.value.read()


def test_unknown_paths_are_404(sqlite_bot: Bot) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(sqlite_bot.runtime.url + "/admin", timeout=5)
    assert caught.value.code == 404
