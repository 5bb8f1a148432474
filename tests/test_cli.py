"""The `sevbot` command as a user runs it: one-line errors with exit 2, and a real `sevbot serve` process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
from tests.harness import BOT_TOKEN, SIGNING_SECRET, wait_for

SEVBOT = [sys.executable, "-m", "bot"]
ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEVBOT_", "DATABASE_URL"))}
    # This checkout's code, not whichever one the shared virtualenv installed (a git worktree's tests would run another).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **extra})
    return env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEVBOT, *args], cwd=tmp_path, env=_env(tmp_path, **env), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SEVBOT_PORT": "70000"}, "sevbot: SEVBOT_PORT: "),
        ({"SLACK_API_URL": "ftp://x"}, "sevbot: SLACK_API_URL: "),
        ({"SEVBOT_CONFIG": "/nonexistent.toml"}, "sevbot: SEVBOT_CONFIG: "),
        ({"DATABASE_URL": "mysql://x"}, "sevbot: DATABASE_URL: "),
    ],
)
def test_bad_settings_stop_startup_with_one_line(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    result = _run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, **env)
    assert result.returncode == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr


def test_bad_config_file_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "sevbot.toml"
    config.write_text('default_severity = "sev1"\n[severities.sev1]\nlabel = "SEV1"\n')
    result = _run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SEVBOT_CONFIG=str(config))
    assert result.returncode == 2
    assert result.stderr.strip() == f"sevbot: {config}: severities.sev1.description: Field required"


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL="http://127.0.0.1:9/api/")
    assert result.returncode == 2
    assert "not migrated: run `sevbot migrate`" in result.stderr and result.stderr.count("\n") == 1


def test_serve_without_credentials_says_what_to_do(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve")
    assert result.returncode == 2 and "SLACK_BOT_TOKEN" in result.stderr and "sandbox" in result.stderr


def test_alert_without_a_running_sandbox_is_one_line_naming_make_run(tmp_path: Path) -> None:
    """No sandbox (no state file), or one that is gone (its state file left behind by a kill -9): one line, exit 2."""
    port = _free_port()
    expected = f"sevbot: no sandbox on port {port}: start one with `make run` (no Slack credentials)\n"
    for command in (["fire"], ["resolve", "--name", "Other"]):
        result = _run(tmp_path, "alert", *command, "--sim-port", str(port), XDG_RUNTIME_DIR=str(tmp_path))
        assert (result.returncode, result.stdout, result.stderr) == (2, "", expected)
    stale = tmp_path / "sevbot" / f"sandbox-{port}.json"
    stale.parent.mkdir(mode=0o700)
    stale.write_text(json.dumps({"pid": 1, "bot_url": f"http://127.0.0.1:{_free_port()}", "alert_source": "sandbox",
                                 "alert_token": "a-token-of-a-sandbox-long-gone", "firing": {}}))
    result = _run(tmp_path, "alert", "fire", "--sim-port", str(port), XDG_RUNTIME_DIR=str(tmp_path))
    assert (result.returncode, result.stderr) == (2, expected)


@pytest.fixture
def simulator() -> Iterator[SlackSimulator]:
    with SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN) as sim:
        yield sim


def test_migrate_then_serve_handles_a_declare_and_keeps_secrets_out_of_logs(tmp_path: Path, simulator: SlackSimulator) -> None:
    migrated = _run(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=simulator.api_url,
        SEVBOT_PORT=str(port),
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([*SEVBOT, "serve", "--log-level", "DEBUG"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _healthy(port), timeout=20, what="sevbot serve healthy")
        driver = SlackDriver(simulator, f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
        answer = driver.slash_command("U0L1", "declare sev1 Checkout failing")
        assert answer.status == 200 and "INC-1" in answer.json()["text"]
        channel = wait_for(lambda: next((c for c in simulator.workspace.channels.values() if c.name.startswith("sev1-")), None), what="channel")
        wait_for(lambda: len(simulator.workspace.pins(channel.id)) == 1, what="card pinned")
    finally:
        process.terminate()
        process.wait(timeout=10)
    logged = log_path.read_text()
    assert "sevbot listening" in logged
    assert BOT_TOKEN not in logged and SIGNING_SECRET not in logged


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        time.sleep(0.1)
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_socket_mode_failure_is_one_line(tmp_path: Path, simulator: SlackSimulator) -> None:
    """With SLACK_APP_TOKEN set, serve opens Socket Mode; when Slack refuses, one line names the setting."""
    assert _run(tmp_path, "migrate").returncode == 0
    result = _run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=simulator.api_url,
                  SLACK_APP_TOKEN="xapp-1-not-a-real-token", SEVBOT_PORT=str(_free_port()))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("sevbot: SLACK_APP_TOKEN: Socket Mode could not connect"), result.stderr
    assert "xapp-1-not-a-real-token" not in result.stderr
    assert [c.method for c in simulator.calls if c.method == "apps.connections.open"], "it asked Slack for a socket URL"


def test_socket_mode_serves_a_declare_over_the_websocket(tmp_path: Path, simulator: SlackSimulator) -> None:
    """With SLACK_APP_TOKEN, Slack delivers the command over the socket and the ack goes back the same way."""
    assert _run(tmp_path, "migrate").returncode == 0
    port = _free_port()
    env = _env(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=simulator.api_url,
               SLACK_APP_TOKEN=simulator.app_token, SEVBOT_PORT=str(port))
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([*SEVBOT, "serve"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _healthy(port), timeout=20, what="sevbot serve healthy")
        driver = SlackDriver(simulator, f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
        ack = driver.socket_slash_command("U0L1", "declare sev1 Checkout failing over the socket", timeout=10)
        assert ack is not None and "Declaring INC-1" in ack["payload"]["text"], ack
        channel = wait_for(lambda: next((c for c in simulator.workspace.channels.values() if c.name.startswith("sev1-")), None), what="channel")
        wait_for(lambda: len(simulator.workspace.pins(channel.id)) == 1, what="card pinned")
        bad = driver.socket_slash_command("U0L1", "declare sev9 Nope", timeout=10)
        assert bad is not None and "not a severity" in bad["payload"]["text"]  # bad input answered, nothing declared
        assert len([c for c in simulator.workspace.channels.values() if c.name.startswith("sev")]) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0, log_path.read_text()[-2000:]
    assert simulator.app_token not in log_path.read_text()
    assert simulator.violations == []


# ---- failures the user can fix: one line on stderr, exit 2, no traceback, no secret ---------------------------------

PASSWORD = "hunter2-not-a-real-one"
ONCALL_POLICY = """\
default_severity = "sev2"
[schedules.primary]
time_zone = "UTC"
[[schedules.primary.layers]]
name = "everyone"
users = ["U0LEE"]
rotation = "daily"
handoff = "00:00"
start = 2026-01-01
"""


def _one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 2, exactly one line on stderr that names the problem, no traceback and no password anywhere."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sevbot: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr + result.stdout
    for words in expected:
        assert words in result.stderr, result.stderr


def _refused_postgres() -> str:
    return f"postgresql://sevbot:{PASSWORD}@127.0.0.1:{_free_port()}/sevbot"


@pytest.mark.parametrize("command", [
    ["migrate"], ["serve"], ["insights"], ["export", "INC-1"], ["oncall", "show", "primary"], ["sandbox", "--web-port", "0"],
])
def test_every_database_command_says_in_one_line_that_the_database_refused(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "policy.toml").write_text(ONCALL_POLICY)
    url = _refused_postgres()
    extra = {"SEVBOT_CONFIG": "policy.toml"} if command[0] == "oncall" else {}
    result = _run(tmp_path, *command, *(["--sim-port", str(_free_port())] if command[0] == "sandbox" else []),
                  DATABASE_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, **extra)
    shown = url.replace(PASSWORD, "***").replace("postgresql:", "postgresql+psycopg:")
    _one_line_error(result, f"sevbot: DATABASE_URL: cannot use {shown}: ", "Connection refused")


def test_migrate_names_a_database_that_does_not_exist(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from tests.dbs import PG_ADMIN_URL, postgres_unavailable

    if reason := postgres_unavailable():
        pytest.skip(reason)
    url = make_url(PG_ADMIN_URL).set(password=PASSWORD, database="sevbot_no_such_database").render_as_string(hide_password=False)
    result = _run(tmp_path, "migrate", DATABASE_URL=url)
    assert result.returncode == 2 and "sevbot_no_such_database" in result.stderr
    if "password authentication failed" not in result.stderr:  # a server that trusts local users checks the name first
        _one_line_error(result, 'database "sevbot_no_such_database" does not exist')
    _one_line_error(result, "sevbot: DATABASE_URL: cannot use ")


def test_migrate_names_a_host_that_does_not_resolve(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate", DATABASE_URL=f"postgresql://sevbot:{PASSWORD}@no-such-host.invalid/sevbot")
    _one_line_error(result, "sevbot: DATABASE_URL: cannot use postgresql+psycopg://sevbot:***@no-such-host.invalid/sevbot: ",
                    "no-such-host.invalid")


def test_a_sqlite_file_whose_folder_cannot_exist_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    url = f"sqlite:///{tmp_path / 'a-file' / 'sub' / 'sevbot.db'}"
    _one_line_error(_run(tmp_path, "migrate", DATABASE_URL=url),
                    f"sevbot: DATABASE_URL: cannot make the folder {tmp_path / 'a-file' / 'sub'} for the SQLite file: ")
    _one_line_error(_run(tmp_path, "insights", DATABASE_URL=url), f"sevbot: DATABASE_URL: cannot use {url}: unable to open")


def test_a_database_url_that_is_no_url_is_one_line_without_its_password(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate", DATABASE_URL=f"postgresql://sevbot:{PASSWORD}@db:not-a-port/sevbot")
    _one_line_error(result, "sevbot: DATABASE_URL: is not a URL")


@pytest.mark.parametrize(("api_url", "expected"), [
    ("refused", "Connection refused"),
    ("http://no-such-host.invalid/api/", "sevbot: SLACK_API_URL: cannot reach Slack at http://no-such-host.invalid/api/: "),
])
def test_serve_says_in_one_line_that_slack_cannot_be_reached(tmp_path: Path, api_url: str, expected: str) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    if api_url == "refused":
        api_url = f"http://127.0.0.1:{_free_port()}/api/"
        expected = f"sevbot: SLACK_API_URL: cannot reach Slack at {api_url}: Connection refused"
    result = _run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=api_url,
                  SEVBOT_PORT=str(_free_port()))
    _one_line_error(result, expected)
    assert BOT_TOKEN not in result.stderr


def test_serve_says_in_one_line_that_slack_refused_the_token(tmp_path: Path, simulator: SlackSimulator) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    wrong = "xoxb-0-a-token-slack-does-not-know"
    result = _run(tmp_path, "serve", SLACK_BOT_TOKEN=wrong, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=simulator.api_url,
                  SEVBOT_PORT=str(_free_port()))
    _one_line_error(result)
    assert result.stderr == "sevbot: SLACK_BOT_TOKEN: Slack refused the bot token (invalid_auth)\n"
    assert [c.method for c in simulator.calls] == ["auth.test"], "nothing else was tried with a refused token"


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path, simulator: SlackSimulator) -> None:
    import socket

    assert _run(tmp_path, "migrate").returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=simulator.api_url, SEVBOT_PORT=str(port), SEVBOT_LOG_FORMAT="json")
    # serve logs as it starts (json lines here); the error is the one line that is not a log record.
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert errors == [f"sevbot: SEVBOT_PORT: cannot listen on 127.0.0.1:{port}: Address already in use"], result.stderr[-2000:]


def test_sandbox_on_a_busy_simulator_port_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run(tmp_path, "sandbox", "--sim-port", str(port), "--web-port", "0")
    _one_line_error(result, f"sevbot: --sim-port {port}: cannot run the Slack simulator there (Address already in use)")


@pytest.mark.parametrize("argv, names", [
    (["serve", "--log-level", "LOUD"], "--log-level"),
    (["nosuch"], "nosuch"),
    (["insights", "--since"], "--since"),
])
def test_wrong_usage_is_one_line_and_exit_2(argv: list[str], names: str, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert len(err.splitlines()) == 1 and names in err and "--help" in err, err
    assert "usage:" not in err


def test_start_up_names_the_scopes_an_older_install_lacks_in_one_warning(simulator: SlackSimulator,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A workspace that installed the app before im:history and usergroups:write were asked for: start-up goes on,
    and one warning names both, what each costs, and the reinstall. With every scope granted, nothing is said."""
    import logging

    from bot.runtime import check_slack
    from bot.settings import load_settings
    from bot.slack_sim.state import BOT_SCOPES

    settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_app_token=None,
                             slack_api_url=simulator.api_url)
    with caplog.at_level(logging.WARNING, logger="bot.runtime"):
        check_slack(settings)
    assert [r for r in caplog.records if "scope" in r.getMessage()] == []
    simulator.scopes = BOT_SCOPES - {"im:history", "usergroups:write"}
    with caplog.at_level(logging.WARNING, logger="bot.runtime"):
        check_slack(settings)
    [warning] = [r.getMessage() for r in caplog.records if "scope" in r.getMessage()]
    assert warning.startswith("SLACK_BOT_TOKEN: the installed Slack app lacks 2 scope(s)"), warning
    assert "usergroups:write (keeping an on-call user group current); im:history (" in warning
    assert "Reinstall the app from manifest.yml" in warning and BOT_TOKEN not in warning


def test_a_start_asks_slack_who_the_bot_is_once_and_bolt_knows_it(tmp_path: Path) -> None:
    """Start-up's auth.test answer seeds Bolt too: one auth.test per start (each is a chance to meet a slow Slack at a
    restart), none on a person's first request, and Bolt still knows the bot (its own events are ignored)."""
    from bot.slack_sim.state import BOT_USER_ID
    from tests.harness import running_bot

    with running_bot(f"sqlite:///{tmp_path / 'once.db'}") as bot:
        assert [c.method for c in bot.sim.calls].count("auth.test") == 1
        answer = bot.slack.slash_command("U0L1", "help")
        assert answer.status == 200 and "/incident" in answer.text, answer.text
        assert bot.slack.event({"type": "message", "user": BOT_USER_ID, "bot_id": "B0BOT", "channel": "C0GENERAL",
                                "text": "from the bot itself", "ts": "1700000000.000100"}).status == 200
        assert [c.method for c in bot.sim.calls].count("auth.test") == 1
