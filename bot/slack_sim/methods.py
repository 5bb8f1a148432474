"""One function per Web API method, acting on the Workspace and answering in Slack's JSON shapes.

Each function takes (ctx, args) and returns the response dict, or raises SlackError(code), which the
server turns into `{"ok": false, "error": code}` with HTTP 200, exactly as Slack does.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from .state import (APP_ID, BOT_ID, BOT_SCOPES, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Channel, Ephemeral, Message,
                    UploadedFile, View, Workspace)

TRIGGER_TTL_S = 3.0
MAX_VIEW_STACK = 3


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Ctx:
    ws: Workspace
    base_url: str  # e.g. http://127.0.0.1:PORT/ — used for upload and response URLs
    user_id: str = BOT_USER_ID  # whose token made the call
    scopes: frozenset[str] = BOT_SCOPES  # what that token was granted


def require_scope(ctx: Ctx, needed: str) -> None:
    """Slack's answer to a token without the scope a call needs (the body names both sides)."""
    if needed not in ctx.scopes:
        raise SlackError("missing_scope", needed=needed, provided=",".join(sorted(ctx.scopes)))


def history_scope(ch: Channel) -> str:
    """Reading a conversation's history needs the scope of its type (docs.slack.dev: conversations.history)."""
    return "im:history" if ch.is_im else "groups:history" if ch.is_private else "channels:history"


Handler = Callable[[Ctx, dict[str, Any]], dict[str, Any]]
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        METHODS[name] = fn
        return fn
    return register


# ---- argument helpers -----------------------------------------------------------------------
def json_arg(value: Any) -> Any:
    """blocks/view/files arrive as a JSON string (form-encoded) or already decoded (JSON body)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["could not parse JSON"]})
    return value


def bool_arg(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true")


def int_arg(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def paginate(items: list[Any], args: dict[str, Any], default_limit: int = 100) -> tuple[list[Any], str]:
    """Slack's cursor pagination; the cursor is opaque to clients, here 'offset:N'."""
    limit = max(1, min(int_arg(args.get("limit"), default_limit) or default_limit, 1000))
    cursor = args.get("cursor") or ""
    start = 0
    if cursor:
        m = re.fullmatch(r"offset:(\d+)", str(cursor))
        if not m:
            raise SlackError("invalid_cursor")
        start = int(m.group(1))
    page = items[start:start + limit]
    nxt = f"offset:{start + limit}" if start + limit < len(items) else ""
    return page, nxt


def channel_or_fail(ws: Workspace, channel_id: Any) -> Channel:
    ch = ws.channels.get(str(channel_id or ""))
    if ch is None:
        raise SlackError("channel_not_found")
    return ch


def resolve_post_target(ctx: Ctx, channel: Any) -> Channel:
    """chat.postMessage accepts a channel id, a #name, or a user id (posts to that user's DM)."""
    ws, cid = ctx.ws, str(channel or "")
    if cid in ws.channels:
        return ws.channels[cid]
    if cid.startswith(("U", "W")) and cid in ws.users:
        if ws.users[cid].deleted:
            raise SlackError("channel_not_found")
        return ws.dm_channel(cid, create=True)  # type: ignore[return-value]
    by_name = ws.channel_by_name(cid)
    if by_name:
        return by_name
    raise SlackError("channel_not_found")


