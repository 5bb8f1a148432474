"""SlackDriver: plays Slack's side towards the bot — signed slash commands, button clicks, modal
submissions and Events API callbacks, built from what the simulator actually stores, so a test can
only click a button the bot really posted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .server import SlackSimulator
from .state import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Message, View

VERIFICATION_TOKEN = "sim-verification-token"  # the legacy token Slack still puts in payloads


@dataclass
class DriverResponse:
    status: int
    headers: dict[str, str]
    text: str
    elapsed: float = 0.0
    payload: dict[str, Any] | None = field(default=None, repr=False)  # what the driver sent

    def json(self) -> Any:
        return json.loads(self.text) if self.text.strip() else None


def _find_element(blocks: list[dict[str, Any]], action_id: str,
                  block_id: str | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(block, element) for an interactive element anywhere in the blocks."""
    for b in blocks:
        if block_id is not None and b.get("block_id") != block_id:
            continue
        candidates = list(b.get("elements") or []) if b.get("type") == "actions" else []
        for key in ("accessory", "element"):
            if isinstance(b.get(key), dict):
                candidates.append(b[key])
        for el in candidates:
            if isinstance(el, dict) and el.get("action_id") == action_id:
                return b, el
    return None


def _options(el: dict[str, Any]) -> list[dict[str, Any]]:
    opts = list(el.get("options") or [])
    for g in el.get("option_groups") or []:
        opts += g.get("options") or []
    return opts


def _option(el: dict[str, Any], value: str) -> dict[str, Any]:
    for o in _options(el):
        if o.get("value") == value:
            return o
    raise AssertionError(f"{el.get('type')} {el.get('action_id')!r} has no option with value {value!r}; "
                         f"options: {[o.get('value') for o in _options(el)]}")


