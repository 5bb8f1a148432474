"""The one place that calls Slack's Web API.

Transient failures (HTTP 5xx, 429 with Retry-After, connection errors, timeouts) are retried here with backoff;
what is left is raised as `SlackError` carrying Slack's error code so a use case can decide what it means.
"""
from __future__ import annotations

import json
import logging
import socket
import urllib.request
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import Any, NamedTuple
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot import metrics
from bot.priority import REQUESTS_FIRST
from bot.slack.keepalive import KeepAliveWebClient, KeepAliveWebhookClient

log = logging.getLogger(__name__)

USERGROUP_CACHE_SECONDS = 300.0
# Errors about one of the invited users rather than the channel or the call itself.
PER_USER_INVITE_ERRORS = frozenset(
    {"user_not_found", "user_is_deactivated", "user_disabled", "cant_invite_self", "cant_invite", "user_is_restricted", "ura_max_channels"}
)


class SlackError(Exception):
    """A Web API call failed after retries; `code` is Slack's error string (or `http_<status>`)."""

    def __init__(self, method: str, code: str, status: int | None = None, retry_after: float | None = None,
                 reason: str | None = None) -> None:
        super().__init__(f"{method}: {code}")
        self.method = method
        self.code = code
        self.status = status  # the HTTP status, when Slack answered at all
        self.retry_after = retry_after  # seconds Slack asked us to wait (a 429), when it said
        self.reason = reason  # why Slack could not be reached, in words (`Connection refused`), for a person to read

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or self.code == "ratelimited"


@dataclass(frozen=True)
class UserInfo:
    id: str
    name: str
    deleted: bool
    is_bot: bool
    # The person's IANA time zone as set in their Slack profile (users.info `tz`), e.g. "Europe/Berlin".
    tz: str | None = None
    display_name: str = ""  # the profile's display name ("" when the person never set one)
    real_name: str = ""

    @property
    def shown_name(self) -> str:
        """What people see in Slack: the display name, else the real name, else the handle."""
        return self.display_name or self.real_name or self.name or self.id


@dataclass(frozen=True)
class ChannelInfo:
    id: str
    name: str
    creator: str | None


# Calls that make something new each time: when the answer never came (a timeout, a dropped connection) or was a
# 5xx, Slack may have carried the call out, so slack_sdk must not send it again blindly. `post_message` retries them
# itself, after looking for the post by its metadata. (429 is still retried: Slack did nothing.)
NOT_BLINDLY_RETRIED = frozenset({"chat.postMessage"})
# Looking for an earlier post reads at most this many pages of 200 messages (4,000: a very busy channel's hours).
HISTORY_PAGES = 20
# Seconds Slack's clock may be ahead of ours when a post's age is bounded by our clock.
CLOCK_SKEW = 60.0
RETRIES = 3


class Identity(NamedTuple):
    """auth.test's answer: the bot's user id, the scopes Slack says the token has (None if it does not say), and
    the answer itself with its headers (for Bolt, which would otherwise ask again)."""
    user_id: str
    scopes: frozenset[str] | None
    answer: dict[str, Any]
    headers: dict[str, str]


