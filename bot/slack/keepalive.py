"""slack_sdk's WebClient with one kept-alive HTTP(S) connection per thread, instead of a new one for every call.

slack_sdk sends each Web API call through `urllib.request.urlopen`, which opens (and, against slack.com, TLS-
handshakes) a fresh connection per call. A declare makes six calls; a handshake costs more CPU than the call itself.
Only the transport changes here: slack_sdk still builds the request, runs its retry handlers (429 with Retry-After,
5xx, connection errors) and parses the response, because this method returns and raises exactly what urlopen would.
"""
from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

# Close a connection that sat idle longer than this rather than reuse it: servers drop idle keep-alive connections
# (Slack after a minute or so), and a request written into a connection the server is closing fails for nothing.
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


_Connection = http.client.HTTPConnection | http.client.HTTPSConnection


class KeepAliveWebClient(WebClient):
    def __init__(self, *args: Any, idle_seconds: float = IDLE_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_seconds = idle_seconds
        self._local = threading.local()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)  # proxies and odd URLs: slack_sdk's own way
        connection = self._connection(parts.scheme, parts.netloc)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(req.get_method(), target, body=req.data, headers=dict(req.header_items()))
            response = connection.getresponse()
            raw = response.read()
        except TimeoutError:
            self._discard(parts.scheme, parts.netloc)
            raise
        except OSError as exc:  # refused, reset, closed under us: urlopen reports these as URLError
            self._discard(parts.scheme, parts.netloc)
            raise URLError(exc) from exc
        except http.client.HTTPException as exc:  # a malformed or missing status line
            self._discard(parts.scheme, parts.netloc)
            raise URLError(exc) from exc
        if response.will_close:
            self._discard(parts.scheme, parts.netloc)
        else:
            self._local.last_used[(parts.scheme, parts.netloc)] = time.monotonic()
        if response.status >= 400:
            # What urlopen raises for an error status; slack_sdk reads the code, headers and body from it.
            raise HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(raw))
        if response.headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": response.headers, "body": raw}
        charset = response.headers.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.headers, "body": raw.decode(charset)}

    def _connection(self, scheme: str, netloc: str) -> _Connection:
        connections: dict[tuple[str, str], _Connection] | None = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
            self._local.last_used = {}
        key = (scheme, netloc)
        existing = connections.get(key)
        if existing is not None and time.monotonic() - self._local.last_used.get(key, 0.0) <= self.idle_seconds:
            return existing
        if existing is not None:
            self._discard(scheme, netloc)
        created: _Connection
        if scheme == "https":
            created = _HTTPSConnection(netloc, timeout=self.timeout, context=self.ssl)
        else:
            created = _HTTPConnection(netloc, timeout=self.timeout)
        connections[key] = created
        return created

    def _discard(self, scheme: str, netloc: str) -> None:
        connection = self._local.connections.pop((scheme, netloc), None)
        if connection is not None:
            connection.close()
