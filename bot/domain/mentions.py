"""Reading Slack mentions out of slash-command text (the manifest asks Slack to escape them into ids)."""
from __future__ import annotations

import re

_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def user_id_from_mention(word: str) -> str | None:
    """`<@U123|lee>` or `<@U123>` → `U123`; anything else (like a bare `@lee`) → None."""
    match = _USER_MENTION.match(word.strip())
    return match.group(1) if match else None