# ---- auth -----------------------------------------------------------------------------------
@method("auth.test")
def auth_test(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "url": f"https://{TEAM_DOMAIN}.slack.com/", "team": "sevbot sim", "user": "sevbot",
            "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}


# ---- conversations --------------------------------------------------------------------------
NAME_OK = re.compile(r"^[a-z0-9_\-]+$")


@method("conversations.create")
def conversations_create(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws, name = ctx.ws, str(args.get("name") or "")
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not NAME_OK.match(name):
        raise SlackError("invalid_name_specials")
    if not re.search(r"[a-z0-9]", name):
        raise SlackError("invalid_name_punctuation")
    with ws.lock:
        if any(c.name == name for c in ws.channels.values() if not c.is_im):
            raise SlackError("name_taken")
        is_private = bool_arg(args.get("is_private"))
        ch = Channel(ws.new_id("C"), name, is_private=is_private, created=int(ws.clock()),
                     creator=ctx.user_id, members={ctx.user_id})
        ws.channels[ch.id] = ch
        return {"ok": True, "channel": ch.to_api(ctx.user_id)}


@method("conversations.invite")
def conversations_invite(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        ch = channel_or_fail(ws, args.get("channel"))
        if ch.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if ch.is_archived:
            raise SlackError("is_archived")
        if ctx.user_id not in ch.members:
            raise SlackError("not_in_channel")
        ids = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not ids:
            raise SlackError("no_user")
        if len(ids) > 1000:
            raise SlackError("too_many_users")
        for uid in ids:
            if uid == ctx.user_id:
                raise SlackError("cant_invite_self")
            user = ws.users.get(uid)
            if user is None:
                raise SlackError("user_not_found")
            if user.deleted:
                # Slack documents no deactivation-specific code for this method; `cant_invite`
                # ("User cannot be invited to this channel") is what it answers.
                raise SlackError("cant_invite")
        new = [u for u in ids if u not in ch.members]
        if not new:
            raise SlackError("already_in_channel")
        ch.members.update(new)
        return {"ok": True, "channel": ch.to_api(ctx.user_id)}


@method("conversations.setTopic")
def conversations_set_topic(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        ch = channel_or_fail(ws, args.get("channel"))
        topic = str(args.get("topic") or "")
        if ch.is_archived:
            raise SlackError("is_archived")
        if ctx.user_id not in ch.members:
            raise SlackError("not_in_channel")
        if len(topic) > 250:
            raise SlackError("too_long")
        ch.topic = topic
        return {"ok": True, "channel": ch.to_api(ctx.user_id)}


@method("conversations.setPurpose")
def conversations_set_purpose(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        ch = channel_or_fail(ws, args.get("channel"))
        if ctx.user_id not in ch.members:
            raise SlackError("not_in_channel")
        purpose = str(args.get("purpose") or "")
        if len(purpose) > 250:
            raise SlackError("too_long")
        ch.purpose = purpose
        return {"ok": True, "channel": ch.to_api(ctx.user_id)}


@method("conversations.info")
def conversations_info(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch = channel_or_fail(ctx.ws, args.get("channel"))
        if ch.is_private and ctx.user_id not in ch.members:
            raise SlackError("channel_not_found")
        return {"ok": True, "channel": ch.to_api(ctx.user_id)}


@method("conversations.history")
def conversations_history(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """Newest first, bounded by `latest`/`oldest` (exclusive unless `inclusive`), as Slack pages it; thread replies
    are not in a channel's history (conversations.replies reads them)."""
    ch = _readable(ctx, args)
    within = _window(args)
    found = [m for m in reversed(ctx.ws.messages(ch.id)) if m.thread_ts in (None, m.ts) and within(float(m.ts))]
    return _message_page(found, args)


@method("conversations.replies")
def conversations_replies(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """A thread: its parent first, then the replies oldest first, bounded as history is."""
    ch = _readable(ctx, args)
    parent = ctx.ws.find_message(ch.id, str(args.get("ts") or ""))
    if parent is None:
        raise SlackError("thread_not_found")
    within = _window(args)
    replies = [m for m in ctx.ws.messages(ch.id) if m.thread_ts == parent.ts and m.ts != parent.ts and within(float(m.ts))]
    return _message_page([parent, *replies], args)


def _readable(ctx: Ctx, args: dict[str, Any]) -> Channel:
    with ctx.ws.lock:
        ch = channel_or_fail(ctx.ws, args.get("channel"))
        require_scope(ctx, history_scope(ch))
        if ctx.user_id not in ch.members:
            raise SlackError("not_in_channel")
    return ch


def _window(args: dict[str, Any]) -> Callable[[float], bool]:
    """`latest`/`oldest` bounds, exclusive unless `inclusive`."""
    inclusive = bool_arg(args.get("inclusive"))
    latest = float(args["latest"]) if args.get("latest") else None
    oldest = float(args["oldest"]) if args.get("oldest") else None

    def within(ts: float) -> bool:
        if latest is not None and (ts > latest or (ts == latest and not inclusive)):
            return False
        if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
            return False
        return True
    return within


def _message_page(found: list[Message], args: dict[str, Any]) -> dict[str, Any]:
    page, cursor = paginate(found, args)
    # As Slack does: a message's metadata comes back only when asked for.
    with_metadata = bool_arg(args.get("include_all_metadata"))
    messages = [m.to_api() if with_metadata else {k: v for k, v in m.to_api().items() if k != "metadata"} for m in page]
    return {"ok": True, "messages": messages, "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor}}


@method("conversations.list")
def conversations_list(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    types = set(str(args.get("types") or "public_channel").split(","))
    exclude_archived = bool_arg(args.get("exclude_archived"))
    with ws.lock:
        chans = []
        for c in ws.channels.values():
            kind = "im" if c.is_im else "private_channel" if c.is_private else "public_channel"
            if kind not in types or (exclude_archived and c.is_archived):
                continue
            if kind != "public_channel" and ctx.user_id not in c.members:
                continue  # private conversations are visible only to members
            chans.append(c.to_api(ctx.user_id))
    page, nxt = paginate(chans, args)
    return {"ok": True, "channels": page, "response_metadata": {"next_cursor": nxt}}


@method("conversations.members")
def conversations_members(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch = channel_or_fail(ctx.ws, args.get("channel"))
        members = sorted(ch.members)
    page, nxt = paginate(members, args)
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": nxt}}


@method("conversations.open")
def conversations_open(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    if args.get("channel"):
        ch = channel_or_fail(ws, args.get("channel"))
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": ch.id}}
    ids = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
    if not ids:
        raise SlackError("users_list_not_supplied")
    if len(ids) > 1:
        raise SlackError("method_not_supported_for_channel_type")  # group DMs are not simulated
    with ws.lock:
        user = ws.users.get(ids[0])
        if user is None:
            raise SlackError("user_not_found")
        if user.deleted:
            raise SlackError("user_disabled")
        existing = ws.dm_channel(user.id)
        ch = existing or ws.dm_channel(user.id, create=True)
        assert ch is not None
        body: dict[str, Any] = {"ok": True, "channel": ch.to_api() if bool_arg(args.get("return_im")) else {"id": ch.id}}
        if existing:
            body.update(no_op=True, already_open=True)
        return body


@method("conversations.join")
def conversations_join(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch = channel_or_fail(ctx.ws, args.get("channel"))
        if ch.is_im or ch.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        if ch.is_archived:
            raise SlackError("is_archived")
        already = ctx.user_id in ch.members
        ch.members.add(ctx.user_id)
        body: dict[str, Any] = {"ok": True, "channel": ch.to_api()}
        if already:
            body["warning"] = "already_in_channel"
        return body


@method("conversations.archive")
def conversations_archive(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch = channel_or_fail(ctx.ws, args.get("channel"))
        if ch.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if ch.is_archived:
            raise SlackError("already_archived")
        if ch.name == "general":
            raise SlackError("cant_archive_general")
        if ctx.user_id not in ch.members:
            raise SlackError("not_in_channel")
        ch.is_archived = True
        return {"ok": True}


# ---- chat -----------------------------------------------------------------------------------
def _blocks(args: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Decoded blocks, with a block_id on every block: Slack fills in missing ones when it stores a
    message, and the driver needs them to build block_actions payloads."""
    raw = args.get("blocks")
    if raw in (None, ""):
        return None
    blocks = copy.deepcopy(json_arg(raw))  # never mutate the recorded request
    for i, b in enumerate(blocks):
        if isinstance(b, dict) and "block_id" not in b:
            b["block_id"] = f"sim{i:02d}"
    return blocks


def _postable(ctx: Ctx, args: dict[str, Any]) -> Channel:
    ch = resolve_post_target(ctx, args.get("channel"))
    if ch.is_archived:
        raise SlackError("is_archived")
    if not ch.is_im and ctx.user_id not in ch.members:
        raise SlackError("not_in_channel")
    return ch


@method("chat.postMessage")
def chat_post_message(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        ch = _postable(ctx, args)
        blocks = _blocks(args)
        text = args.get("text") or ""
        if not text and not blocks and not args.get("attachments") and not args.get("markdown_text"):
            raise SlackError("no_text")
        thread_ts = args.get("thread_ts") or None
        if thread_ts and ws.find_message(ch.id, str(thread_ts)) is None:
            raise SlackError("thread_not_found")
        meta = json_arg(args["metadata"]) if args.get("metadata") else None
        msg = ws.add_message(Message(ws.new_ts(), ch.id, ctx.user_id, text or args.get("markdown_text") or "",
                                     blocks or [], thread_ts=thread_ts, metadata=meta))
        return {"ok": True, "channel": ch.id, "ts": msg.ts, "message": msg.to_api()}


@method("chat.update")
def chat_update(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        ch = channel_or_fail(ws, args.get("channel"))
        msg = ws.find_message(ch.id, str(args.get("ts") or ""))
        if msg is None:
            raise SlackError("message_not_found")
        if msg.user != ctx.user_id:
            raise SlackError("cant_update_message")
        blocks = _blocks(args)
        # Slack keeps the old blocks/text when the argument is absent; [] clears the blocks.
        if blocks is not None:
            msg.blocks = blocks
        if "text" in args and args["text"] is not None:
            msg.text = str(args["text"])
        if not msg.text and not msg.blocks:
            raise SlackError("no_text")
        if args.get("metadata"):
            msg.metadata = json_arg(args["metadata"])
        msg.edited_ts = ws.new_ts()
        return {"ok": True, "channel": ch.id, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}


@method("chat.postEphemeral")
def chat_post_ephemeral(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        ch = resolve_post_target(ctx, args.get("channel"))
        if ch.is_archived:
            raise SlackError("is_archived")
        user = str(args.get("user") or "")
        if user not in ch.members:
            raise SlackError("user_not_in_channel")
        blocks = _blocks(args) or []
        text = str(args.get("text") or "")
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        ts = ws.new_ts()
        ws.ephemerals.append(Ephemeral(ch.id, user, text, blocks, ts))
        return {"ok": True, "message_ts": ts}


@method("chat.getPermalink")
def chat_get_permalink(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch = channel_or_fail(ctx.ws, args.get("channel"))
        ts = str(args.get("message_ts") or "")
        if ctx.ws.find_message(ch.id, ts) is None:
            raise SlackError("message_not_found")
    return {"ok": True, "channel": ch.id,
            "permalink": f"https://sim.slack.local/archives/{ch.id}/p{ts.replace('.', '')}"}


# ---- pins & reactions -----------------------------------------------------------------------
def _message_arg(ctx: Ctx, args: dict[str, Any]) -> tuple[Channel, Message]:
    ch = channel_or_fail(ctx.ws, args.get("channel"))
    ts = args.get("timestamp")
    if not ts:
        raise SlackError("no_item_specified")
    msg = ctx.ws.find_message(ch.id, str(ts))
    if msg is None:
        raise SlackError("message_not_found")
    return ch, msg


@method("pins.add")
def pins_add(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch, msg = _message_arg(ctx, args)
        pins = ctx.ws.pins_mut(ch.id)
        if msg.ts in pins:
            raise SlackError("already_pinned")
        pins.append(msg.ts)
    return {"ok": True}


@method("pins.remove")
def pins_remove(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch, msg = _message_arg(ctx, args)
        pins = ctx.ws.pins_mut(ch.id)
        if msg.ts not in pins:
            raise SlackError("not_pinned")
        pins.remove(msg.ts)
    return {"ok": True}


@method("pins.list")
def pins_list(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        ch = channel_or_fail(ctx.ws, args.get("channel"))
        items = []
        for ts in ctx.ws.pins(ch.id):
            m = ctx.ws.find_message(ch.id, ts)
            if m:
                items.append({"type": "message", "channel": ch.id, "created": int(float(ts)),
                              "created_by": ctx.user_id, "message": m.to_api()})
    return {"ok": True, "items": items}


@method("reactions.add")
def reactions_add(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.ws.lock:
        _, msg = _message_arg(ctx, args)
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        users = msg.reactions.setdefault(name, [])
        if ctx.user_id in users:
            raise SlackError("already_reacted")
        users.append(ctx.user_id)
    return {"ok": True}


# ---- users ----------------------------------------------------------------------------------
@method("users.info")
def users_info(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    user = ctx.ws.users.get(str(args.get("user") or ""))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user.to_api()}


@method("users.list")
def users_list(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    members = [u.to_api() for u in ctx.ws.users.values()]
    page, nxt = paginate(members, args, default_limit=1000)
    return {"ok": True, "members": page, "cache_ts": int(ctx.ws.clock()), "response_metadata": {"next_cursor": nxt}}


@method("usergroups.users.list")
def usergroups_users_list(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    group = ctx.ws.usergroups.get(str(args.get("usergroup") or ""))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


@method("usergroups.users.update")
def usergroups_users_update(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """Replaces the group's whole member list (the spec: "the entire list of users"); Slack refuses bots and unknown
    or deactivated users, and an empty list (a group keeps at least one member)."""
    ws = ctx.ws
    with ws.lock:
        group = ws.usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackError("no_such_subteam")
        ids = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not ids:
            raise SlackError("invalid_users")
        for uid in ids:
            user = ws.users.get(uid)
            if user is None or user.deleted:
                raise SlackError("invalid_users")
            if user.is_bot:
                raise SlackError("user_is_bot")
        group.users = list(dict.fromkeys(ids))
        answer: dict[str, Any] = {"id": group.id, "team_id": TEAM_ID, "is_usergroup": True, "name": group.name,
                                  "handle": group.handle, "users": list(group.users), "date_update": int(ws.clock())}
        if bool_arg(args.get("include_count")):
            answer["user_count"] = len(group.users)
        return {"ok": True, "usergroup": answer}


# ---- views ----------------------------------------------------------------------------------
def _exchange_trigger(ctx: Ctx, trigger_id: Any) -> None:
    """trigger_ids are single use and live 3 s (Slack's rule that forces 'open the modal first')."""
    ws = ctx.ws
    trig = ws.triggers.get(str(trigger_id or ""))
    if trig is None:
        raise SlackError("invalid_trigger_id")
    if trig.used:
        # Slack's docs list `exchanged_trigger_id` ("trigger_id has already been used").
        raise SlackError("exchanged_trigger_id")
    if ws.clock() - trig.issued_at > TRIGGER_TTL_S:
        raise SlackError("expired_trigger_id")
    trig.used = True


def _new_hash(ws: Workspace) -> str:
    return f"{int(ws.clock())}.{ws.new_id('')[3:]}"


def _trigger_user(ctx: Ctx, trigger_id: str) -> str:
    trig = ctx.ws.triggers.get(trigger_id)
    return trig.user_id if trig else ""


@method("views.open")
def views_open(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        view = json_arg(args.get("view"))
        ext = view.get("external_id") if isinstance(view, dict) else None
        if ext and any(v.external_id == ext for v in ws.views.values()):
            raise SlackError("duplicate_external_id")
        _exchange_trigger(ctx, args.get("trigger_id"))
        vid = ws.new_id("V")
        v = View(vid, _new_hash(ws), view, _trigger_user(ctx, str(args.get("trigger_id"))), vid, external_id=ext)
        ws.views[vid] = v
        return {"ok": True, "view": v.to_api()}


@method("views.push")
def views_push(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        view = json_arg(args.get("view"))
        _exchange_trigger(ctx, args.get("trigger_id"))
        user = _trigger_user(ctx, str(args.get("trigger_id")))
        stack = [v for v in ws.views.values() if not v.closed and (not user or v.user_id == user)]
        top = stack[-1] if stack else None
        if top is not None and len([v for v in stack if v.root_view_id == top.root_view_id]) >= MAX_VIEW_STACK:
            raise SlackError("push_limit_reached")
        vid = ws.new_id("V")
        v = View(vid, _new_hash(ws), view, user or (top.user_id if top else ""),
                 top.root_view_id if top else vid, previous_view_id=top.id if top else None,
                 external_id=view.get("external_id") if isinstance(view, dict) else None)
        ws.views[vid] = v
        return {"ok": True, "view": v.to_api()}


@method("views.update")
def views_update(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    with ws.lock:
        view = json_arg(args.get("view"))
        vid, ext = args.get("view_id"), args.get("external_id")
        if not vid and not ext:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["view_id or external_id required"]})
        target = ws.views.get(str(vid)) if vid else next(
            (v for v in ws.views.values() if v.external_id == ext), None)
        if target is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != target.hash:
            raise SlackError("hash_conflict")
        target.view = view
        target.hash = _new_hash(ws)
        if isinstance(view, dict) and view.get("external_id"):
            target.external_id = view["external_id"]
        return {"ok": True, "view": target.to_api()}


@method("views.publish")
def views_publish(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """A user's Home tab: one view per user, replaced by each publish (`hash` guards against a lost update)."""
    ws = ctx.ws
    with ws.lock:
        view = json_arg(args.get("view"))
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["view.type must be home"]})
        user = ws.users.get(str(args.get("user_id") or ""))
        if user is None or user.deleted or user.is_bot:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["user_id is not a person here"]})
        if len(json.dumps(view)) > 250_000:
            raise SlackError("view_too_large")
        current = ws.home_views.get(user.id)
        if args.get("hash") and (current is None or args["hash"] != current.hash):
            raise SlackError("hash_conflict")
        vid = current.id if current is not None else ws.new_id("V")
        published = View(vid, _new_hash(ws), view, user.id, vid, external_id=view.get("external_id") or None)
        ws.home_views[user.id] = published
        return {"ok": True, "view": published.to_api()}


# ---- files (upload v2) ----------------------------------------------------------------------
@method("files.getUploadURLExternal")
def files_get_upload_url_external(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    length = int_arg(args.get("length"), 0)
    if length <= 0:
        raise SlackError("missing_argument")
    with ctx.ws.lock:
        fid = ctx.ws.new_id("F")
        ctx.ws.files[fid] = UploadedFile(fid, str(args.get("filename") or ""), length)
    return {"ok": True, "upload_url": f"{ctx.base_url}upload/{fid}", "file_id": fid}


@method("files.completeUploadExternal")
def files_complete_upload_external(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ws = ctx.ws
    entries = json_arg(args.get("files"))
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["files must be a non-empty array"]})
    with ws.lock:
        files: list[UploadedFile] = []
        for e in entries:
            f = ws.files.get(str(e.get("id")))
            if f is None or f.content is None:
                raise SlackError("file_not_found")
            f.title = e.get("title") or f.filename
            files.append(f)
        targets = [c for c in ([args.get("channel_id")] if args.get("channel_id") else [])
                   + str(args.get("channels") or "").split(",") if c]
        chans = [_postable(ctx, {"channel": c}) for c in targets]
        for f in files:
            f.completed = True
        for ch in chans:
            # The file share appears as a message from the uploader carrying the files.
            ws.add_message(Message(ws.new_ts(), ch.id, ctx.user_id, str(args.get("initial_comment") or ""),
                                   [] if args.get("initial_comment") else (_blocks(args) or []),
                                   thread_ts=args.get("thread_ts") or None, files=[f.to_api() for f in files]))
        return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in files]}


def call(ctx: Ctx, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run a method; SlackError becomes Slack's error body."""
    fn = METHODS.get(name)
    if fn is None:
        return {"ok": False, "error": "unknown_method", "req_method": name}
    try:
        return fn(ctx, args)
    except SlackError as e:
        return {"ok": False, "error": e.error, **e.extra}


__all__ = ["METHODS", "Ctx", "SlackError", "call", "APP_ID"]
