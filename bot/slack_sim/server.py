"""SlackSimulator: a local HTTP server speaking Slack's Web API to a real slack_sdk.WebClient.

Every call is recorded, checked against Slack's spec and Block Kit limits, and can be made to fail
on purpose (error code, 500, 429 + Retry-After, delay) so the bot's fault paths can be tested.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from . import blockkit, spec
from .methods import METHODS, Ctx, SlackError, call, json_arg
from .socket_mode import SocketSession, accept_key
from .state import APP_ID, BOT_SCOPES, BOT_USER_ID, Ephemeral, Message, ResponseUrlPost, Workspace


class SlashAnswer(Protocol):
    """What a driver's `slash_command` returns: the bot's HTTP answer."""

    status: int
    text: str

    def json(self) -> Any: ...


# (user_id, text after the command, channel_id, command) -> the bot's answer
SlashSender = Callable[[str, str, str, str], SlashAnswer]

APP_TOKEN = "xapp-1-sim-app-token"  # the app-level token apps.connections.open accepts (Socket Mode)

RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_S = 30 * 60


@dataclass(frozen=True)
class RecordedCall:
    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    http_status: int
    at: float

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass
class Fault:
    error: str | None = None
    http_status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    times: int = 1
    # Carry the call out, then hold the answer this long: Slack did it, the client may time out before it hears.
    answer_delay: float = 0.0
    # Carry the call out, then close the connection without answering (a proxy's reset): the client cannot tell.
    drop: bool = False
    # Only calls whose arguments satisfy this are faulted (e.g. chat.postMessage to one channel).
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class _Reply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection instead of answering


def _flatten(qs: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v[-1] for k, v in qs.items()}


class SlackSimulator:
    def __init__(self, workspace: Workspace | None = None, *, bot_token: str = "xoxb-sim-token",
                 host: str = "127.0.0.1", port: int = 0, app_token: str = APP_TOKEN, seed: int | None = None) -> None:
        self.workspace = workspace if workspace is not None else Workspace().seed_default()
        self.bot_token = bot_token
        self.app_token = app_token
        # The bot token's scopes; a test takes one away (e.g. im:history) to see the bot meet `missing_scope`.
        self.scopes: frozenset[str] = BOT_SCOPES
        self.sockets: list[SocketSession] = []  # Socket Mode connections, newest last
        self._socket_tickets: set[str] = set()
        self.latency: float = 0.0
        # Chaos knobs (bench/chaos_bench.py): a slow, uneven Slack that now and then answers too late.
        # jitter: each Web API call sleeps rng.uniform(lo, hi) instead of the fixed `latency`.
        self.jitter: tuple[float, float] | None = None
        # hang_probability: a call that was carried out has its answer held hang_seconds (as Fault.answer_delay does),
        # so a client with a 10 s timeout gives up on a call Slack did. hung_calls lists the calls that were held.
        self.hang_probability: float = 0.0
        self.hang_seconds: float = 11.0
        self.hung_calls: list[RecordedCall] = []
        # One seeded source for both knobs, so a run is reproducible with the same seed (as far as thread scheduling
        # lets the order of calls be).
        self.rng = random.Random(seed)
        self._send_slash: SlashSender | None = None
        self.calls: list[RecordedCall] = []
        self.violations: list[str] = []
        self.connections_opened = 0  # TCP connections accepted: shows whether a client keeps its connection alive
        # A kept-alive connection idle this long is closed by the server (Slack's after about a minute); a test makes
        # it short to see a client meet a connection the server has already closed.
        self.idle_close_seconds = 60.0
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)  # notified on every recorded call (see wait_for_call)
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> "SlackSimulator":
        sim = self

        class Handler(_Handler):
            simulator = sim

        self._httpd = _Server((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "SlackSimulator":
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "simulator not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def api_url(self) -> str:
        # Trailing slash matters: slack_sdk builds base_url + method name.
        return self.base_url + "api/"

    # ---- recording & faults --------------------------------------------------------------
    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for_call(self, predicate: Callable[[RecordedCall], bool], timeout: float, *, start: int = 0) -> RecordedCall | None:
        """The first recorded call from index `start` on that matches, waiting up to `timeout` seconds for it: lets
        a test or a benchmark react to the bot's calls as they happen, without polling."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            index = start
            while True:
                for recorded in self.calls[index:]:
                    if predicate(recorded):
                        return recorded
                index = len(self.calls)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._recorded.wait(remaining)

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self.violations.clear()

    def inject(self, method: str, *, error: str | None = None, http_status: int | None = None,
               retry_after: int | None = None, delay: float = 0.0, times: int = 1,
               when: Callable[[dict[str, Any]], bool] | None = None, answer_delay: float = 0.0, drop: bool = False) -> None:
        """Make the next `times` calls to `method` fail (or stall) the given way. `delay` stalls before doing
        anything; `answer_delay` does the call and then stalls before answering (a late answer to a done deed);
        `drop` does the call and closes the connection unanswered. `method` "response_url" faults response_url posts."""
        if http_status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.setdefault(method, []).append(Fault(error=error, http_status=http_status, retry_after=retry_after, delay=delay,
                                                             times=times, when=when, answer_delay=answer_delay, drop=drop))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, args: dict[str, Any]) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method) or []
            f = next((f for f in queue if f.when is None or f.when(args)), None)
            if f is None:
                return None
            f.times -= 1
            if f.times <= 0:
                queue.remove(f)
            return f

    def _record(self, method: str, args: dict[str, Any], reply: _Reply) -> RecordedCall:
        body = reply.body if isinstance(reply.body, dict) else {"raw": reply.body}
        recorded = RecordedCall(method, args, body, reply.status, time.time())
        with self._recorded:
            self.calls.append(recorded)
            self._recorded.notify_all()
        return recorded

    def _violate(self, messages: list[str]) -> None:
        with self._lock:
            self.violations.extend(messages)

    # ---- helpers the driver uses ---------------------------------------------------------
    def issue_trigger(self, user_id: str = "") -> str:
        return self.workspace.issue_trigger(user_id)

    def issue_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        return self.workspace.issue_response_url(self.base_url, channel_id, user_id, message_ts)

    # ---- acting as Slack towards a bot (sandbox) ------------------------------------------
    def connect_bot(self, send_slash: SlashSender) -> None:
        """Let `POST /sim/slash` forward slash commands to a bot, through a driver's signed `slash_command`.

        The driver is handed in (not built here) because the driver depends on the simulator, not the reverse."""
        self._send_slash = send_slash

    def handle_sim_slash(self, raw: bytes) -> _Reply:
        send_slash = self._send_slash
        if send_slash is None:
            return _Reply(409, {"ok": False, "error": "no_bot_connected"})
        try:
            body = json.loads(raw or b"{}")
            user_id, text = str(body["user_id"]), str(body.get("text", ""))
        except (ValueError, KeyError, TypeError):
            return _Reply(400, {"ok": False, "error": "expected JSON {user_id, text, channel_id?}"})
        if user_id not in self.workspace.users:
            return _Reply(400, {"ok": False, "error": f"no such user {user_id}"})
        command, _, rest = text.strip().partition(" ")
        if not command.startswith("/"):
            return _Reply(400, {"ok": False, "error": "a slash command starts with /, e.g. /incident help"})
        with self._recorded:
            first = len(self.calls)
        response = send_slash(user_id, rest, str(body.get("channel_id") or "C0GENERAL"), command)
        try:
            answer: Any = response.json() if response.text else None
        except ValueError:
            answer = response.text
        if answer is None and response.status == 200:
            # Acked with nothing: the bot answers through the command's response_url once Slack has said something
            # (e.g. who a person is). Wait a little for that answer, as the person in Slack would see it.
            sent = getattr(response, "payload", None) or {}
            token = str(sent.get("response_url", "")).rstrip("/").rsplit("/", 1)[-1]
            later = self.wait_for_call(lambda c: c.method == "response_url" and c.args.get("token") == token, 5.0, start=first) if token else None
            if later is not None:
                answer = {"text": later.args.get("text", ""), "later": True}
        return _Reply(200, {"ok": True, "status": response.status, "response": answer})

    # ---- request handling ----------------------------------------------------------------
    def handle_api(self, method: str, args: dict[str, Any], auth_header: str | None) -> _Reply:
        pause = self.rng.uniform(*self.jitter) if self.jitter is not None else self.latency
        if pause:
            time.sleep(pause)
        token = args.pop("token", None)
        if auth_header and auth_header.lower().startswith("bearer "):
            token = auth_header[7:].strip()
        if method == "apps.connections.open":
            reply = self._open_socket_url(token)
        elif method not in METHODS and method not in spec.methods():
            reply = _Reply(200, {"ok": False, "error": "unknown_method", "req_method": method})
        elif not token:
            reply = _Reply(200, {"ok": False, "error": "not_authed"})
        elif token != self.bot_token:
            reply = _Reply(200, {"ok": False, "error": "invalid_auth"})
        else:
            fault = self._take_fault(method, args)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)  # a stall: the client may time out before we answer
            if fault is not None and (fault.error or fault.http_status):
                reply = self._fault_reply(fault)
            else:
                problems = self._check(method, args)
                if problems:
                    self._violate(problems)
                    reply = _Reply(200, {"ok": False, "error": "invalid_arguments",
                                         "response_metadata": {"messages": problems}})
                elif method not in METHODS:
                    reply = _Reply(200, {"ok": False, "error": "unknown_method", "req_method": method,
                                         "warning": "method exists in Slack but is not simulated"})
                else:
                    ctx = Ctx(self.workspace, self.base_url, BOT_USER_ID, self.scopes)
                    reply = _Reply(200, call(ctx, method, args), drop=fault is not None and fault.drop)
                    reply.headers["x-oauth-scopes"] = ",".join(sorted(self.scopes))  # as Slack says on every answer
                    hold = fault.answer_delay if fault is not None else 0.0
                    hung = not hold and self.hang_probability > 0 and self.rng.random() < self.hang_probability
                    if hung:
                        hold = self.hang_seconds
                    if hold:
                        recorded = self._record(method, args, reply)
                        if hung:
                            with self._lock:
                                self.hung_calls.append(recorded)
                        time.sleep(hold)  # done; the answer comes too late for the client
                        return reply
        self._record(method, args, reply)
        return reply

    def _open_socket_url(self, token: str | None) -> _Reply:
        """apps.connections.open takes the app-level token (xapp-…), not the bot token, and hands out a one-use URL."""
        if not token:
            return _Reply(200, {"ok": False, "error": "not_authed"})
        if token != self.app_token:
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        fault = self._take_fault("apps.connections.open", {})
        if fault is not None and (fault.error or fault.http_status):
            return self._fault_reply(fault)
        ticket = f"T{len(self._socket_tickets) + 1:06d}"
        with self._lock:
            self._socket_tickets.add(ticket)
        host, port = self._httpd.server_address[:2] if self._httpd else ("127.0.0.1", 0)
        return _Reply(200, {"ok": True, "url": f"ws://{host}:{port}/socket/{ticket}"})

    # ---- Socket Mode ---------------------------------------------------------------------
    def wait_for_socket(self, timeout: float) -> SocketSession | None:
        """The newest open Socket Mode connection, waiting up to `timeout` for one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                live = [s for s in self.sockets if s.open]
            if live:
                return live[-1]
            time.sleep(0.02)
        return None

    def _take_socket_ticket(self, ticket: str) -> bool:
        with self._lock:
            if ticket not in self._socket_tickets:
                return False
            self._socket_tickets.discard(ticket)
            return True

    def _fault_reply(self, fault: Fault) -> _Reply:
        if fault.http_status == 429:
            return _Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)})
        if fault.http_status:
            return _Reply(fault.http_status, {"ok": False, "error": "internal_error"})
        return _Reply(200, {"ok": False, "error": fault.error})

    def _check(self, method: str, args: dict[str, Any]) -> list[str]:
        problems = [f"{p}" for p in spec.check_call(method, args)]
        try:
            if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
                blocks = json_arg(args["blocks"]) if args.get("blocks") not in (None, "") else None
                problems += [f"{method}: {m}" for m in blockkit.validate_message(args.get("text"), blocks)]
            elif method in ("views.open", "views.update", "views.push", "views.publish") and args.get("view") is not None:
                problems += [f"{method}: {m}" for m in blockkit.validate_view(json_arg(args["view"]))]
        except SlackError:
            problems.append(f"{method}: blocks/view is not valid JSON")
        return problems

    def handle_response_url(self, token: str, body: dict[str, Any]) -> _Reply:
        """response_url posts: Slack's 'respond()' channel; 5 uses within 30 minutes."""
        ws = self.workspace
        fault = self._take_fault("response_url", body)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and (fault.error or fault.http_status):
            reply = self._fault_reply(fault)
            self._record("response_url", {"token": token, **body}, reply)
            return reply
        with ws.lock:
            ru = ws.response_urls.get(token)
            if ru is None:
                reply = _Reply(404, {"ok": False, "error": "invalid_token"})
            elif ru.uses >= RESPONSE_URL_MAX_USES:
                reply = _Reply(404, {"ok": False, "error": "used_url"})
            elif ws.clock() - ru.issued_at > RESPONSE_URL_TTL_S:
                reply = _Reply(404, {"ok": False, "error": "expired_url"})
            else:
                problems = blockkit.validate_message(body.get("text"), body.get("blocks"))
                if problems:
                    self._violate([f"response_url: {m}" for m in problems])
                    reply = _Reply(400, {"ok": False, "error": "invalid_blocks"})
                else:
                    ru.uses += 1
                    ws.response_posts.append(ResponseUrlPost(token, body))
                    self._apply_response(ru, body)
                    reply = _Reply(200, {"ok": True}, drop=fault is not None and fault.drop)
        self._record("response_url", {"token": token, **body}, reply)
        if fault is not None and fault.answer_delay:
            time.sleep(fault.answer_delay)  # done; the answer comes too late for the client
        return reply

    def _apply_response(self, ru: Any, body: dict[str, Any]) -> None:
        ws = self.workspace
        original = ws.find_message(ru.channel_id, ru.message_ts) if ru.message_ts else None
        private = None if original is not None or not ru.message_ts else next(
            (e for e in ws.ephemerals if e.channel == ru.channel_id and e.user == ru.user_id and e.message_ts == ru.message_ts), None)
        if private is not None and (body.get("delete_original") or body.get("replace_original")):
            # A click on an ephemeral message: Slack replaces or removes that private message, for that user only.
            if body.get("delete_original"):
                private.deleted = True
            else:
                private.text = body.get("text", private.text)
                private.blocks = body.get("blocks", private.blocks)
            return
        if body.get("delete_original") and original is not None:
            ws._messages[ru.channel_id].remove(original)  # noqa: SLF001 - owner module
        elif body.get("replace_original") and original is not None:
            original.text = body.get("text", original.text)
            original.blocks = body.get("blocks", original.blocks)
            original.edited_ts = ws.new_ts()
        elif body.get("response_type") == "in_channel":
            ws.add_message(Message(ws.new_ts(), ru.channel_id, BOT_USER_ID, body.get("text", ""),
                                   body.get("blocks") or [], thread_ts=body.get("thread_ts")))
        else:
            ws.ephemerals.append(Ephemeral(ru.channel_id, ru.user_id, body.get("text", ""),
                                           body.get("blocks") or [], ws.new_ts()))

    def handle_upload(self, file_id: str, data: bytes) -> _Reply:
        with self.workspace.lock:
            f = self.workspace.files.get(file_id)
            if f is None:
                reply = _Reply(404, "Not Found")
            else:
                f.content = data
                reply = _Reply(200, f"OK - {len(data)}")
        self._record("upload", {"file_id": file_id, "bytes": len(data)}, reply)
        return reply


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connections under a 10-way benchmark; Slack never does that.
    request_queue_size = 256
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    simulator: SlackSimulator
    server_version = "slack-sim/1"
    # Keep-alive, as Slack's API servers do: a client may send many calls over one connection. An idle connection
    # is closed after a minute, as Slack does too, so its thread ends.
    protocol_version = "HTTP/1.1"
    timeout = 60
    # The status line and headers go out in one write and the body in another: without TCP_NODELAY, Nagle holds the
    # body back until the client's delayed ACK (~40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def setup(self) -> None:
        self.timeout = self.simulator.idle_close_seconds
        super().setup()
        with self.simulator._lock:  # noqa: SLF001 - the simulator's own counter
            self.simulator.connections_opened += 1

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/socket/") and (self.headers.get("Upgrade") or "").lower() == "websocket":
            return self._socket_mode(url.path.rsplit("/", 1)[-1])
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client went away mid-body (a bot killed while sending): Slack never gets a whole request, so it
            # does nothing with it and there is nobody to answer.
            self.close_connection = True
            return
        parts = url.path.strip("/").split("/")
        sim = self.simulator
        if len(parts) == 2 and parts[0] == "api":
            args = _flatten(parse_qs(url.query, keep_blank_values=True))
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if raw:
                if ctype == "application/json":
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return self._send(_Reply(200, {"ok": False, "error": "invalid_json"}))
                    if not isinstance(body, dict):
                        return self._send(_Reply(200, {"ok": False, "error": "json_not_object"}))
                    args.update(body)
                else:
                    args.update(_flatten(parse_qs(raw.decode("utf-8"), keep_blank_values=True)))
            reply = sim.handle_api(parts[1], args, self.headers.get("Authorization"))
        elif len(parts) == 2 and parts[0] == "response" and self.command == "POST":
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"text": raw.decode("utf-8", "replace")}
            reply = sim.handle_response_url(parts[1], body)
        elif parts == ["sim", "slash"] and self.command == "POST":
            reply = sim.handle_sim_slash(raw)
        elif len(parts) == 2 and parts[0] == "upload" and self.command == "POST":
            reply = sim.handle_upload(parts[1], raw)
        else:
            reply = _Reply(404, "Not Found")
        self._send(reply)

    def _socket_mode(self, ticket: str) -> None:
        """Upgrade to a WebSocket (RFC 6455), greet the app as Slack does, then serve the session until it closes."""
        sim = self.simulator
        key = self.headers.get("Sec-WebSocket-Key")
        if not key or not sim._take_socket_ticket(ticket):  # noqa: SLF001
            self.close_connection = True
            return self._send(_Reply(401, "invalid or used Socket Mode URL"))
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(key))
        self.end_headers()
        self.connection.settimeout(None)  # a socket waits for events as long as it is open
        session = SocketSession(self.rfile, self.wfile)  # type: ignore[arg-type]
        with sim._lock:  # noqa: SLF001
            sim.sockets.append(session)
        session.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": APP_ID},
                           "debug_info": {"host": "slack-sim", "approximate_connection_time": 3600}})
        session.serve()
        self.close_connection = True

    def _send(self, reply: _Reply) -> None:
        if reply.drop:
            self.close_connection = True  # done, and no answer: the client sees the connection close
            return
        if isinstance(reply.body, dict):
            data = json.dumps(reply.body).encode()
            ctype = "application/json; charset=utf-8"
        else:
            data = reply.body.encode()
            ctype = "text/plain; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. an injected delay beyond its timeout): nothing to do
