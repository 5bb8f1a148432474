"""The insights picture: a weekday × hour heatmap of incidents and alerts, and the weekly time to resolve (PNG).

matplotlib is imported inside `render_png` only. `sevbot serve` does not even do that: it draws in a short-lived
child process (`render_png_in_child`, running `python -m bot.insights.chart`), so the ~56 MiB that matplotlib
takes never stays in the bot (docs/performance.md measures both). `sevbot insights --png` draws in-process.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHILD_TIMEOUT_S = 60
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ChartError(Exception):
    """The picture could not be drawn; the message says why in one line."""


def render_png(chart: dict[str, Any]) -> bytes:
    """Draw `chart` (bot/insights/render.py chart_data) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit: files only
    from matplotlib.figure import Figure

    incidents = chart["incidents"]
    alerts = chart["alerts"]
    weeks = chart["weeks"]
    figure = Figure(figsize=(11, 8.5), dpi=100, layout="constrained")
    top, middle, bottom = figure.subplots(3, 1, height_ratios=[1, 1, 0.9])
    figure.suptitle(str(chart.get("title") or "Incident insights"), fontsize=13)
    for axes, grid, name, colours in ((top, incidents, "Incidents declared", "Reds"), (middle, alerts, "Alerts fired", "Blues")):
        # The scale starts at 0 and reaches at least 1, so an empty week is white rather than a mid-tone.
        image = axes.imshow(grid, aspect="auto", cmap=colours, interpolation="nearest", vmin=0, vmax=max(1, max(map(max, grid))))
        axes.set_title(f"{name} ({sum(map(sum, grid))})", fontsize=11, loc="left")
        axes.set_yticks(range(7), WEEKDAYS)
        axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
        axes.set_xlabel("hour (UTC)")
        figure.colorbar(image, ax=axes, fraction=0.025, pad=0.01)
    labels = [w["start"][5:] for w in weeks]
    values = [w["resolve_p50_hours"] if w["resolve_p50_hours"] is not None else 0.0 for w in weeks]
    bars = bottom.bar(range(len(weeks)), values, color="#4a7c59")
    for bar, week in zip(bars, weeks):
        if week["resolved"]:
            bottom.annotate(str(week["resolved"]), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7, color="#555555")
    bottom.set_title("Median time to resolve by week (hours; the number of incidents resolved above each bar)",
                     fontsize=11, loc="left")
    step = max(1, len(weeks) // 13)
    bottom.set_xticks(range(0, len(weeks), step), labels[::step], fontsize=8)
    bottom.set_ylabel("hours")
    bottom.set_ylim(0, max(1.0, max(values, default=0.0) * 1.15))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def render_png_in_child(chart: dict[str, Any]) -> bytes:
    """Draw in a child Python, so the calling process (the bot) never loads matplotlib."""
    try:
        done = subprocess.run([sys.executable, "-m", "bot.insights.chart"], input=json.dumps(chart).encode(),
                              capture_output=True, timeout=CHILD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChartError(f"the chart process did not finish: {type(exc).__name__}") from None
    if done.returncode != 0 or not done.stdout.startswith(PNG_SIGNATURE):
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise ChartError(f"the chart process failed ({done.returncode}): {last[:200]}")
    return done.stdout


def _main() -> int:
    sys.stdout.buffer.write(render_png(json.loads(sys.stdin.buffer.read())))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
