"""slack_sdk's WebClient with one kept-alive HTTP(S) connection per thread, instead of a new one for every call.

slack_sdk sends each Web API call through `urllib.request.urlopen`, which opens (and, against slack.com, TLS-
handshakes) a fresh connection per call. A declare makes six calls; a handshake costs more CPU than the call itself.
Only the transport changes here: slack_sdk still builds the request, runs its retry handlers (429 with Retry-After,
5xx, connection errors) and parses the response, because this method returns and raises exactly what urlopen would.
"""
from __future__ import annotations

import http.client
import io
import select
import socket
import threading
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

# Close a connection that sat idle longer than this rather than reuse it: servers drop idle keep-alive connections
# (load balancers commonly after a minute), and a request written into a connection being closed fails for nothing.
IDLE_SECONDS = 30.0


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        # A kept-alive connection must not wait on Nagle + delayed ACK (~40 ms) between a request's segments.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_Connection = http.client.HTTPConnection  # HTTPSConnection is one too


class KeepAliveConnections:
    """Per-thread HTTP(S) connections, one per host, reused while fresh; `send` answers (or raises) as urlopen does."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._local = threading.local()

    def send(self, url: str, req: Request, *, timeout: float | None, ssl: Any) -> tuple[http.client.HTTPResponse, bytes]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        connection = self._connection(key, timeout, ssl)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(req.get_method(), target, body=req.data, headers=dict(req.header_items()))
            response = connection.getresponse()
            raw = response.read()
        except TimeoutError:
            self._discard(key)
            raise
        except OSError as exc:  # refused, reset, closed under us: urlopen reports these as URLError
            self._discard(key)
            raise URLError(exc) from exc
        except http.client.HTTPException as exc:  # a malformed or missing status line
            self._discard(key)
            raise URLError(exc) from exc
        if response.will_close:
            self._discard(key)
        else:
            self._local.last_used[key] = time.monotonic()
        if response.status >= 400:
            # What urlopen raises for an error status; slack_sdk reads the code, headers and body from it.
            raise HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(raw))
        return response, raw

    def _connection(self, key: tuple[str, str], timeout: float | None, ssl: Any) -> _Connection:
        connections: dict[tuple[str, str], _Connection] | None = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
            self._local.last_used = {}
        existing = connections.get(key)
        if (existing is not None and time.monotonic() - self._local.last_used.get(key, 0.0) <= self.idle_seconds
                and not _closed_by_server(existing)):
            return existing
        if existing is not None:
            self._discard(key)
        scheme, netloc = key
        created: _Connection
        if scheme == "https":
            created = _HTTPSConnection(netloc, timeout=timeout, context=ssl)
        else:
            created = _HTTPConnection(netloc, timeout=timeout)
        connections[key] = created
        return created

    def _discard(self, key: tuple[str, str]) -> None:
        connection = self._local.connections.pop(key, None)
        if connection is not None:
            connection.close()


def _closed_by_server(connection: _Connection) -> bool:
    """Whether the server has closed this idle connection (its end-of-stream is waiting to be read), as urllib3 checks
    before reusing one. A request written into it would fail as if the server had dropped it after reading it, and a
    post that fails that way is never sent again (it may have arrived): so look first, and open a fresh one."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)  # an idle connection owes us nothing: anything to read is the end, or garbage


def _plain_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


class KeepAliveWebClient(WebClient):
    def __init__(self, *args: Any, idle_seconds: float = IDLE_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections = KeepAliveConnections(idle_seconds)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not _plain_http(url):
            return super()._perform_urllib_http_request_internal(url, req)  # proxies and odd URLs: slack_sdk's own way
        response, raw = self.connections.send(url, req, timeout=self.timeout, ssl=self.ssl)
        if response.headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": response.headers, "body": raw}
        charset = response.headers.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.headers, "body": raw.decode(charset)}


# response_url posts come from a new WebhookClient each time; the connections outlive them.
_WEBHOOK_CONNECTIONS = KeepAliveConnections()


class KeepAliveWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (response_url posts) over the same kind of kept-alive connections."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None or not _plain_http(url):
            return super()._perform_http_request_internal(url, req)
        response, raw = _WEBHOOK_CONNECTIONS.send(url, req, timeout=self.timeout, ssl=self.ssl)
        charset = response.headers.get_content_charset() or "utf-8"
        return WebhookResponse(url=url, status_code=response.status, body=raw.decode(charset), headers=response.headers)  # type: ignore[arg-type]
