"""Each person's time zone, from Slack's users.info (`user.tz`), remembered so an answer can come with the ack.

A slash command must be answered within 3 s with no Web API call before the answer: `known` reads only this cache;
`look_up` (after the ack) asks Slack through the gateway and fills it. People rarely change their zone, so an entry
lives for hours; an unknown or unusable zone falls back to UTC, and the answer says so.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.deps import People

ZONE_CACHE_SECONDS = 6 * 3600.0
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Zone:
    zone: ZoneInfo
    # False when Slack gave no usable zone and UTC stands in for it (the answer says so).
    from_profile: bool = True


class ZoneBook:
    def __init__(self, people: People, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._people = people
        self._monotonic = monotonic
        self._zones: dict[str, tuple[float, Zone]] = {}
        self._lock = threading.Lock()

    def known(self, user_id: str) -> Zone | None:
        """The person's zone if looked up lately; never calls Slack."""
        with self._lock:
            found = self._zones.get(user_id)
        if found is None or self._monotonic() - found[0] > ZONE_CACHE_SECONDS:
            return None
        return found[1]

    def look_up(self, user_id: str) -> Zone:
        """Ask Slack (users.info) unless known; a person Slack doesn't know, or a failing call, gives UTC."""
        if (zone := self.known(user_id)) is not None:
            return zone
        try:
            info = self._people.user(user_id)
        except Exception:  # Slack unreachable: answer in UTC now rather than not at all; don't remember it
            return Zone(UTC, from_profile=False)
        zone = _zone_of(getattr(info, "tz", None) if info is not None else None)
        with self._lock:
            self._zones[user_id] = (self._monotonic(), zone)
        return zone

    def remember(self, user_id: str, tz: str | None) -> None:
        """A zone learnt elsewhere (a users.info another use case made)."""
        with self._lock:
            self._zones[user_id] = (self._monotonic(), _zone_of(tz))


def _zone_of(tz: str | None) -> Zone:
    if not tz:
        return Zone(UTC, from_profile=False)
    try:
        return Zone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return Zone(UTC, from_profile=False)
