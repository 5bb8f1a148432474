"""How a use case says no. The command layer turns these into an ephemeral answer; nothing has changed."""
from __future__ import annotations


class BadInput(Exception):
    """The request can't be carried out as given (unknown role, bad status, …); nothing changed."""


class Refused(Exception):
    """Not allowed for this user; the refusal itself is recorded on the timeline."""
