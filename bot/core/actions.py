"""Button values, typed: the one place that turns what a button carries into a string and back.

A value is a few fields joined by `:` (Slack allows 2,000 characters); the last field may itself contain `:`.
Decoding anything sevbot did not make (a hand-crafted payload, a button from an older release) raises BadInput,
which listeners answer privately, changing nothing.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, get_type_hints

from bot.core.errors import BadInput

SEPARATOR = ":"
NOT_OURS = "That button is not one sevbot made; nothing changed."
V = TypeVar("V", bound="ButtonValue")


@dataclass(frozen=True)
class ButtonValue:
    """Subclasses list their fields (int or non-empty str); `encode`/`decode` round-trip them."""

    # Where an incident id is carried: listeners check it against the channel the click came from.
    incident_field: ClassVar[str | None] = "incident_id"

    def encode(self) -> str:
        return SEPARATOR.join(str(getattr(self, f.name)) for f in dataclasses.fields(self))

    @classmethod
    def decode(cls: type[V], raw: object) -> V:
        names, types = _shape(cls)
        if not isinstance(raw, str):
            raise BadInput(NOT_OURS)
        parts = raw.split(SEPARATOR, len(names) - 1)
        if len(parts) != len(names):
            raise BadInput(NOT_OURS)
        values: list[Any] = []
        for part, kind in zip(parts, types):
            if kind is int:
                if not part.isascii() or not part.isdigit() or len(part) > 18:
                    raise BadInput(NOT_OURS)
                values.append(int(part))
            elif not part:
                raise BadInput(NOT_OURS)
            else:
                values.append(part)
        return cls(*values)

    @property
    def incident(self) -> int | None:
        return getattr(self, self.incident_field) if self.incident_field else None


@functools.cache
def _shape(cls: type[ButtonValue]) -> tuple[tuple[str, ...], tuple[type, ...]]:
    hints = get_type_hints(cls)
    fields = dataclasses.fields(cls)
    return tuple(f.name for f in fields), tuple(hints[f.name] for f in fields)


@dataclass(frozen=True)
class ForIncident(ButtonValue):
    """Post update, Escalate, Resolve…: the button acts on one incident."""

    incident_id: int


@dataclass(frozen=True)
class IncidentChoice(ButtonValue):
    """A card control with a choice: Take command (the holder the clicker saw), a role to assign, a runbook to start."""

    incident_id: int
    choice: str


@dataclass(frozen=True)
class PageButton(ButtonValue):
    """Acknowledge, in a page DM (no incident channel to check it against: the page row is the check)."""

    incident_field: ClassVar[str | None] = None
    incident_id: int
    page_id: int


@dataclass(frozen=True)
class StepButton(ButtonValue):
    """Done / Skip / Failed on one runbook step (the run's incident is checked against the channel by the use case)."""

    incident_field: ClassVar[str | None] = None
    run_id: int
    position: int


@dataclass(frozen=True)
class AlertButton(ButtonValue):
    """Acknowledge, Declare incident, Resolve, Silence 1 h on an alert message or page DM (the group row is the
    check: it names its own channel)."""

    incident_field: ClassVar[str | None] = None
    group_id: int


@dataclass(frozen=True)
class OverrideButton(ButtonValue):
    """Remove, on the list of on-call overrides (the override row is the check: it names its schedule)."""

    incident_field: ClassVar[str | None] = None
    override_id: int
