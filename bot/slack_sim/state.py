"""In-memory Slack workspace: the simulator's single source of truth.

Everything lives behind one lock because the HTTP server is threaded and tests read the state
from another thread while the bot is still calling the API.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from typing import Any, Callable

TEAM_ID = "T0SEVBOT"
TEAM_DOMAIN = "sevbot-sim"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0SEVBOT"
# The bot-token scopes the simulated install granted: sevbot's manifest.yml (tests/test_manifest.py keeps the two
# equal). A method that needs a scope not here answers `missing_scope`, as Slack does; a test can take one away.
BOT_SCOPES = frozenset({
    "commands", "channels:manage", "channels:read", "channels:join", "chat:write", "pins:write", "usergroups:read",
    "usergroups:write", "files:write", "im:write", "users:read", "channels:history", "im:history", "reactions:read",
    "pins:read",
})


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False
    deleted: bool = False
    title: str = ""
    tz: str = "Etc/UTC"  # the IANA zone of the person's Slack profile
    display_name: str | None = None  # None: the handle, as when people never set one

    def to_api(self) -> dict[str, Any]:
        # Shape of users.info "user" (trimmed to the fields a bot reads).
        zone = ZoneInfo(self.tz)
        now = datetime.now(zone)
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": now.tzname() or self.tz,
            "tz_offset": int((now.utcoffset() or timedelta()).total_seconds()),
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name if self.display_name is None else self.display_name,
                "title": self.title,
                "team": TEAM_ID,
            },
        }


@dataclass
class Usergroup:
    id: str
    handle: str
    users: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    created: int = 0
    creator: str = ""
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    is_archived: bool = False
    im_user: str | None = None  # the human on the other side of a DM

    def to_api(self, viewer: str = BOT_USER_ID) -> dict[str, Any]:
        if self.is_im:
            return {"id": self.id, "created": self.created, "is_im": True, "is_org_shared": False,
                    "user": self.im_user, "is_user_deleted": False, "priority": 0}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "created": self.created,
            "creator": self.creator,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": viewer in self.members,
            "num_members": len(self.members),
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    edited_ts: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text,
                               "team": TEAM_ID}
        if self.user == BOT_USER_ID:
            out["bot_id"] = BOT_ID
            out["app_id"] = APP_ID
        if self.blocks:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edited_ts:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.reactions:
            out["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in self.reactions.items()]
        if self.files:
            out["files"] = self.files
        if self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class View:
    id: str
    hash: str
    view: dict[str, Any]
    user_id: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    state_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: bool = False

    def to_api(self) -> dict[str, Any]:
        v = dict(self.view)
        v.update({
            "id": self.id,
            "team_id": TEAM_ID,
            "state": {"values": self.state_values},
            "hash": self.hash,
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "external_id": self.external_id or "",
        })
        v.setdefault("private_metadata", "")
        v.setdefault("callback_id", "")
        v.setdefault("clear_on_close", False)
        v.setdefault("notify_on_close", False)
        return v


SLACKBOT_USER_ID = "USLACKBOT"  # Slack's own voice: "/foo is not a valid command", "failed with the error …"


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    message_ts: str
    sender: str = BOT_USER_ID  # who it appears to come from: the bot, or Slackbot for Slack's own notices
    deleted: bool = False  # a response_url `delete_original` on an ephemeral removes it from the user's view


@dataclass
class ResponseUrlPost:
    token: str
    body: dict[str, Any]


@dataclass
class ResponseUrl:
    """A response_url handed to the bot; Slack allows 5 uses within 30 minutes."""
    token: str
    channel_id: str
    user_id: str
    issued_at: float
    uses: int = 0
    message_ts: str | None = None  # the message a block_actions response_url belongs to


@dataclass
class Trigger:
    id: str
    issued_at: float
    user_id: str
    used: bool = False


IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    completed: bool = False

    @property
    def mimetype(self) -> str:
        """Images by their extension (Slack shows them inline); anything else is text, as the bot uploads it."""
        extension = self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else ""
        return IMAGE_TYPES.get(extension, "text/plain")

    def to_api(self) -> dict[str, Any]:
        image = self.mimetype.startswith("image/")
        return {"id": self.id, "name": self.filename, "title": self.title or self.filename,
                "size": len(self.content or b""), "mimetype": self.mimetype,
                "filetype": self.filename.rsplit(".", 1)[-1].lower() if image else "text",
                "user": BOT_USER_ID, "url_private": f"https://sim.slack.local/files/{self.id}/{self.filename}"}


class Workspace:
    """All workspace state. Hold `lock` while reading or writing more than one field."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self._pins: dict[str, list[str]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.response_posts: list[ResponseUrlPost] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self.views: dict[str, View] = {}
        # views.publish: each user's Home tab (one view per user, replaced by every publish).
        self.home_views: dict[str, View] = {}
        self.triggers: dict[str, Trigger] = {}
        self.files: dict[str, UploadedFile] = {}
        self._counter = itertools.count(1)
        self._last_ts = 0.0

    # ---- id generators -------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        # Slack ids are upper-case alphanumerics with a type prefix (C channel, D DM, V view, F file).
        return f"{prefix}SIM{next(self._counter):06d}"

    def new_ts(self) -> str:
        """A message ts: seconds.microseconds, strictly increasing (Slack's ts is a unique key)."""
        with self.lock:
            now = max(self.clock(), self._last_ts + 0.000001)
            self._last_ts = now
            sec = int(now)
            return "%d.%06d" % (sec, round((now - sec) * 1_000_000) % 1_000_000)

    def issue_trigger(self, user_id: str = "") -> str:
        """A trigger_id as Slack hands out with each interaction (format: n.epoch.hex)."""
        with self.lock:
            n = next(self._counter)
            tid = f"{n}.{int(self.clock())}.{n * 2654435761 % 16**12:012x}"
            self.triggers[tid] = Trigger(tid, self.clock(), user_id)
            return tid

    def issue_response_url(self, base_url: str, channel_id: str, user_id: str,
                           message_ts: str | None = None) -> str:
        with self.lock:
            token = f"R{next(self._counter):08d}"
            self.response_urls[token] = ResponseUrl(token, channel_id, user_id, self.clock(),
                                                    message_ts=message_ts)
            return f"{base_url}response/{token}"

    # ---- seed ----------------------------------------------------------------------------
    def seed_default(self) -> "Workspace":
        now = int(self.clock())
        for u in (
            User("U0BOT", "sevbot", "sevbot", is_bot=True),
            User("U0L1", "lee", "Lee", title="L1 on-call"),
            User("U0L2", "sam", "Sam", title="L2 on-call"),
            User("U0IC", "ines", "Ines", title="Incident commander"),
            User("U0EXEC", "erin", "Erin", title="Exec stakeholder"),
            User("U0GONE", "gone", "Former Employee", deleted=True),
        ):
            self.users[u.id] = u
        self.usergroups["S0ONCALL"] = Usergroup("S0ONCALL", "oncall", ["U0L1", "U0L2"], name="On-call")
        humans = {"U0L1", "U0L2", "U0IC", "U0EXEC"}
        self.channels["C0STAKE"] = Channel("C0STAKE", "incidents", created=now, creator="U0IC",
                                           members=humans | {BOT_USER_ID},
                                           purpose="Stakeholder updates for incidents")
        self.channels["C0GENERAL"] = Channel("C0GENERAL", "general", created=now, creator="U0IC",
                                             members=set(humans))
        self.channels["C0ALERTS"] = Channel("C0ALERTS", "alerts", created=now, creator="U0IC",
                                            members=humans | {BOT_USER_ID}, purpose="Alerts from monitoring")
        return self

    # ---- queries for tests ---------------------------------------------------------------
    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        with self.lock:
            return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def messages(self, channel_id: str) -> list[Message]:
        with self.lock:
            return list(self._messages.get(channel_id, []))

    def all_messages(self) -> list[Message]:
        with self.lock:
            return [m for ms in self._messages.values() for m in ms]

    def add_message(self, msg: Message) -> Message:
        with self.lock:
            self._messages.setdefault(msg.channel, []).append(msg)
            return msg

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        with self.lock:
            return next((m for m in self._messages.get(channel_id, []) if m.ts == ts), None)

    def pins(self, channel_id: str) -> list[str]:
        """Pinned message ts values, oldest pin first."""
        with self.lock:
            return list(self._pins.get(channel_id, []))

    def pins_mut(self, channel_id: str) -> list[str]:
        return self._pins.setdefault(channel_id, [])

    def dm_channel(self, user_id: str, create: bool = False) -> Channel | None:
        with self.lock:
            ch = next((c for c in self.channels.values() if c.is_im and c.im_user == user_id), None)
            if ch is None and create:
                ch = Channel(self.new_id("D"), "", is_im=True, created=int(self.clock()),
                             members={user_id, BOT_USER_ID}, im_user=user_id)
                self.channels[ch.id] = ch
            return ch
