"""Socket Mode for the simulator: the WebSocket Slack hands out from apps.connections.open.

Slack pushes each event, slash command or interaction to the app as an envelope over the socket and waits for the
app to acknowledge it (`{"envelope_id": …, "payload": …}`); the payload is what an HTTP app would have answered.
Only what a Socket Mode client needs is here (RFC 6455 text frames, ping/pong, close), in plain sockets.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import uuid
from typing import Any, BinaryIO

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x8, 0x9, 0xA, 0x0


def accept_key(client_key: str) -> str:
    return base64.b64encode(hashlib.sha1((client_key + _GUID).encode()).digest()).decode()


def frame(opcode: int, data: bytes) -> bytes:
    """A server frame: final, unmasked (RFC 6455 5.1: servers never mask)."""
    size = len(data)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + data


def read_frame(rfile: BinaryIO) -> tuple[bool, int, bytes] | None:
    """(final, opcode, unmasked data), or None when the client has gone."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    final, opcode, masked, size = bool(head[0] & 0x80), head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", rfile.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", rfile.read(8))[0]
    mask = rfile.read(4) if masked else b""
    data = rfile.read(size)
    if len(data) < size:
        return None
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return final, opcode, data


class SocketSession:
    """One connected app. `send_envelope` pushes an envelope and waits for the app's acknowledgement."""

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO) -> None:
        self._rfile, self._wfile = rfile, wfile
        self._send_lock = threading.Lock()
        self._acks: dict[str, dict[str, Any]] = {}
        self._acked = threading.Condition()
        self.open = True
        self.received: list[dict[str, Any]] = []  # every JSON message the app sent (acknowledgements)

    def send_json(self, message: dict[str, Any]) -> None:
        self._send(TEXT, json.dumps(message).encode())

    def send_envelope(self, kind: str, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Push one envelope; the app's acknowledgement (or None if none came within `timeout`)."""
        envelope_id = str(uuid.uuid4())
        self.send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                        "accepts_response_payload": kind in ("slash_commands", "interactive"), "retry_attempt": 0,
                        "retry_reason": ""})
        with self._acked:
            self._acked.wait_for(lambda: envelope_id in self._acks or not self.open, timeout)
            return self._acks.get(envelope_id)

    def serve(self) -> None:
        """Read the app's frames until it closes: acknowledgements, pings, close."""
        pending = b""
        try:
            while True:
                got = read_frame(self._rfile)
                if got is None:
                    return
                final, opcode, data = got
                if opcode == PING:
                    self._send(PONG, data)
                elif opcode == CLOSE:
                    self._send(CLOSE, data[:2])
                    return
                elif opcode in (TEXT, CONTINUATION):
                    pending += data
                    if final:
                        self._on_message(json.loads(pending))
                        pending = b""
        except (OSError, ValueError):
            return
        finally:
            self.open = False
            with self._acked:
                self._acked.notify_all()

    def _on_message(self, message: dict[str, Any]) -> None:
        self.received.append(message)
        if "envelope_id" in message:
            with self._acked:
                self._acks[message["envelope_id"]] = message
                self._acked.notify_all()

    def _send(self, opcode: int, data: bytes) -> None:
        with self._send_lock:
            self._wfile.write(frame(opcode, data))
            self._wfile.flush()
