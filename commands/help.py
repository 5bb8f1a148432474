"""`/incident help`: generated from the registry, so it can't drift from what the bot does."""
from __future__ import annotations

from commands.registry import Invocation, help_text, register


@register("help", "/incident help", "this list")
def run(invocation: Invocation) -> None:
    invocation.reply(help_text())
