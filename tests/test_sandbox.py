"""`sevbot sandbox` (what `make run` starts without Slack credentials) and `sevbot say`, as separate processes."""
from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

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
