"""Messages are rendered from Jinja2 templates in templates/ into Block Kit JSON.

Every interpolation goes through `tojson` (so user text can't break the JSON) and user text through `mrkdwn`
(so it can't ping @channel or forge a link). A test renders every template with hostile input.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from bot.data import data_dir
from bot.domain import markdown, when
from bot.domain.text import escape_mrkdwn, one_line, truncate

TEMPLATES_DIR = data_dir("templates")


def slack_date(value: datetime) -> str:
    """Shown in each reader's own timezone by Slack, with UTC as the fallback text."""
    epoch = int(value.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{value.strftime('%Y-%m-%d %H:%M UTC')}>"


def _names(context: Context) -> dict[str, str]:
    names = context.get("people")
    return names if isinstance(names, dict) else {}


@pass_context
def _md(context: Context, value: object) -> str:
    """Text people typed → inert Markdown; `<@U…>` in it → `@display name`."""
    return markdown.inert_markdown(value, _names(context).get)


@pass_context
def _md_mrkdwn(context: Context, value: object) -> str:
    """Slack mrkdwn sevbot stored (timeline summaries) → inert Markdown."""
    return markdown.inert_markdown(value, _names(context).get, mrkdwn=True)


@pass_context
def _who(context: Context, user_id: object) -> str:
    return markdown.who(user_id, _names(context))


@pass_context
def _md_link(context: Context, label: object, url: object) -> str:
    return markdown.link(label, url, _names(context))


class Renderer:
    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["mrkdwn"] = escape_mrkdwn
        self.env.filters["trunc"] = truncate
        self.env.filters["one_line"] = one_line
        self.env.filters["slack_date"] = slack_date
        # Markdown (the postmortem draft): `people` in the template's context maps user ids to display names.
        self.env.filters["md"] = _md
        self.env.filters["md_mrkdwn"] = _md_mrkdwn
        self.env.filters["who"] = _who
        self.env.filters["md_link"] = _md_link
        self.env.filters["hms"] = when.time_of_day
        self.env.filters["stamp"] = when.stamp
        self.env.filters["t_plus"] = when.t_plus
        self.env.globals["days"] = when.Days
        self.env.globals["by_day"] = when.by_day
        self.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False}

    def preload(self) -> None:
        """Compile every template now, at start, so the first declares after a restart don't each pay for it."""
        for name in self.env.list_templates(extensions=["j2"]):
            self.env.get_template(name)

    def blocks(self, name: str, **context: Any) -> list[dict[str, Any]]:
        rendered = self.env.get_template(name).render(**context)
        blocks = json.loads(rendered)
        if not isinstance(blocks, list):
            raise ValueError(f"{name} must render a JSON list of blocks")
        return blocks

    def text(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context).strip()
