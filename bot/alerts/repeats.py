"""Repeats answered from memory: most of what a sender posts changes nothing (Alertmanager re-sends a firing group
every `group_interval`, an HA pair sends everything twice), and each would otherwise take a write transaction.

A notification is remembered by what `receive` acts on (the group key, each alert's fingerprint, status and start
time, the truncated count, an acknowledge) only after it was taken in and committed; the same again is answered
"unchanged" with no database work. The start time is part of it so that an alert which resolved (through another
replica, say) and fired again is never mistaken for a repeat. Anything else, and anything this replica has not seen, goes to the database as before, so
forgetting (a restart, another replica, the bounded size) only costs time.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

from bot.alerts.payloads import Notification

MAX_REMEMBERED = 20_000


def fingerprint_of(source: str, note: Notification) -> str:
    alerts = sorted((signal.fingerprint, signal.status, signal.starts_at.isoformat()) for signal in note.signals)
    raw = json.dumps([source, note.group_key, alerts, note.truncated, note.acknowledge], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


class RecentNotifications:
    def __init__(self, size: int = MAX_REMEMBERED) -> None:
        self._size = size
        self._last: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def repeat_of(self, source: str, note: Notification) -> int | None:
        """The group id, when this is the same as the group's last notification taken in here."""
        key = (source, note.group_key)
        with self._lock:
            seen = self._last.get(key)
            if seen is None or seen[0] != fingerprint_of(source, note):
                return None
            self._last.move_to_end(key)
            return seen[1]

    def remember(self, source: str, note: Notification, group_id: int) -> None:
        key = (source, note.group_key)
        with self._lock:
            self._last[key] = (fingerprint_of(source, note), group_id)
            self._last.move_to_end(key)
            while len(self._last) > self._size:
                self._last.popitem(last=False)