def state_value(el: dict[str, Any], value: Any) -> dict[str, Any]:
    """One entry of view.state.values in the exact shape Slack sends for this element type."""
    kind = el.get("type", "")
    out: dict[str, Any] = {"type": kind}
    if kind in ("static_select", "radio_buttons", "external_select"):
        out["selected_option"] = None if value is None else _option(el, value) if kind != "external_select" \
            else {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
    elif kind in ("multi_static_select", "checkboxes"):
        out["selected_options"] = [_option(el, v) for v in (value or [])]
    elif kind == "users_select":
        out["selected_user"] = value
    elif kind == "multi_users_select":
        out["selected_users"] = list(value or [])
    elif kind == "conversations_select":
        out["selected_conversation"] = value
    elif kind == "multi_conversations_select":
        out["selected_conversations"] = list(value or [])
    elif kind == "channels_select":
        out["selected_channel"] = value
    elif kind == "multi_channels_select":
        out["selected_channels"] = list(value or [])
    elif kind == "datepicker":
        out["selected_date"] = value
    elif kind == "timepicker":
        out["selected_time"] = value
    elif kind == "datetimepicker":
        out["selected_date_time"] = value
    else:  # plain_text_input, number_input, email_text_input, url_text_input
        out["value"] = value
    return out


class SlackDriver:
    def __init__(self, sim: SlackSimulator, bot_url: str, signing_secret: str, *, timeout: float = 10.0) -> None:
        self.sim = sim
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.timeout = timeout
        self._event_seq = 0

    # ---- transport -----------------------------------------------------------------------
    def sign(self, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
        """Slack's v0 signature: HMAC-SHA256 over 'v0:{timestamp}:{body}' with the signing secret."""
        raw = body.encode() if isinstance(body, str) else body
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(self.signing_secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}

    def send_raw(self, body: bytes, headers: dict[str, str]) -> DriverResponse:
        req = urllib.request.Request(self.bot_url, data=body, headers=headers, method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - local URL
                text = resp.read().decode("utf-8", "replace")
                return DriverResponse(resp.status, dict(resp.headers), text, time.monotonic() - started)
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            return DriverResponse(e.code, dict(e.headers or {}), text, time.monotonic() - started)

    def _post_form(self, fields: dict[str, str], extra_headers: dict[str, str] | None = None) -> DriverResponse:
        body = urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self.sign(body), **(extra_headers or {})}
        return self.send_raw(body, headers)

    def _post_payload(self, payload: dict[str, Any]) -> DriverResponse:
        resp = self._post_form({"payload": json.dumps(payload)})
        resp.payload = payload
        return resp

    # ---- helpers -------------------------------------------------------------------------
    def _user(self, user_id: str) -> dict[str, Any]:
        u = self.sim.workspace.users.get(user_id)
        assert u is not None, f"no such user {user_id} in the simulated workspace"
        return {"id": u.id, "username": u.name, "name": u.name, "team_id": TEAM_ID}

    def _channel_name(self, channel_id: str) -> str:
        ch = self.sim.workspace.channels.get(channel_id)
        if ch is None:
            return ""
        return "directmessage" if ch.is_im else ch.name

    def _team(self) -> dict[str, str]:
        return {"id": TEAM_ID, "domain": TEAM_DOMAIN}

    # ---- slash commands ------------------------------------------------------------------
    def slash_command(self, user_id: str, text: str, channel_id: str = "C0GENERAL",
                      command: str = "/incident") -> DriverResponse:
        fields = self._slash_fields(user_id, text, channel_id, command)
        resp = self._post_form(fields)
        resp.payload = fields
        return resp

    def socket_slash_command(self, user_id: str, text: str, channel_id: str = "C0GENERAL",
                             command: str = "/incident", timeout: float = 5.0) -> dict[str, Any] | None:
        """The same command delivered as Socket Mode does: an envelope over the app's WebSocket. Returns the app's
        acknowledgement (its `payload` is what an HTTP app would have answered), or None if it never acked."""
        session = self.sim.wait_for_socket(timeout)
        assert session is not None, "no Socket Mode connection: is the app running with SLACK_APP_TOKEN?"
        return session.send_envelope("slash_commands", self._slash_fields(user_id, text, channel_id, command), timeout)

    def _slash_fields(self, user_id: str, text: str, channel_id: str, command: str) -> dict[str, str]:
        u = self._user(user_id)
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": u["name"],
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.sim.issue_response_url(channel_id, user_id),
            "trigger_id": self.sim.issue_trigger(user_id),
        }

    # ---- interactivity -------------------------------------------------------------------
    def click(self, user_id: str, channel_id: str, message_ts: str, action_id: str, value: str | None = None,
              *, block_id: str | None = None) -> DriverResponse:
        """Click a button (or pick an option of a select/overflow) in a message the bot posted."""
        ws = self.sim.workspace
        msg: Message | None = ws.find_message(channel_id, message_ts)
        assert msg is not None, f"no message {message_ts} in {channel_id}"
        found = _find_element(msg.blocks, action_id, block_id)
        assert found is not None, (f"message {message_ts} has no element with action_id {action_id!r}; "
                                   f"it has {self._action_ids(msg.blocks)}")
        block, el = found
        action = self._action(block, el, action_id, value)
        payload = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                          "is_ephemeral": False},
            "trigger_id": self.sim.issue_trigger(user_id),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "message": msg.to_api(),
            "state": {"values": {}},
            "response_url": self.sim.issue_response_url(channel_id, user_id, message_ts),
            "actions": [action],
        }
        return self._post_payload(payload)

    def click_ephemeral(self, user_id: str, channel_id: str, message_ts: str, action_id: str,
                        value: str | None = None, *, block_id: str | None = None) -> DriverResponse:
        """Click an element of an ephemeral message shown to `user_id` (Slack sends no `message` for these)."""
        ws = self.sim.workspace
        with ws.lock:
            eph = next((e for e in ws.ephemerals if e.channel == channel_id and e.user == user_id
                        and e.message_ts == message_ts and not e.deleted), None)
            assert eph is not None, f"no ephemeral {message_ts} for {user_id} in {channel_id}"
            found = _find_element(eph.blocks, action_id, block_id)
            assert found is not None, f"ephemeral {message_ts} has no element with action_id {action_id!r}"
        block, el = found
        action = self._action(block, el, action_id, value)
        payload = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": True},
            "trigger_id": self.sim.issue_trigger(user_id),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "state": {"values": {}},
            "response_url": self.sim.issue_response_url(channel_id, user_id, message_ts),
            "actions": [action],
        }
        return self._post_payload(payload)

    def message_shortcut(self, user_id: str, channel_id: str, message_ts: str, callback_id: str) -> DriverResponse:
        """Use a message shortcut (the message's ⋮ menu) on a stored message, thread replies included: Slack sends a
        `message_action` payload with the whole message and a response_url for private answers."""
        msg: Message | None = self.sim.workspace.find_message(channel_id, message_ts)
        assert msg is not None, f"no message {message_ts} in {channel_id}"
        payload = {
            "type": "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": self.sim.workspace.new_ts(),
            "team": self._team(),
            "user": self._user(user_id),
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.sim.issue_trigger(user_id),
            "response_url": self.sim.issue_response_url(channel_id, user_id),
            "message_ts": message_ts,
            "message": msg.to_api(),
        }
        return self._post_payload(payload)

    def _action(self, block: dict[str, Any], el: dict[str, Any], action_id: str, value: Any) -> dict[str, Any]:
        action: dict[str, Any] = {"action_id": action_id, "block_id": block.get("block_id"),
                                  "type": el.get("type"), "action_ts": self.sim.workspace.new_ts()}
        if el.get("type") == "button":
            action["text"] = el.get("text")
            action["value"] = value if value is not None else el.get("value")
            if action["value"] is None:
                del action["value"]  # Slack omits value for buttons that have none
            if el.get("style"):
                action["style"] = el["style"]
        elif el.get("type") in ("static_select", "overflow"):
            assert value is not None, f"{el.get('type')} needs the option value to pick"
            action["selected_option"] = _option(el, value)
        else:
            action.update({k: v for k, v in state_value(el, value).items() if k != "type"})
        return action

    @staticmethod
    def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
        ids = []
        for b in blocks:
            for el in (b.get("elements") or []) + [b.get("accessory") or {}, b.get("element") or {}]:
                if isinstance(el, dict) and el.get("action_id"):
                    ids.append(el["action_id"])
        return ids

    def _view(self, view_id: str) -> View:
        v = self.sim.workspace.views.get(view_id)
        assert v is not None, f"no view {view_id}; open views: {list(self.sim.workspace.views)}"
        return v

    def home_view(self, user_id: str) -> View | None:
        """What `user_id` sees on the app's Home tab: the last view the bot published for them, or None."""
        with self.sim.workspace.lock:
            return self.sim.workspace.home_views.get(user_id)

    def click_home(self, user_id: str, action_id: str, value: str | None = None, *,
                   block_id: str | None = None) -> DriverResponse:
        """Click a button on the Home tab the bot published for `user_id`. Slack sends block_actions with a `view`
        container and the home view, and no channel and no response_url (a Home tab is nobody's conversation)."""
        ws = self.sim.workspace
        with ws.lock:
            home = ws.home_views.get(user_id)
            assert home is not None, f"no Home tab published for {user_id}"
            found = _find_element(home.view.get("blocks") or [], action_id, block_id)
            assert found is not None, (f"the Home tab of {user_id} has no element with action_id {action_id!r}; "
                                       f"it has {self._action_ids(home.view.get('blocks') or [])}")
            block, el = found
            view = home.to_api()
        payload = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": self.sim.issue_trigger(user_id),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
            "actions": [self._action(block, el, action_id, value)],
        }
        return self._post_payload(payload)

    def select_in_view(self, user_id: str, view_id: str, block_id: str, action_id: str,
                       selected_value: Any, *, values: dict[str, dict[str, Any]] | None = None) -> DriverResponse:
        """A dispatch_action interaction inside an open modal (Slack sends block_actions).

        `values` are the other inputs as the person has filled them so far: Slack puts the whole form's current
        state in the payload's view.state.values, not only the element that changed.
        """
        ws = self.sim.workspace
        with ws.lock:
            v = self._view(view_id)
            blocks = v.view.get("blocks") or []
            for other_block, actions in (values or {}).items():
                for other_action, value in actions.items():
                    other = _find_element(blocks, other_action, other_block)
                    if other is not None:
                        v.state_values.setdefault(other_block, {})[other_action] = state_value(other[1], value)
            found = _find_element(v.view.get("blocks") or [], action_id, block_id)
            assert found is not None, f"view {view_id} has no {block_id}/{action_id}"
            _, el = found
            entry = state_value(el, selected_value)
            v.state_values.setdefault(block_id, {})[action_id] = entry
            action = {"action_id": action_id, "block_id": block_id, "action_ts": ws.new_ts(), **entry}
            payload = {
                "type": "block_actions",
                "user": self._user(user_id),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "container": {"type": "view", "view_id": view_id},
                "trigger_id": self.sim.issue_trigger(user_id),
                "team": self._team(),
                "enterprise": None,
                "is_enterprise_install": False,
                "view": v.to_api(),
                "actions": [action],
            }
        return self._post_payload(payload)

    def submit_view(self, user_id: str, view_id: str,
                    values: dict[str, dict[str, Any]] | None = None) -> DriverResponse:
        """Press Submit. Applies the bot's response_action (update/push/clear) to the stored views."""
        ws = self.sim.workspace
        with ws.lock:
            v = self._view(view_id)
            blocks = v.view.get("blocks") or []
            for block_id, actions in (values or {}).items():
                for action_id, value in actions.items():
                    found = _find_element(blocks, action_id, block_id)
                    assert found is not None, f"view {view_id} has no input {block_id}/{action_id}"
                    v.state_values.setdefault(block_id, {})[action_id] = state_value(found[1], value)
            payload = {
                "type": "view_submission",
                "team": self._team(),
                "user": self._user(user_id),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "trigger_id": self.sim.issue_trigger(user_id),
                "view": v.to_api(),
                "response_urls": [],
                "enterprise": None,
                "is_enterprise_install": False,
            }
        resp = self._post_payload(payload)
        if resp.status == 200:
            self._apply_response_action(v, resp)
        return resp

    def close_view(self, user_id: str, view_id: str, *, whole_stack: bool = False) -> DriverResponse | None:
        """The user closes a modal: Cancel pops one view, the X (whole_stack) closes them all.

        Slack tells the bot (a `view_closed` payload) only when the view asked for it with `notify_on_close`.
        """
        ws = self.sim.workspace
        with ws.lock:
            v = self._view(view_id)
            closing = [o for o in ws.views.values() if o.root_view_id == v.root_view_id and not o.closed] \
                if whole_stack else [v]
            for o in closing:
                o.closed = True
            notify = bool(v.view.get("notify_on_close"))
            payload = {
                "type": "view_closed",
                "team": self._team(),
                "user": self._user(user_id),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "view": v.to_api(),
                "is_cleared": whole_stack and len(closing) > 1,
                "enterprise": None,
                "is_enterprise_install": False,
            }
        return self._post_payload(payload) if notify else None

    def _apply_response_action(self, v: View, resp: DriverResponse) -> None:
        ws = self.sim.workspace
        try:
            body = resp.json()
        except ValueError:
            body = None
        action = body.get("response_action") if isinstance(body, dict) else None
        with ws.lock:
            if action is None:
                v.closed = True  # a plain ack closes the submitted view
            elif action == "clear":
                for other in ws.views.values():
                    if other.root_view_id == v.root_view_id:
                        other.closed = True
            elif action == "update":
                v.view = body["view"]
                v.hash = f"{int(ws.clock())}.{ws.new_id('')[3:]}"
                v.state_values = {}
            elif action == "push":
                vid = ws.new_id("V")
                ws.views[vid] = View(vid, f"{int(ws.clock())}.{vid}", body["view"], v.user_id, v.root_view_id,
                                     previous_view_id=v.id)
            problems = []
            if action in ("update", "push"):
                from .blockkit import validate_view
                problems = validate_view(body["view"])
            if problems:
                self.sim._violate([f"response_action {action}: {p}" for p in problems])  # noqa: SLF001

    # ---- Events API ----------------------------------------------------------------------
    def event(self, event: dict[str, Any], *, event_id: str | None = None,
              retry_num: int | None = None, retry_reason: str = "http_timeout") -> DriverResponse:
        self._event_seq += 1
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {"event_ts": self.sim.workspace.new_ts(), **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{int(time.time())}{self._event_seq:04d}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }
        extra: dict[str, str] = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self._post_json(envelope, extra)

    def app_home_opened(self, user_id: str, tab: str = "home", **kw: Any) -> DriverResponse:
        """The person opens the app's Home (or Messages) tab: `app_home_opened`, in the app's DM with them, carrying
        the Home view last published for them (Slack leaves `view` out when there is none)."""
        ws = self.sim.workspace
        dm = ws.dm_channel(user_id, create=True)
        assert dm is not None
        event: dict[str, Any] = {"type": "app_home_opened", "user": user_id, "channel": dm.id, "tab": tab}
        with ws.lock:
            home = ws.home_views.get(user_id)
            if home is not None:
                event["view"] = home.to_api()
        return self.event(event, **kw)

    def url_verification(self, challenge: str) -> DriverResponse:
        return self._post_json({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})

    def _post_json(self, body_obj: dict[str, Any], extra: dict[str, str] | None = None) -> DriverResponse:
        body = json.dumps(body_obj).encode()
        headers = {"Content-Type": "application/json", **self.sign(body), **(extra or {})}
        resp = self.send_raw(body, headers)
        resp.payload = body_obj
        return resp
