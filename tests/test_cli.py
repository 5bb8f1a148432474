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
# The checkout under test, first on the child's path: a virtualenv shared between checkouts (git worktrees) has the
# package installed from another one, and `python -m bot` would run that code instead.
ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SEVBOT_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **extra})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
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
