"""matplotlib never enters `sevbot serve`: not at import, not at start, not after `/incident insights` (the picture
is drawn in a child process). Checked in a fresh interpreter, where sys.modules shows what was really imported."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import bot.cli, bot.app, bot.runtime, commands.insights, bot.insights.report, bot.insights.render, bot.insights.chart
assert "matplotlib" not in sys.modules, "imported by the modules"
from tests.harness import running_bot, wait_for
with running_bot("sqlite:///{db}") as bot:
    assert "matplotlib" not in sys.modules, "imported at start"
    answer = bot.say("U0L1", "insights 7d", "C0GENERAL")
    assert "Incident insights" in answer, answer
    ws = bot.sim.workspace
    wait_for(lambda: (dm := ws.dm_channel("U0L1")) and any(m.files for m in ws.messages(dm.id)), timeout=60, what="the picture")
    assert "matplotlib" not in sys.modules, "imported by /incident insights"
print("clean")
"""


def test_serve_never_imports_matplotlib(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE.format(db=tmp_path / "probe.db")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("clean"), done.stderr[-3000:]


def test_the_chart_function_is_where_matplotlib_comes_in(tmp_path: Path) -> None:
    probe = ("import sys; from bot.insights.chart import render_png; assert 'matplotlib' not in sys.modules; "
             "png = render_png({'title': 't', 'incidents': [[0]*24]*7, 'alerts': [[1]*24]*7, 'weeks': []}); "
             "assert 'matplotlib' in sys.modules and png[:8] == b'\\x89PNG\\r\\n\\x1a\\n'; print('drawn')")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "drawn", done.stderr[-3000:]
