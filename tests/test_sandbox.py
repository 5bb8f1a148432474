"""`sevbot sandbox` (what `make run` starts without Slack credentials), `sevbot say` and `sevbot alert`, as separate
processes."""
from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tests.harness import wait_for
from tests.test_cli import SEVBOT, _env, _free_port


def test_sandbox_runs_the_bot_and_say_declares(tmp_path: Path) -> None:
    sim_port, bot_port = _free_port(), _free_port()
    out = tmp_path / "sandbox.out"
    with out.open("w") as sink:
        sandbox = subprocess.Popen([*SEVBOT, "sandbox", "--sim-port", str(sim_port)], cwd=tmp_path,
                                   env=_env(tmp_path, SEVBOT_PORT=str(bot_port)), stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "send it a command" in out.read_text(), timeout=30, what="sandbox banner")

        def say(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*SEVBOT, "say", "--sim-port", str(sim_port), *args], cwd=tmp_path,
                                  env=_env(tmp_path), capture_output=True, text=True, timeout=30)

        declared = say("--as", "U0L1", "/incident declare sev1 Checkout is failing for all users")
        assert declared.returncode == 0 and "Declaring INC-1" in declared.stdout
        wait_for(lambda: "[#sev1-" in out.read_text() and "[#incidents]" in out.read_text(), timeout=15, what="card and announcement")
        wait_for(lambda: "[only visible to U0L1]" in out.read_text() and "is open in" in out.read_text(), what="declarer told")
        # The same workspace is on the web page printed in the banner (8080, or a free port when 8080 is busy).
        page = re.search(r"in a browser: (http://127\.0\.0\.1:\d+/)", out.read_text())
        assert page, out.read_text()
        with urllib.request.urlopen(page.group(1) + "api/state?user=U0L1", timeout=10) as response:
            assert any(c["name"].startswith("sev1-") for c in json.loads(response.read())["channels"])
        listing = say("/incident list")
        assert "INC-1" in listing.stdout
        assert say("--as", "U0NOBODY", "/incident help").returncode == 2
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    refused = subprocess.run([*SEVBOT, "say", "--sim-port", str(sim_port), "/incident list"], cwd=tmp_path, env=_env(tmp_path),
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "no sandbox on port" in refused.stderr


def test_sevbot_alert_fires_and_resolves_in_a_running_sandbox(tmp_path: Path) -> None:
    """`sevbot alert fire|resolve` find the sandbox by its simulator port (its private state file names the bot and
    the alert source's token, fresh per run) and POST Alertmanager's webhook body to `/alerts/sandbox`."""
    sim_port, bot_port = _free_port(), _free_port()
    runtime_dir = tmp_path / "run"
    out = tmp_path / "sandbox.out"
    with out.open("w") as sink:
        sandbox = subprocess.Popen([*SEVBOT, "sandbox", "--sim-port", str(sim_port), "--web-port", "0", "--log-level", "DEBUG"],
                                   cwd=tmp_path, env=_env(tmp_path, SEVBOT_PORT=str(bot_port), XDG_RUNTIME_DIR=str(runtime_dir)),
                                   stdout=sink, stderr=subprocess.STDOUT)
    state_file = runtime_dir / "sevbot" / f"sandbox-{sim_port}.json"
    try:
        wait_for(lambda: "send it a command" in out.read_text(), timeout=30, what="sandbox banner")
        assert f"sevbot alert fire --sim-port {sim_port}" in out.read_text()
        assert state_file.stat().st_mode & 0o077 == 0 and state_file.parent.stat().st_mode & 0o077 == 0
        token = json.loads(state_file.read_text())["alert_token"]
        page = re.search(r"in a browser: (http://127\.0\.0\.1:\d+/)", out.read_text())
        assert page, out.read_text()

        def alert(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*SEVBOT, "alert", *args, "--sim-port", str(sim_port)], cwd=tmp_path,
                                  env=_env(tmp_path, XDG_RUNTIME_DIR=str(runtime_dir)), capture_output=True, text=True, timeout=30)

        def state(user: str, channel: str | None = None) -> dict[str, Any]:
            query = f"api/state?user={user}" + (f"&channel={channel}" if channel else "")
            with urllib.request.urlopen(page.group(1) + query, timeout=10) as response:  # type: ignore[union-attr]
                return json.loads(response.read())  # type: ignore[no-any-return]

        def alert_messages() -> list[dict[str, Any]]:
            return state("U0L1", "C0ALERTS")["channel"]["messages"]  # type: ignore[no-any-return]

        def pages(user: str) -> list[dict[str, Any]]:
            dm = state(user)["dms"][0]["id"]
            return [m for m in state(user, dm)["channel"]["messages"] if m["text"].startswith("You are paged:")]

        fired = alert("fire", "--summary", "Checkout 5xx above 5%")
        assert (fired.returncode, fired.stdout, fired.stderr) == (0, "fired CheckoutErrors: alert group 1 (created)\n", "")
        message = wait_for(lambda: (found := alert_messages()) and found[0], what="the alert's message in #alerts")
        assert message["user"] == "U0BOT" and "Checkout 5xx above 5%" in json.dumps(message["blocks"])
        assert ":red_circle:" in json.dumps(message["blocks"])
        assert len(wait_for(lambda: pages("U0L1"), what="Lee paged by DM")) == 1
        wait_for(lambda: "[#alerts] Firing (1): Checkout 5xx above 5%" in out.read_text(), what="the sandbox echoes it")

        repeat = alert("fire")
        assert repeat.returncode == 0 and repeat.stdout.startswith("fired CheckoutErrors: alert group 1 (unchanged); it was already firing")
        resolved = alert("resolve")
        assert (resolved.returncode, resolved.stdout) == (0, "resolved CheckoutErrors: alert group 1 (changed)\n"), resolved.stderr
        wait_for(lambda: ":large_green_circle:" in json.dumps(alert_messages()[0]["blocks"]), what="the message turns green")
        assert len(alert_messages()) == 1 and len(pages("U0L1")) == 1

        unknown = alert("resolve", "--name", "NeverFired")
        assert unknown.returncode == 2 and unknown.stderr == "sevbot: resolve NeverFired: nothing by that name is firing; nothing changed\n"
        bad = alert("fire", "--severity", "apocalyptic")
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--severity" in bad.stderr
        assert len(alert_messages()) == 1
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    assert sandbox.returncode == 0, out.read_text()[-2000:]
    assert token not in out.read_text(), "the alert token stays out of the sandbox's output and logs"
    assert not state_file.exists(), "a stopped sandbox leaves no state file"
    gone = subprocess.run([*SEVBOT, "alert", "fire", "--sim-port", str(sim_port)], cwd=tmp_path,
                          env=_env(tmp_path, XDG_RUNTIME_DIR=str(runtime_dir)), capture_output=True, text=True, timeout=30)
    assert gone.returncode == 2 and gone.stderr == f"sevbot: no sandbox on port {sim_port}: start one with `make run` (no Slack credentials)\n"
