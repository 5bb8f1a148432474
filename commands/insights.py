"""`/incident insights [7d|30d|90d]`: the report privately (through the command's response_url, after the ack),
and its picture as a PNG in the person's DM with sevbot (an ephemeral message cannot carry a file)."""
from __future__ import annotations

import logging
import threading

from commands.registry import Invocation, register
from bot.core.errors import BadInput
from bot.insights.chart import ChartError, render_png_in_child
from bot.memory import hand_back_freed
from bot.insights.render import chart_data, slack_text
from bot.insights.report import BadPeriod, build, parse_period
from bot.slack.gateway import SlackError

log = logging.getLogger(__name__)
USAGE = "`/incident insights [7d|30d|90d]` (default 30d)"
# One picture at a time per process: each is a child Python of ~125 MiB for about a second, and a burst of requests
# must not fork a crowd of them on a small box. The report text is never held back.
DRAWING = threading.BoundedSemaphore(1)


@register("insights", "/incident insights [7d|30d|90d]",
          "what the period says: incidents against the one before, time to acknowledge and resolve, update cadence, "
          "repeats, recurring patterns, postmortem follow-through (privately, with a picture in your DM)")
def run_insights(invocation: Invocation) -> None:
    try:
        days = parse_period(invocation.args)
    except BadPeriod as problem:
        raise BadInput(f"Usage: {USAGE}: {problem}.") from None
    invocation.ack()  # the report reads the whole period: answer once it is built
    invocation.ctx.run_later(_report_and_picture, invocation, days)


def _report_and_picture(invocation: Invocation, days: int) -> None:
    ctx = invocation.ctx
    try:
        report = build(ctx.deps.db, ctx.deps.config, ctx.deps.timing, ctx.deps.clock.now(), days)
    except Exception:  # the database did not answer: say so rather than stay silent
        log.exception("insights: reading the incident history failed")
        invocation.reply_later(":x: sevbot could not read the incident history just now; nothing is lost, try again in a minute.")
        return
    text, chart = slack_text(report, chart_note=":frame_with_picture: The picture (weekday × hour heatmap of incidents "
                                                "and alerts, weekly time to resolve) is on its way to your DM with sevbot."), chart_data(report)
    del report
    hand_back_freed()  # the period's rows are garbage now: give the pages back rather than keep them at rest
    invocation.reply_later(text)
    if not DRAWING.acquire(blocking=False):
        invocation.reply_later(":hourglass_flowing_sand: Another insights picture is being drawn right now, so this one is "
                               "skipped; ask again in a minute for the picture.")
        return
    try:
        png = render_png_in_child(chart)
        channel = ctx.gateway.open_dm(invocation.user_id)
        ctx.gateway.upload_file(channel, f"sevbot-insights-{days}d.png", png, title=f"Incident insights, last {days} days",
                                comment=f"Incident insights for the last {days} days (the report is in the channel where you asked).")
    except (ChartError, SlackError) as problem:
        log.warning("insights: the picture was not sent: %s", problem)
        invocation.reply_later(f":warning: The picture could not be sent ({problem}); `sevbot insights --since {days}d --png "
                               f"insights.png` draws it from the database.")
    finally:
        DRAWING.release()
