"""Structured logs: `SEVBOT_LOG_FORMAT=json` gives one JSON object per line with the request's context; `text` stays
the classic line; no secret reaches either."""
from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot import logs
from bot.edge import request_identity
from bot.settings import SettingsError, load_settings
from tests.alerts_harness import TOKEN as ALERT_TOKEN
from tests.alerts_harness import alerts_config, post_alert
from tests.harness import BOT_TOKEN, SIGNING_SECRET, running_bot, wait_for

REQUIRED = {"time", "level", "logger", "message"}
# Every kind of secret sevbot knows, plus one JSON would escape (a quote, a backslash, non-ASCII) if it were scrubbed
# after encoding instead of before.
ODD_SECRET = 'odd"sec\\ret-é-0123'
SECRETS = [BOT_TOKEN, SIGNING_SECRET, ALERT_TOKEN, ODD_SECRET]


class Capture(logging.Handler):
    """A handler as `logs.configure` builds it (same filters, the chosen formatter), keeping the lines."""

    def __init__(self, log_format: str, secrets: list[str] = SECRETS) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logs.formatter(log_format, secrets))
        self.addFilter(logs.RedactSecrets(secrets))
        self.addFilter(logs.StampContext())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def capture_json() -> Iterator[Capture]:
    handler = Capture("json")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _log(handler: Capture, message: str, *args: object, exc: BaseException | None = None, logger: str = "sevbot.test") -> str:
    log = logging.getLogger(logger)
    log.addHandler(handler)
    log.propagate = False
    try:
        if exc is None:
            log.warning(message, *args)
        else:
            try:
                raise exc
            except BaseException:
                log.exception(message, *args)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    return handler.lines[-1]


# -- the JSON format ------------------------------------------------------------------------------------------