def _method_of(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


class _IdempotentConnectionRetry(ConnectionErrorRetryHandler):
    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        retry = _method_of(request) not in NOT_BLINDLY_RETRIED and super()._can_retry(
            state=state, request=request, response=response, error=error)
        if retry:
            metrics.slack_retry(_method_of(request), "unreachable")
        return retry


class _IdempotentServerErrorRetry(ServerErrorRetryHandler):
    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        retry = _method_of(request) not in NOT_BLINDLY_RETRIED and super()._can_retry(
            state=state, request=request, response=response, error=error)
        if retry:
            metrics.slack_retry(_method_of(request), "http_5xx")
        return retry


# The longest Retry-After the client sleeps through itself. A longer one is handed back (SlackError "ratelimited"
# with its retry_after): the outbox then re-queues the effect for that moment and lets go of it, instead of a thread
# sleeping on a lease (30 s) that would lapse under it, so that a second delivery could claim the item and post again.
MAX_IN_CLIENT_WAIT_S = 5.0


class _CountedRateLimitRetry(RateLimitErrorRetryHandler):
    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        wait = _retry_after(response.headers) if response is not None else None
        retry = (wait is None or wait <= MAX_IN_CLIENT_WAIT_S) and super()._can_retry(
            state=state, request=request, response=response, error=error)
        if retry:
            metrics.slack_retry(_method_of(request), "http_429")
        return retry


def _unreachable_reason(exc: BaseException) -> str:
    """`Connection refused`, `Name or service not known`, `timed out`: the socket's words, not the wrapper's."""
    reason = getattr(exc, "reason", None)
    cause = reason if isinstance(reason, BaseException) else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or type(cause).__name__


def build_client(token: str, base_url: str, *, timeout: float = 10, retries: int = RETRIES, backoff: float = 0.25,
                 logger: logging.Logger | None = None) -> WebClient:
    """A WebClient that retries what Slack asks us to retry (slack_sdk enables only connection retries by default),
    never a post blindly, and keeps its connections to Slack open between calls (see bot/slack/keepalive.py)."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    handlers = [
        _IdempotentConnectionRetry(
            max_retry_count=retries,
            interval_calculator=interval,
            error_types=[URLError, ConnectionResetError, RemoteDisconnected, TimeoutError],
        ),
        _CountedRateLimitRetry(max_retry_count=retries),
        _IdempotentServerErrorRetry(max_retry_count=retries, interval_calculator=interval),
    ]
    return KeepAliveWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers, logger=logger)


def _retry_after(headers: Any) -> float | None:
    values = {str(key).lower(): value for key, value in dict(headers or {}).items()}
    raw = values.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def is_person(target: str) -> bool:
    """A user id (U…, or W… on Enterprise Grid): chat.postMessage to it lands in the DM with that person."""
    return target[:1] in ("U", "W")


def carried_out_maybe(error: SlackError) -> bool:
    """No answer, or a server error: Slack may or may not have done it."""
    return error.code.startswith("unreachable") or (error.status is not None and error.status >= 500)


def never_sent(exc: BaseException) -> bool:
    """The request never left: the connection was refused or Slack's name did not resolve. (A reset or a timeout
    may come after Slack did the deed.)"""
    reason = getattr(exc, "reason", None)
    cause = reason if isinstance(reason, BaseException) else exc
    return isinstance(cause, (ConnectionRefusedError, socket.gaierror))


class SlackGateway:
    def __init__(self, client: WebClient, bot_user_id: str | None = None) -> None:
        """`bot_user_id`: who the token is, when the caller already asked (start-up does): no second auth.test."""
        self.client = client
        self._bot_user_id: str | None = bot_user_id
        self._group_cache: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._user_cache: dict[str, tuple[float, UserInfo | None]] = {}
        self._refreshing: set[str] = set()
        self._refusals_told: set[tuple[str, str]] = set()  # (where, code) of looks Slack refused, logged once each
        self._lock = threading.Lock()
        # Set by the composition root: how to run a refresh off the caller's thread (a request must not wait on Slack).
        self.refresh_later: Callable[..., None] | None = None

    # -- plumbing -------------------------------------------------------------------------------------------

    def _call(self, method: str, *, headers_out: dict[str, str] | None = None, **args: Any) -> dict[str, Any]:
        """Every Web API call goes through here (`method` is always a name written in this module: a bounded set
        for the metrics). `headers_out`, when given, receives the answer's HTTP headers (names in lower case)."""
        REQUESTS_FIRST.step_aside()
        started = time.perf_counter()
        try:
            response = self.client.api_call(method, json=args) if _sends_json(method) else self.client.api_call(method, params=args)
        except SlackApiError as exc:
            metrics.slack_call(method, metrics.slack_outcome(exc.response.status_code), time.perf_counter() - started)
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            code = data.get("error") or f"http_{exc.response.status_code}"
            raise SlackError(method, str(code), exc.response.status_code, _retry_after(exc.response.headers)) from None
        except (SlackRequestError, URLError, TimeoutError, ConnectionError, RemoteDisconnected) as exc:
            timed_out = isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)
            metrics.slack_call(method, "timeout" if timed_out else "unreachable", time.perf_counter() - started)
            raise SlackError(method, f"unreachable: {type(exc).__name__}", reason=_unreachable_reason(exc)) from None
        metrics.slack_call(method, "ok", time.perf_counter() - started)
        if headers_out is not None:
            headers_out.update({str(name).lower(): str(value) for name, value in dict(response.headers or {}).items()})
        return dict(response.data) if isinstance(response.data, dict) else {}

    # -- identity -------------------------------------------------------------------------------------------

    def bot_user_id(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = self.identify().user_id
        return self._bot_user_id

    def identify(self) -> Identity:
        """auth.test: who the bot is, and the scopes Slack says the token has."""
        headers: dict[str, str] = {}
        answer = self._call("auth.test", headers_out=headers)
        scopes = headers.get("x-oauth-scopes")
        return Identity(str(answer["user_id"]), None if scopes is None else frozenset(s.strip() for s in scopes.split(",") if s.strip()),
                        answer, headers)

    # -- channels -------------------------------------------------------------------------------------------

    def create_channel(self, name: str) -> str:
        return str(self._call("conversations.create", name=name, is_private=False)["channel"]["id"])

    def find_channel_by_name(self, name: str) -> ChannelInfo | None:
        """Walk conversations.list (only on the rare name_taken path) to find a channel we may have made."""
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"types": "public_channel", "exclude_archived": True, "limit": 1000}
            if cursor:
                args["cursor"] = cursor
            data = self._call("conversations.list", **args)
            for channel in data.get("channels", []):
                if channel.get("name") == name:
                    return ChannelInfo(id=channel["id"], name=name, creator=channel.get("creator"))
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    def invite(self, channel_id: str, user_ids: Iterable[str]) -> list[tuple[str, str]]:
        """Invite everyone; returns (user, error) for those Slack refused. Already-members count as done."""
        users = sorted(set(user_ids))
        if not users:
            return []
        try:
            self._call("conversations.invite", channel=channel_id, users=",".join(users))
            return []
        except SlackError as exc:
            if exc.code == "already_in_channel":
                return []
            if exc.code not in PER_USER_INVITE_ERRORS:
                raise
            if len(users) == 1:
                return [(users[0], exc.code)]
        # One bad id fails the whole call: invite one by one so the others still get in.
        refused: list[tuple[str, str]] = []
        for user in users:
            refused.extend(self.invite(channel_id, [user]))
        return refused

    def join(self, channel_id: str) -> None:
        self._call("conversations.join", channel=channel_id)

    def set_topic(self, channel_id: str, topic: str) -> None:
        self._call("conversations.setTopic", channel=channel_id, topic=topic)

    # -- messages -------------------------------------------------------------------------------------------

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None,
             metadata: dict[str, Any] | None = None) -> tuple[str, str]:
        """Post, and return (the conversation's id, the message's ts). `channel` may be a person's user id: the
        message then lands in the DM with them, whose id comes back.

        When Slack does not answer (or answers 5xx), the post may have landed anyway: with `metadata`
        (`{"event_type": …, "event_payload": {…}}`, unique to this post) it looks for it (`locate_posted`) before
        posting again, so a slow Slack never makes a twin. Without metadata the error goes to the caller."""
        args: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False, "unfurl_media": False}
        if metadata is not None:
            args["metadata"] = metadata
        if blocks is not None:
            args["blocks"] = blocks
        if thread_ts:
            args["thread_ts"] = thread_ts
        first_try = time.time()
        for attempt in range(RETRIES + 1):
            try:
                answer = self._call("chat.postMessage", **args)
                return str(answer["channel"]), str(answer["ts"])
            except SlackError as exc:
                if metadata is None or not carried_out_maybe(exc) or attempt == RETRIES:
                    raise
                log.info("chat.postMessage to %s: %s; looking for the post before trying again", channel, exc.code)
                landed = self.locate_posted(channel, metadata, since=first_try - CLOCK_SKEW, thread_ts=thread_ts)
                if landed is not None:
                    return landed
        raise AssertionError("unreachable")  # the loop returns or raises

    def post_message(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None,
                     metadata: dict[str, Any] | None = None) -> str:
        """`post`, for a caller that needs only the message's ts."""
        return self.post(channel, text, blocks, thread_ts, metadata)[1]

    def post_once(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None, *,
                  metadata: dict[str, Any], look: bool, since: float | None = None) -> tuple[str, str, bool]:
        """`post` for work that may be a retry of one that died after Slack took the message (a SIGKILL before the
        ts was stored): with `look`, first find the post by its metadata and adopt it. (conversation id, ts, adopted)."""
        if look:
            landed = self.locate_posted(channel, metadata, since=since, thread_ts=thread_ts)
            if landed is not None:
                return landed[0], landed[1], True
        posted_in, ts = self.post(channel, text, blocks, thread_ts, metadata)
        return posted_in, ts, False

    def open_dm(self, user: str) -> str:
        """The id of the direct-message channel between sevbot and `user` (opened if new; asking again is harmless):
        where a file for one person goes, since an ephemeral message cannot carry one, and where a retried DM looks."""
        return str(self._call("conversations.open", users=user)["channel"]["id"])

    def update_message(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        args: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        self._call("chat.update", **args)

    def pin(self, channel: str, ts: str) -> None:
        try:
            self._call("pins.add", channel=channel, timestamp=ts)
        except SlackError as exc:
            if exc.code != "already_pinned":
                raise

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        self._call("chat.postEphemeral", **args)

    def respond(self, response_url: str, text: str, blocks: list[dict[str, Any]] | None = None, *, replace_original: bool = False) -> bool:
        """Answer the user privately through a slash command's or a click's response_url (no Web API call, no
        membership needed); `replace_original` replaces the private message the click came from.

        False only when the answer surely did not arrive (Slack refused the URL: expired or used up; or nothing
        reached Slack), so the caller may say it another way. A private answer cannot be looked for, so one that may
        have arrived (the connection dropped or timed out after sending) is never sent again: it counts as sent, and
        the log says so."""
        client = KeepAliveWebhookClient(response_url, timeout=10, retry_handlers=[])  # no blind re-send (slack_sdk's default)
        try:
            result = client.send(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace_original)
            return result.status_code == 200
        except (URLError, TimeoutError, ConnectionError) as exc:
            if never_sent(exc):
                log.warning("response_url post failed: %s", _unreachable_reason(exc))
                return False
            log.warning("response_url post unanswered (%s): it may have arrived, so it is not sent again", _unreachable_reason(exc))
            return True

    # -- files: Slack's current upload flow (files.upload is retired) ----------------------------------------

    def upload_file(self, channel_id: str, filename: str, content: bytes, *, title: str, comment: str | None = None) -> str:
        """getUploadURLExternal → POST the bytes → completeUploadExternal, as slack_sdk's files_upload_v2 does."""
        ticket = self._call("files.getUploadURLExternal", filename=filename, length=len(content))
        request = urllib.request.Request(ticket["upload_url"], data=content, method="POST",
                                         headers={"Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status != 200:
                    raise SlackError("files.upload", f"http_{response.status}")
        except (URLError, TimeoutError, ConnectionError) as exc:
            raise SlackError("files.upload", f"unreachable: {type(exc).__name__}") from None
        files = json.dumps([{"id": ticket["file_id"], "title": title}])
        args: dict[str, Any] = {"files": files, "channel_id": channel_id}
        if comment:
            args["initial_comment"] = comment
        self._call("files.completeUploadExternal", **args)
        return str(ticket["file_id"])

    def archive(self, channel_id: str) -> None:
        try:
            self._call("conversations.archive", channel=channel_id)
        except SlackError as exc:
            if exc.code != "already_archived":
                raise

    # -- views ----------------------------------------------------------------------------------------------

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("views.open", trigger_id=trigger_id, view=view)["view"])

    def update_view(self, view_id: str, view: dict[str, Any], view_hash: str | None = None) -> None:
        args: dict[str, Any] = {"view_id": view_id, "view": view}
        if view_hash:
            args["hash"] = view_hash
        self._call("views.update", **args)

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        """Replace what `user_id` sees on sevbot's Home tab (no hash: the newest publish wins)."""
        self._call("views.publish", user_id=user_id, view=view)

    # -- people ---------------------------------------------------------------------------------------------

    def user(self, user_id: str) -> UserInfo | None:
        """Who a user id is (None when Slack has no such user); cached briefly, people rarely change mid-incident."""
        now = time.monotonic()
        with self._lock:
            cached = self._user_cache.get(user_id)
            if cached and now - cached[0] < USERGROUP_CACHE_SECONDS:
                return cached[1]
        try:
            data = self._call("users.info", user=user_id)["user"]
            profile = data.get("profile") or {}
            info: UserInfo | None = UserInfo(id=data["id"], name=data.get("name", ""), deleted=bool(data.get("deleted")), is_bot=bool(data.get("is_bot")),
                                             tz=data.get("tz") or None,
                                             display_name=str(profile.get("display_name") or "").strip(),
                                             real_name=str(profile.get("real_name") or data.get("real_name") or "").strip())
        except SlackError as exc:
            if exc.code != "user_not_found":
                raise
            info = None
        with self._lock:
            self._user_cache[user_id] = (now, info)
        return info

    # -- reading messages (only for the rare pin/reaction; the timeline lives in our database) --------------

    def message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        data = self._call("conversations.history", channel=channel_id, latest=ts, inclusive=True, limit=1)
        messages = [m for m in data.get("messages", []) if m.get("ts") == ts]
        return dict(messages[0]) if messages else None

    def find_by_metadata(self, channel_id: str, event_type: str, key: str, value: Any, *, look_back: int = 100,
                         since: float | None = None, thread_ts: str | None = None) -> str | None:
        """The ts of a message we posted carrying this metadata: how a retried post learns it already landed.

        With `since` (a Unix time the post can't be older than), every message since then is read, page by page, so
        a busy channel can't push the post out of view; without it, the `look_back` newest. With `thread_ts`, the
        look is in that thread (conversations.replies): a channel's history leaves thread replies out."""
        args: dict[str, Any] = {"channel": channel_id, "include_all_metadata": True, "limit": look_back}
        if since is not None:
            args.update(oldest=f"{since:.6f}", limit=200)
        if thread_ts:
            args["ts"] = thread_ts
        for _page in range(HISTORY_PAGES):
            data = self._call("conversations.replies", **args) if thread_ts else self._call("conversations.history", **args)
            for message in data.get("messages", []):
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == event_type and (metadata.get("event_payload") or {}).get(key) == value:
                    return str(message["ts"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if since is None or not cursor:
                return None
            args["cursor"] = cursor
        return None

    def locate_posted(self, target: str, metadata: dict[str, Any], since: float | None = None,
                      thread_ts: str | None = None) -> tuple[str, str] | None:
        """(conversation id, ts) of our recent post carrying exactly this metadata, or None: not there, or Slack says
        we may not look (a private channel without groups:history, a DM without im:history: better a rare repeat than
        a lost message; said once in the log). `target` may be a person's user id, as for `post`: the look is then in
        the DM with them (conversations.open gives its id). When the look goes unanswered or is rate-limited, that
        SlackError is raised: posting blind then could make the twin we look for. A reply in a thread (`thread_ts`)
        is looked for in that thread."""
        payload = metadata.get("event_payload") or {}
        if not payload:
            return None
        key, value = next(iter(payload.items()))
        try:
            channel = self.open_dm(target) if is_person(target) else target
            ts = self.find_by_metadata(channel, str(metadata["event_type"]), key, value, since=since, thread_ts=thread_ts)
        except SlackError as exc:
            if carried_out_maybe(exc) or exc.rate_limited:
                raise
            self._cannot_look(target, exc.code)
            return None
        return (channel, ts) if ts is not None else None

    def find_posted(self, channel_id: str, metadata: dict[str, Any], since: float | None = None) -> str | None:
        """`locate_posted`, for a caller that needs only the message's ts."""
        found = self.locate_posted(channel_id, metadata, since)
        return found[1] if found is not None else None

    def _cannot_look(self, target: str, code: str) -> None:
        where = "a DM" if is_person(target) else "a channel"
        with self._lock:
            first = (where, code) not in self._refusals_told
            self._refusals_told.add((where, code))
        if first:  # the same refusal every retry says nothing new (a scope is missing until the app is reinstalled)
            log.warning("cannot look in %s for an earlier post (%s): retried posts there are sent without looking%s", where,
                        code, " (add im:history to the app's scopes)" if where == "a DM" and code == "missing_scope" else "")
        else:
            log.debug("cannot look in %s (%s) for an earlier post", target, code)

    def permalink(self, channel_id: str, ts: str) -> str:
        return str(self._call("chat.getPermalink", channel=channel_id, message_ts=ts)["permalink"])

    def usergroup_members(self, group_id: str) -> tuple[str, ...]:
        """Members of a user group, cached for a few minutes: responders rarely change mid-incident.

        Once a group is known, an expired entry is answered from the older list while a refresh runs in the
        background (when `refresh_later` is set): a permission check on the request path never waits for Slack.
        Groups the policy names are looked up at start."""
        now = time.monotonic()
        with self._lock:
            cached = self._group_cache.get(group_id)
            if cached and now - cached[0] < USERGROUP_CACHE_SECONDS:
                return cached[1]
            stale_ok = cached is not None and self.refresh_later is not None
            if stale_ok and group_id not in self._refreshing:
                self._refreshing.add(group_id)
                assert self.refresh_later is not None
                self.refresh_later(self._refresh_group, group_id)
        if stale_ok:
            assert cached is not None
            return cached[1]
        return self._refresh_group(group_id)

    def set_usergroup_members(self, group_id: str, user_ids: list[str]) -> None:
        """Make the group's members exactly these (an on-call group follows the schedule); the cache learns it too."""
        answer = self._call("usergroups.users.update", usergroup=group_id, users=",".join(user_ids))
        users = tuple((answer.get("usergroup") or {}).get("users") or user_ids)
        with self._lock:
            self._group_cache[group_id] = (time.monotonic(), users)

    def _refresh_group(self, group_id: str) -> tuple[str, ...]:
        try:
            users = tuple(self._call("usergroups.users.list", usergroup=group_id).get("users", []))
            with self._lock:
                self._group_cache[group_id] = (time.monotonic(), users)
            return users
        finally:
            with self._lock:
                self._refreshing.discard(group_id)


_JSON_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.push",
                           "views.publish"})


def _sends_json(method: str) -> bool:
    # Block Kit payloads are nested JSON; everything else goes form-encoded as slack_sdk does.
    return method in _JSON_METHODS
