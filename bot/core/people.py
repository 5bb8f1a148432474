"""Is this Slack user someone who can take a role or be paged? Asks Slack, so it runs after the ack."""
from __future__ import annotations

from bot.core.deps import People
from bot.core.errors import BadInput


def check_person(people: People, user_id: str, *, needs_a_person: str = "incident roles need a person") -> None:
    """`needs_a_person` ends the answer for a bot ("on call needs a person")."""
    info = people.user(user_id)
    if info is None:
        raise BadInput(f"Slack has no user <@{user_id}>; mention someone from your workspace.")
    if info.deleted:
        raise BadInput(f"<@{user_id}> is deactivated in Slack; choose someone active.")
    if info.is_bot:
        raise BadInput(f"<@{user_id}> is a bot; {needs_a_person}.")