def test_a_json_line_is_one_object_with_the_required_keys() -> None:
    line = _log(Capture("json"), "hello %s", "world")
    assert "\n" not in line
    record = json.loads(line)
    assert REQUIRED <= set(record)
    assert record["level"] == "WARNING" and record["logger"] == "sevbot.test" and record["message"] == "hello world"
    assert record["time"].endswith("Z")
    assert abs((datetime.fromisoformat(record["time"].replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds()) < 60
    assert not {"incident", "request_kind", "request_id", "slack_id", "exception"} & set(record)  # only where known


def test_a_json_line_carries_the_context_it_was_logged_in() -> None:
    handler = Capture("json")
    with logs.context(request_kind="block_actions", request_id="0123456789ab", slack_id="1234.5678"):
        logs.bind(incident=42)
        inside = json.loads(_log(handler, "clicked"))
    after = json.loads(_log(handler, "later"))
    assert inside["incident"] == "INC-42"
    assert (inside["request_kind"], inside["request_id"], inside["slack_id"]) == ("block_actions", "0123456789ab", "1234.5678")
    assert "incident" not in after and "request_id" not in after  # the context ends with its block


def test_an_exception_is_its_own_field() -> None:
    record = json.loads(_log(Capture("json"), "it broke", exc=ValueError("bad value")))
    assert record["message"] == "it broke"
    assert "Traceback" in record["exception"] and "ValueError: bad value" in record["exception"]


def test_a_declare_over_http_logs_its_incident_request_kind_and_ids(capture_json: Capture, tmp_path: Path) -> None:
    """A real declare whose topic step fails: the warning, logged by background provisioning, names the incident
    and the slash command that started it."""
    with running_bot(f"sqlite:///{tmp_path / 'logs.db'}") as bot:
        bot.sim.inject("conversations.setTopic", error="fatal_error")
        answer = bot.slack.slash_command("U0L1", "declare sev2 Checkout is slow")
        assert answer.status == 200
        assert answer.payload is not None
        line = wait_for(lambda: next((r for r in capture_json.parsed() if "provisioning step topic failed" in str(r["message"])), None),
                        what="the provisioning warning")
    assert line["incident"] == "INC-1"
    assert line["request_kind"] == "slash_command"
    assert line["slack_id"] == answer.payload["trigger_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", str(line["request_id"]))
    assert line["level"] == "WARNING"


def test_an_alert_request_is_logged_as_alerts(capture_json: Capture, tmp_path: Path) -> None:
    with running_bot(f"sqlite:///{tmp_path / 'alerts.db'}", alerts_config()) as bot:
        reply = post_alert(bot.runtime.url, "am", {"not": "alertmanager"})
    assert reply.status == 400
    line = next(r for r in capture_json.parsed() if "refused a payload" in str(r["message"]))
    assert line["request_kind"] == "alerts" and re.fullmatch(r"[0-9a-f]{12}", str(line["request_id"]))


@pytest.mark.parametrize(("body", "expected"), [
    ({"command": "/incident", "text": "declare", "trigger_id": "111.222.abc"}, {"request_kind": "slash_command", "slack_id": "111.222.abc"}),
    ({"type": "event_callback", "event_id": "Ev0123", "event": {"type": "reaction_added"}}, {"request_kind": "event", "slack_id": "Ev0123"}),
    ({"payload": "{}", "type": "block_actions", "trigger_id": "t.1", "actions": [{"action_ts": "1.2"}]},
     {"request_kind": "block_actions", "slack_id": "t.1"}),
    ({"type": "block_actions", "actions": [{"action_ts": "1700000000.123"}]}, {"request_kind": "block_actions", "slack_id": "1700000000.123"}),
    ({"type": "view_submission", "trigger_id": "t.2", "view": {}}, {"request_kind": "view_submission", "slack_id": "t.2"}),
    ({"type": "view_closed", "view": {}}, {"request_kind": "view_closed", "slack_id": None}),
    ({"type": ["not", "text"]}, {"request_kind": None, "slack_id": None}),
])
def test_what_a_slack_request_is_called(body: dict[str, object], expected: dict[str, object]) -> None:
    assert request_identity(body) == expected


# -- secrets, in every format ---------------------------------------------------------------------------------

@pytest.mark.parametrize("log_format", logs.FORMATS)
def test_no_secret_reaches_the_log_in_any_format(log_format: str) -> None:
    handler = Capture(log_format)
    lines = [
        _log(handler, "token %s secret %s alert %s odd %s", *SECRETS),
        _log(handler, f"inline {' '.join(SECRETS)}"),
        _log(handler, "a call failed", exc=RuntimeError(f"auth failed for {' / '.join(SECRETS)}")),
        _log(handler, "another token xoxp-1234-5678-abcdef shape"),
    ]
    with logs.context(request_kind=f"kind {SIGNING_SECRET}", slack_id=BOT_TOKEN):
        lines.append(_log(handler, "context"))
    text = "\n".join(lines)
    decoded = text if log_format == "text" else "\n".join(json.dumps(json.loads(line), ensure_ascii=False) for line in lines)
    for secret in [*SECRETS, "xoxp-1234-5678-abcdef", json.dumps(ODD_SECRET)[1:-1]]:
        assert secret not in text and secret not in decoded, (log_format, secret)
    assert text.count("[redacted]") >= 13
    if log_format == "json":
        assert "auth failed for [redacted]" in json.loads(lines[2])["exception"]


@pytest.mark.parametrize("log_format", logs.FORMATS)
def test_configure_wires_the_format_and_the_redaction(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("INFO", [BOT_TOKEN], log_format)
        logging.getLogger("sevbot").info("using %s", BOT_TOKEN)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert BOT_TOKEN not in err
    if log_format == "json":
        assert json.loads(err)["message"] == "using [redacted]"
    else:
        assert err.endswith(" INFO sevbot: using [redacted]")


# -- the text format is unchanged -----------------------------------------------------------------------------

def test_the_text_format_is_the_classic_line() -> None:
    handler = Capture("text")
    with logs.context(incident=7, request_kind="event", request_id="abcdefabcdef"):
        line = _log(handler, "hello %s", "world")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING sevbot\.test: hello world", line), line
    assert logs.TEXT_FORMAT == "%(asctime)s %(levelname)s %(name)s: %(message)s"


# -- the setting ----------------------------------------------------------------------------------------------

def test_the_setting_is_text_or_json() -> None:
    assert load_settings().sevbot_log_format == "text"
    assert load_settings(sevbot_log_format=" JSON ").sevbot_log_format == "json"
    with pytest.raises(SettingsError, match=r"^SEVBOT_LOG_FORMAT: 'yaml' is not a log format: use text or json$"):
        load_settings(sevbot_log_format="yaml")


def test_serve_with_a_bad_log_format_is_one_line(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEVBOT_", "DATABASE_URL"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SEVBOT_LOG_FORMAT="xml")
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "sevbot: SEVBOT_LOG_FORMAT: 'xml' is not a log format: use text or json\n"


def test_a_declare_over_socket_mode_logs_the_same_request_fields_and_its_envelope(tmp_path: Path) -> None:
    """`sevbot serve` with SLACK_APP_TOKEN and SEVBOT_LOG_FORMAT=json: a declare pushed over the socket, whose topic
    step fails, logs that warning (from background provisioning) with the fields an HTTP request's lines carry, plus
    the envelope's id."""
    from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
    from tests.test_cli import SEVBOT, _env, _free_port, _healthy, _run

    with SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN) as sim:
        assert _run(tmp_path, "migrate").returncode == 0
        sim.inject("conversations.setTopic", error="fatal_error")
        port = _free_port()
        env = _env(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=sim.api_url,
                   SLACK_APP_TOKEN=sim.app_token, SEVBOT_PORT=str(port), SEVBOT_LOG_FORMAT="json")
        log_path = tmp_path / "serve.log"
        with log_path.open("w") as log:
            process = subprocess.Popen([*SEVBOT, "serve"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: _healthy(port), timeout=20, what="sevbot serve healthy")
            driver = SlackDriver(sim, f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
            session = sim.wait_for_socket(10)
            assert session is not None, "no Socket Mode connection"
            fields = driver._slash_fields("U0L1", "declare sev2 Checkout is slow", "C0GENERAL", "/incident")
            ack = session.send_envelope("slash_commands", fields, 10)
            assert ack is not None and "Declaring INC-1" in ack["payload"]["text"], ack

            def parsed() -> list[dict[str, object]]:
                return [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            line = wait_for(lambda: next((r for r in parsed() if "provisioning step topic failed" in str(r["message"])), None),
                            what="the provisioning warning")
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0, log_path.read_text()[-2000:]
    assert line["incident"] == "INC-1"
    assert line["request_kind"] == "slash_command"
    assert line["slack_id"] == fields["trigger_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", str(line["request_id"]))
    assert line["envelope_id"] == ack["envelope_id"]
    # Lines logged outside any request (start-up, "Socket Mode connected", the stop) carry no request fields.
    outside = [r for r in parsed() if r.get("request_id") is None]
    assert outside and not any({"request_kind", "slack_id", "envelope_id"} & set(r) for r in outside)
