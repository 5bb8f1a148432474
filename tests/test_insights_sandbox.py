"""The sandbox page shows an uploaded image inline, as Slack does: the message JSON carries the file with its type
and a same-origin URL, and that URL serves the PNG bytes the bot uploaded, to people who can see the message only."""
from __future__ import annotations

import urllib.error
import urllib.request

from bot.insights.chart import PNG_SIGNATURE
from bot.sandbox import Sandbox
from tests.harness import wait_for
from tests.test_sandbox_web import _request, _state


def _get(sandbox: Sandbox, path: str) -> tuple[int, str, bytes]:
    assert sandbox.web is not None
    try:
        with urllib.request.urlopen(sandbox.web.url.rstrip("/") + path, timeout=20) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read()


def test_the_insights_picture_shows_inline_in_the_dm(sandbox: Sandbox) -> None:
    status, body = _request(sandbox, "/api/send", {"user": "U0IC", "channel": "C0GENERAL", "text": "/incident insights 7d"})
    assert status == 200 and body["ok"], body
    dm_id = _state(sandbox, "U0IC")["dms"][0]["id"]
    message = wait_for(lambda: next((m for m in (_state(sandbox, "U0IC", dm_id)["channel"] or {}).get("messages", []) if m["files"]), None),
                       timeout=30, what="the picture in the DM")
    shared = message["files"][0]
    assert shared["mimetype"] == "image/png" and shared["name"] == "sevbot-insights-7d.png"
    assert shared["url"] == f"/files/{shared['id']}"

    status, ctype, data = _get(sandbox, f"{shared['url']}?user=U0IC")
    assert (status, ctype) == (200, "image/png") and data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    # Someone else cannot read Ines's DM through the page; an unknown file is a 404 too.
    assert _get(sandbox, f"{shared['url']}?user=U0L1")[0] == 404
    assert _get(sandbox, "/files/FNOPE?user=U0IC")[0] == 404
    # The answer itself was private, in the channel where the command was typed.
    ephemerals = _state(sandbox, "U0IC", "C0GENERAL")["channel"]["ephemerals"]
    assert any("Incident insights: the last 7 days" in e["text"] for e in ephemerals)
    assert _state(sandbox, "U0L1", "C0GENERAL")["channel"]["ephemerals"] == []
