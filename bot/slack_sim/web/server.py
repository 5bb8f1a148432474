"""The sandbox's web page: a small Slack client for the simulated workspace, served with the standard library.

The page (index.html, app.js, mrkdwn.js, style.css, no build step) polls `GET /api/state` and sends what a person
does to `POST /api/<action>`. Every action goes to the bot the way Slack sends it: through the `SlackDriver`,
which signs slash commands, block_actions and view_submissions from what the simulator really stores. Nothing here
talks to the bot any other way. What Slack's own client does by itself is done here too: it refuses an unknown
slash command, shows the bot's direct answer to a command as an ephemeral message, and says "failed with the error
…" when the bot does not answer in time.

The sandbox's sample alert is the one thing that does not come from Slack: `POST /api/alert` hands it to a
callback (the sandbox's own Alertmanager, which posts to the bot's `/alerts/sandbox` with the source's token), so
the token stays in the sandbox process and never reaches the page.

Only 127.0.0.1 is served. POSTs must be JSON from the page's own origin, so another web site open in the same
browser cannot drive the sandbox, and the Host header is checked against DNS rebinding.
"""
from __future__ import annotations

import json
import mimetypes
import threading
import urllib.error
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..driver import DriverResponse, SlackDriver
from ..server import SlackSimulator
from ..state import BOT_USER_ID, SLACKBOT_USER_ID, Channel, Ephemeral, Message

STATIC_DIR = Path(__file__).parent
STATIC_FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/mrkdwn.js": "mrkdwn.js",
                "/style.css": "style.css"}
ACK_DEADLINE_S = 3.0  # Slack gives up on a command or interaction not acknowledged within 3 s
MAX_BODY = 256 * 1024
FAST_FORWARD_MAX_MIN = 24 * 60

