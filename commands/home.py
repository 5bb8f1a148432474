"""The App Home tab: `app_home_opened` publishes the person's tab, and its Declare incident button opens the declare
form. The tab's Acknowledge buttons are the page and alert buttons (`commands/paging.py`, `commands/alerts.py`);
their answers appear at the top of the tab (`Click.answer`), since a Home tab click has no response_url."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.declare import modal as declare_modal
from bot.slack.gateway import SlackError
from commands.context import Context

log = logging.getLogger(__name__)


def on_home_opened(ctx: Context, body: dict[str, Any]) -> None:
    """Slack sends this for the Messages tab too; only the Home tab is ours to draw. Publishing happens on the
    background pool (and at most once per person per few seconds), after the delivery is answered."""
    event = body["event"]
    if event.get("tab") != "home" or ctx.home is None or not event.get("user"):
        return
    ctx.home.opened(str(event["user"]), shown=isinstance(event.get("view"), dict))


def on_declare(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    ctx.run_later(_open_declare, ctx, str(body.get("trigger_id", "")), body["user"]["id"])


def _open_declare(ctx: Context, trigger_id: str, user: str) -> None:
    try:
        ctx.gateway.open_view(trigger_id, declare_modal.build(ctx.deps.config, origin_channel_id=None))
    except SlackError as exc:
        log.warning("views.open from the Home tab failed: %s", exc.code)
        if ctx.home is not None:
            ctx.home.answer(user, f":x: Slack would not open the declare form (`{exc.code}`). Click again, or type "
                                  "`/incident declare sev1 <title>`.")