# Slack's own words for a slash command it does not know.
NOT_A_COMMAND = ("`{command}` is not a valid command. In Slack, all messages that start with the \"/\" character "
                 "are interpreted as commands.\n\nIf you are trying to send a message that starts with a \"/\" "
                 "character, try adding a space before it.")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class ActionError(Exception):
    """Refused before reaching the bot (bad request from the page); the message is shown to the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class WebConsole:
    """State for the page and the page's actions, turned into what Slack would send the bot."""

    def __init__(self, sim: SlackSimulator, driver: SlackDriver, *, commands: tuple[str, ...] = ("/incident",),
                 clock: Any = None, fast_forward: Callable[[float], dict[str, Any]] | None = None,
                 sample_alert: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.sim = sim
        self.driver = driver
        self.commands = commands
        self.clock = clock  # an OffsetClock (or anything with time() and offset); None shows real time
        self._fast_forward = fast_forward
        # "fire" | "resolve" -> {"ok": True, "line": …} or {"ok": False, "error": …}
        self._sample_alert = sample_alert

    # ---- reading ---------------------------------------------------------------------------------------------
    def _person(self, user_id: str) -> str:
        u = self.sim.workspace.users.get(user_id)
        if u is None or u.is_bot or u.deleted:
            raise ActionError(f"no active seeded person {user_id!r}")
        return user_id

    def _readable(self, ch: Channel, user_id: str) -> bool:
        if ch.is_im:
            return ch.im_user == user_id
        return user_id in ch.members or not ch.is_private

    def state(self, user_id: str, channel_id: str | None) -> dict[str, Any]:
        ws = self.sim.workspace
        self._person(user_id)
        ws.dm_channel(user_id, create=True)  # Slack always shows the app's Messages tab; open it up front
        with ws.lock:
            joined, others, dms = [], [], []
            for ch in ws.channels.values():
                if ch.is_archived or not self._readable(ch, user_id):
                    continue
                msgs = ws.messages(ch.id)
                entry = {"id": ch.id, "name": ch.name, "is_private": ch.is_private, "is_member": user_id in ch.members,
                         "last_ts": msgs[-1].ts if msgs else None}
                if ch.is_im:
                    dms.append(entry | {"name": "sevbot", "user": BOT_USER_ID})
                elif user_id in ch.members:
                    joined.append(entry)
                else:
                    others.append(entry)
            joined.sort(key=lambda c: (not str(c["name"]).startswith("sev"), c["name"]))
            others.sort(key=lambda c: c["name"])
            current = ws.channels.get(channel_id or "")
            channel = self._channel_view(current, user_id) if current and self._readable(current, user_id) else None
            views = [v for v in ws.views.values() if v.user_id == user_id and not v.closed]
            top = views[-1] if views else None
            modal = None
            if top is not None:
                depth = len([v for v in views if v.root_view_id == top.root_view_id])
                modal = {"id": top.id, "hash": top.hash, "view": top.view, "depth": depth,
                         "values": top.state_values}
            users = [{"id": u.id, "name": u.name, "real_name": u.real_name or u.name, "title": u.title,
                      "is_bot": u.is_bot, "deleted": u.deleted} for u in ws.users.values()]
            groups = {g.id: g.handle for g in ws.usergroups.values()}
            channel_names = {c.id: c.name for c in ws.channels.values() if not c.is_im}
        now = self.clock.time() if self.clock is not None else ws.clock()
        offset = self.clock.offset.total_seconds() if self.clock is not None else 0.0
        return {"me": user_id, "now": now, "offset_seconds": offset, "users": users, "usergroups": groups,
                "channel_names": channel_names, "channels": joined, "more_channels": others, "dms": dms,
                "channel": channel, "modal": modal, "sample_alert": self._sample_alert is not None}

    def _channel_view(self, ch: Channel, user_id: str) -> dict[str, Any]:
        ws = self.sim.workspace
        pins = set(ws.pins(ch.id))
        replies: dict[str, list[dict[str, Any]]] = {}
        top: list[dict[str, Any]] = []
        for m in ws.messages(ch.id):
            item = self._message(m, pins)
            if m.thread_ts and m.thread_ts != m.ts:
                replies.setdefault(m.thread_ts, []).append(item)
            else:
                top.append(item)
        for item in top:
            item["replies"] = replies.get(item["ts"], [])
        ephemerals = [{"ts": e.message_ts, "user": e.sender, "text": e.text, "blocks": e.blocks, "ephemeral": True}
                      for e in ws.ephemerals if e.channel == ch.id and e.user == user_id and not e.deleted]
        return {"id": ch.id, "name": "sevbot" if ch.is_im else ch.name, "is_im": ch.is_im, "topic": ch.topic,
                "purpose": ch.purpose, "is_member": ch.is_im or user_id in ch.members, "members": sorted(ch.members),
                "messages": top, "ephemerals": ephemerals}

    @staticmethod
    def _message(m: Message, pins: set[str]) -> dict[str, Any]:
        return {"ts": m.ts, "user": m.user, "text": m.text, "blocks": m.blocks, "edited": m.edited_ts is not None,
                "pinned": m.ts in pins, "thread_ts": m.thread_ts,
                "reactions": [{"name": n, "count": len(u), "users": u} for n, u in m.reactions.items()],
                "files": [{"id": f.get("id"), "name": f.get("name"), "title": f.get("title"), "mimetype": f.get("mimetype"),
                           "url": f"/files/{f.get('id')}"} for f in m.files]}

    def file(self, user_id: str, file_id: str) -> tuple[bytes, str]:
        """An uploaded file's bytes and type, for a person who can see a message sharing it (as Slack's client
        shows an image inline); anything else is a 404, so the page can't be used to read other people's DMs."""
        self._person(user_id)
        ws = self.sim.workspace
        with ws.lock:
            f = ws.files.get(file_id)
            if f is None or not f.completed or f.content is None:
                raise ActionError("no such file", 404)
            shared = any(self._readable(ch, user_id) and any(shared.get("id") == file_id for m in ws.messages(ch.id) for shared in m.files)
                         for ch in ws.channels.values())
            if not shared:
                raise ActionError("no such file", 404)
            return f.content, f.mimetype

    # ---- acting ----------------------------------------------------------------------------------------------
    def _channel_for(self, user_id: str, channel_id: str) -> Channel:
        ch = self.sim.workspace.channels.get(channel_id)
        if ch is None or not self._readable(ch, user_id):
            raise ActionError(f"no channel {channel_id!r} for {user_id}")
        return ch

    def _notice(self, channel_id: str, user_id: str, text: str) -> None:
        """Slack's own ephemeral notice (from Slackbot), e.g. an unknown command or a bot that did not answer."""
        ws = self.sim.workspace
        with ws.lock:
            ws.ephemerals.append(Ephemeral(channel_id, user_id, text, [], ws.new_ts(), sender=SLACKBOT_USER_ID))

    def send(self, user_id: str, channel_id: str, text: str) -> dict[str, Any]:
        """The composer: a slash command goes to the bot signed; anything else is posted as the person's message."""
        self._person(user_id)
        ch = self._channel_for(user_id, channel_id)
        text = text.strip()
        if not text:
            return {"ok": True, "sent": False}
        if not text.startswith("/"):
            if not (ch.is_im or user_id in ch.members):
                raise ActionError(f"join #{ch.name} to post in it")
            ws = self.sim.workspace
            with ws.lock:
                ws.add_message(Message(ws.new_ts(), ch.id, user_id, text))
            return {"ok": True, "sent": True}
        command, _, rest = text.partition(" ")
        if command not in self.commands:
            self._notice(ch.id, user_id, NOT_A_COMMAND.format(command=command))
            return {"ok": True, "sent": False}
        try:
            response = self.driver.slash_command(user_id, rest.strip(), channel_id=ch.id, command=command)
        except (urllib.error.URLError, OSError):
            self._notice(ch.id, user_id, f"{command} failed with the error \"dispatch_failed\"")
            return {"ok": False, "error": "the bot is not reachable"}
        failure = self._failure(response)
        if failure:
            self._notice(ch.id, user_id, f"{command} failed with the error \"{failure}\"")
            return {"ok": False, "error": failure}
        self._apply_command_response(ch.id, user_id, response)
        return {"ok": True, "sent": True}

    @staticmethod
    def _failure(response: DriverResponse) -> str | None:
        if response.elapsed > ACK_DEADLINE_S:
            return "operation_timeout"
        if response.status != 200:
            return "dispatch_failed"
        return None

    def _apply_command_response(self, channel_id: str, user_id: str, response: DriverResponse) -> None:
        """What Slack does with the HTTP body of a slash command's ack: show it (ephemeral unless in_channel)."""
        if not response.text.strip():
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = {"text": response.text}
        if not isinstance(body, dict):
            body = {"text": str(body)}
        text, blocks = str(body.get("text") or ""), list(body.get("blocks") or [])
        if not text and not blocks:
            return
        ws = self.sim.workspace
        with ws.lock:
            if body.get("response_type") == "in_channel":
                ws.add_message(Message(ws.new_ts(), channel_id, BOT_USER_ID, text, blocks))
            else:
                ws.ephemerals.append(Ephemeral(channel_id, user_id, text, blocks, ws.new_ts()))

    def click(self, user_id: str, channel_id: str, ts: str, action_id: str, block_id: str | None,
              value: Any = None, ephemeral: bool = False) -> dict[str, Any]:
        self._person(user_id)
        self._channel_for(user_id, channel_id)
        try:
            if ephemeral:
                response = self.driver.click_ephemeral(user_id, channel_id, ts, action_id, value, block_id=block_id)
            else:
                response = self.driver.click(user_id, channel_id, ts, action_id, value, block_id=block_id)
        except AssertionError as exc:  # the message changed under the page: the element is gone
            raise ActionError(str(exc), 409) from None
        return self._interaction_result(response)

    def view_action(self, user_id: str, view_id: str, block_id: str, action_id: str, value: Any,
                    values: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        self._own_view(user_id, view_id)
        try:
            response = self.driver.select_in_view(user_id, view_id, block_id, action_id, value, values=values)
        except AssertionError as exc:
            raise ActionError(str(exc), 409) from None
        return self._interaction_result(response)

    def submit(self, user_id: str, view_id: str, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
        self._own_view(user_id, view_id)
        try:
            response = self.driver.submit_view(user_id, view_id, values)
        except AssertionError as exc:
            raise ActionError(str(exc), 409) from None
        result = self._interaction_result(response)
        body = response.json() if response.status == 200 and response.text.strip() else None
        if isinstance(body, dict) and body.get("response_action") == "errors":
            result["errors"] = body.get("errors") or {}
        return result

    def close(self, user_id: str, view_id: str, whole_stack: bool) -> dict[str, Any]:
        self._own_view(user_id, view_id)
        response = self.driver.close_view(user_id, view_id, whole_stack=whole_stack)
        return {"ok": True} if response is None else self._interaction_result(response)

    def _own_view(self, user_id: str, view_id: str) -> None:
        self._person(user_id)
        v = self.sim.workspace.views.get(view_id)
        if v is None or v.user_id != user_id or v.closed:
            raise ActionError("that modal is no longer open", 409)

    def _interaction_result(self, response: DriverResponse) -> dict[str, Any]:
        failure = self._failure(response)
        if failure:
            # Slack shows a warning next to the element and the bot never learns more.
            return {"ok": False, "error": f"sevbot did not respond ({failure}, HTTP {response.status})"}
        return {"ok": True}

    def join(self, user_id: str, channel_id: str) -> dict[str, Any]:
        self._person(user_id)
        ch = self._channel_for(user_id, channel_id)
        with self.sim.workspace.lock:
            ch.members.add(user_id)
        return {"ok": True}

    def fast_forward(self, minutes: float) -> dict[str, Any]:
        if self._fast_forward is None:
            raise ActionError("this sandbox has no clock control", 409)
        if not 0 < minutes <= FAST_FORWARD_MAX_MIN:
            raise ActionError(f"fast-forward between 1 and {FAST_FORWARD_MAX_MIN} minutes")
        return {"ok": True, **self._fast_forward(minutes * 60)}

    def sample_alert(self, action: str) -> dict[str, Any]:
        if self._sample_alert is None:
            raise ActionError("this sandbox has no sample alert", 409)
        if action not in ("fire", "resolve"):
            raise ActionError("action must be fire or resolve")
        result = self._sample_alert(action)
        if not result.get("ok"):
            raise ActionError(str(result.get("error") or "the alert was not taken"), 502)
        return result


class WebServer:
    """`http://127.0.0.1:<port>/`: the page and its JSON API, on a thread."""

    def __init__(self, console: WebConsole, *, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.console = console
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> "WebServer":
        console = self.console

        class Handler(_Handler):
            pass

        Handler.console = console
        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox-web",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "web server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/"


class _Handler(BaseHTTPRequestHandler):
    console: WebConsole
    server_version = "sevbot-sandbox-web/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        return (self.headers.get("Host") or "") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def do_GET(self) -> None:  # noqa: N802
        if not self._host_ok():
            return self._json(421, {"ok": False, "error": "wrong Host"})
        url = urlsplit(self.path)
        if url.path in STATIC_FILES:
            return self._static(STATIC_FILES[url.path])
        if url.path.startswith("/files/"):
            user = {k: v[-1] for k, v in parse_qs(url.query).items()}.get("user", "")
            try:
                content, mimetype = self.console.file(user, url.path.removeprefix("/files/"))
            except ActionError as exc:
                return self._json(exc.status, {"ok": False, "error": str(exc)})
            return self._bytes(content, mimetype)
        if url.path == "/api/state":
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            return self._run(lambda: self.console.state(q.get("user", ""), q.get("channel")))
        self._json(404, {"ok": False, "error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_ok():
            return self._json(421, {"ok": False, "error": "wrong Host"})
        origin = self.headers.get("Origin")
        if origin is not None and f"{origin}/" not in (f"http://{self.headers.get('Host')}/",):
            return self._json(403, {"ok": False, "error": "cross-origin request refused"})
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return self._json(415, {"ok": False, "error": "send application/json"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._json(413, {"ok": False, "error": "too large"})
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return self._json(400, {"ok": False, "error": "expected a JSON object"})
        c, user = self.console, str(body.get("user") or "")
        actions: dict[str, Callable[[], dict[str, Any]]] = {
            "/api/send": lambda: c.send(user, str(body.get("channel") or ""), str(body.get("text") or "")),
            "/api/click": lambda: c.click(user, str(body.get("channel") or ""), str(body.get("ts") or ""),
                                          str(body.get("action_id") or ""), body.get("block_id"), body.get("value"),
                                          bool(body.get("ephemeral"))),
            "/api/view_action": lambda: c.view_action(user, str(body.get("view_id") or ""), str(body.get("block_id") or ""),
                                                      str(body.get("action_id") or ""), body.get("value"),
                                                      _values(body.get("values") or {})),
            "/api/submit": lambda: c.submit(user, str(body.get("view_id") or ""), _values(body.get("values"))),
            "/api/close": lambda: c.close(user, str(body.get("view_id") or ""), bool(body.get("whole_stack"))),
            "/api/join": lambda: c.join(user, str(body.get("channel") or "")),
            "/api/fast_forward": lambda: c.fast_forward(_number(body.get("minutes"))),
            "/api/alert": lambda: c.sample_alert(str(body.get("action") or "")),
        }
        action = actions.get(urlsplit(self.path).path)
        if action is None:
            return self._json(404, {"ok": False, "error": "not found"})
        self._run(action)

    def _run(self, work: Callable[[], dict[str, Any]]) -> None:
        try:
            result = work()
        except ActionError as exc:
            return self._json(exc.status, {"ok": False, "error": str(exc)})
        self._json(200, result)

    def _static(self, name: str) -> None:
        data = (STATIC_DIR / name).read_bytes()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.send_response(200)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(data)

    def _bytes(self, content: bytes, mimetype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", mimetype)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "private, max-age=3600")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'; sandbox")
        if not mimetype.startswith("image/"):
            self.send_header("Content-Disposition", "attachment")
        self.end_headers()
        self.wfile.write(content)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _values(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ActionError("values must be {block_id: {action_id: value}}")
    return raw


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ActionError("minutes must be a number") from None
