"""Block Kit limits, checked on every message and view the bot sends.

Real Slack answers `invalid_blocks` with a terse message; the simulator names the exact path and
limit so a failing test says what to fix. Limits are Slack's documented ones (docs.slack.dev,
"Block Kit reference": blocks, block elements, composition objects, views).
"""

from __future__ import annotations

from typing import Any, Literal

MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
MAX_MESSAGE_TEXT = 40_000

BLOCK_TYPES = {"section", "header", "divider", "actions", "context", "input", "image", "rich_text",
               "markdown", "video", "file", "call"}
SELECTS = {"static_select", "external_select", "users_select", "conversations_select", "channels_select",
           "multi_static_select", "multi_external_select", "multi_users_select",
           "multi_conversations_select", "multi_channels_select"}
INTERACTIVE = SELECTS | {"button", "overflow", "datepicker", "timepicker", "datetimepicker", "checkboxes",
                         "radio_buttons", "workflow_button"}
INPUT_ELEMENTS = SELECTS | {"plain_text_input", "radio_buttons", "checkboxes", "datepicker", "timepicker",
                            "datetimepicker", "number_input", "email_text_input", "url_text_input",
                            "rich_text_input", "file_input"}
ACCESSORY = INTERACTIVE | {"image"}
CONTEXT_ELEMENTS = {"image", "plain_text", "mrkdwn"}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()

    def err(self, path: str, msg: str) -> None:
        self.errors.append(f"{path}: {msg}")

    def maxlen(self, path: str, value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(path, f"must be at most {limit} characters (got {len(value)})")

    def text(self, path: str, obj: Any, *, limit: int, plain_only: bool = False, required: bool = True) -> None:
        if obj is None:
            if required:
                self.err(path, "is required")
            return
        if not isinstance(obj, dict):
            self.err(path, "must be a text object")
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.err(f"{path}.type", f"must be {' or '.join(allowed)} (got {kind!r})")
        t = obj.get("text")
        if not isinstance(t, str) or not t:
            self.err(f"{path}.text", "must be a non-empty string")
        else:
            self.maxlen(f"{path}.text", t, limit)

    def option(self, path: str, opt: Any, *, mrkdwn_ok: bool = False) -> None:
        if not isinstance(opt, dict):
            self.err(path, "must be an option object")
            return
        self.text(f"{path}.text", opt.get("text"), limit=75, plain_only=not mrkdwn_ok)
        v = opt.get("value")
        if not isinstance(v, str) or not v:
            self.err(f"{path}.value", "must be a non-empty string")
        else:
            self.maxlen(f"{path}.value", v, 150)
        if "description" in opt:
            self.text(f"{path}.description", opt["description"], limit=75, plain_only=not mrkdwn_ok)

    def element(self, path: str, el: Any, allowed: set[str]) -> None:
        if not isinstance(el, dict):
            self.err(path, "must be an object")
            return
        kind = el.get("type")
        if kind not in allowed:
            self.err(f"{path}.type", f"{kind!r} is not allowed here")
            return
        if "action_id" in el:
            self.maxlen(f"{path}.action_id", el["action_id"], 255)
        if kind == "button":
            self.text(f"{path}.text", el.get("text"), limit=75, plain_only=True)
            self.maxlen(f"{path}.value", el.get("value"), 2000)
            self.maxlen(f"{path}.url", el.get("url"), 3000)
            if el.get("style") not in (None, "primary", "danger"):
                self.err(f"{path}.style", "must be primary or danger")
        if kind in SELECTS or kind in {"overflow", "checkboxes", "radio_buttons"}:
            if "placeholder" in el:
                self.text(f"{path}.placeholder", el["placeholder"], limit=150, plain_only=True)
            opts = el.get("options")
            groups = el.get("option_groups")
            if kind in {"static_select", "multi_static_select"} and opts is None and groups is None:
                self.err(path, "static_select needs options or option_groups")
            limit = {"overflow": 5, "checkboxes": 10, "radio_buttons": 10}.get(kind, 100)
            if isinstance(opts, list):
                if len(opts) > limit:
                    self.err(f"{path}.options", f"at most {limit} options (got {len(opts)})")
                if kind == "overflow" and len(opts) < 2:
                    self.err(f"{path}.options", "overflow needs at least 2 options")
                for i, o in enumerate(opts):
                    self.option(f"{path}.options[{i}]", o, mrkdwn_ok=kind in {"checkboxes", "radio_buttons"})
            if isinstance(groups, list):
                for gi, g in enumerate(groups):
                    for i, o in enumerate(g.get("options", [])):
                        self.option(f"{path}.option_groups[{gi}].options[{i}]", o)
        if kind == "plain_text_input":
            ml = el.get("max_length")
            if isinstance(ml, int) and ml > 3000:
                self.err(f"{path}.max_length", "must be at most 3000")
            self.maxlen(f"{path}.initial_value", el.get("initial_value"), 3000)
        if kind == "image":
            for key in ("image_url", "alt_text"):
                if key not in el and not (key == "image_url" and "slack_file" in el):
                    self.err(f"{path}.{key}", "is required")

    def block(self, path: str, b: Any, surface: str) -> None:
        if not isinstance(b, dict):
            self.err(path, "must be an object")
            return
        kind = b.get("type")
        if kind not in BLOCK_TYPES:
            self.err(f"{path}.type", f"unknown block type {kind!r}")
            return
        bid = b.get("block_id")
        if bid is not None:
            if not isinstance(bid, str) or not bid:
                self.err(f"{path}.block_id", "must be a non-empty string")
            else:
                self.maxlen(f"{path}.block_id", bid, 255)
                if bid in self.block_ids:
                    self.err(f"{path}.block_id", f"duplicate block_id {bid!r}")
                self.block_ids.add(bid)
        if kind == "section":
            if "text" not in b and "fields" not in b:
                self.err(path, "section needs text or fields")
            if "text" in b:
                self.text(f"{path}.text", b["text"], limit=3000)
            fields = b.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.err(f"{path}.fields", "at most 10 fields")
                else:
                    for i, f in enumerate(fields):
                        self.text(f"{path}.fields[{i}]", f, limit=2000)
            if "accessory" in b:
                self.element(f"{path}.accessory", b["accessory"], ACCESSORY)
        elif kind == "header":
            self.text(f"{path}.text", b.get("text"), limit=150, plain_only=True)
        elif kind == "actions":
            els = b.get("elements")
            if not isinstance(els, list) or not els:
                self.err(f"{path}.elements", "must be a non-empty list")
                return
            if len(els) > 25:
                self.err(f"{path}.elements", f"at most 25 elements (got {len(els)})")
            seen: set[str] = set()
            for i, el in enumerate(els):
                self.element(f"{path}.elements[{i}]", el, INTERACTIVE)
                aid = el.get("action_id") if isinstance(el, dict) else None
                if aid:
                    if aid in seen:
                        self.err(f"{path}.elements[{i}].action_id", f"duplicate action_id {aid!r} in block")
                    seen.add(aid)
        elif kind == "context":
            els = b.get("elements")
            if not isinstance(els, list) or not els:
                self.err(f"{path}.elements", "must be a non-empty list")
                return
            if len(els) > 10:
                self.err(f"{path}.elements", f"at most 10 elements (got {len(els)})")
            for i, el in enumerate(els):
                if isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                    self.text(f"{path}.elements[{i}]", el, limit=3000)
                else:
                    self.element(f"{path}.elements[{i}]", el, {"image"})
        elif kind == "input":
            self.text(f"{path}.label", b.get("label"), limit=2000, plain_only=True)
            if "hint" in b:
                self.text(f"{path}.hint", b["hint"], limit=2000, plain_only=True)
            self.element(f"{path}.element", b.get("element"), INPUT_ELEMENTS)
            if surface == "message" and not b.get("dispatch_action"):
                pass  # input blocks in messages are legal only with dispatch_action; Slack tolerates both
        elif kind == "image":
            self.element(path, b, {"image"})
            if "title" in b:
                self.text(f"{path}.title", b["title"], limit=2000, plain_only=True)
        elif kind == "markdown":
            t = b.get("text")
            if not isinstance(t, str) or not t:
                self.err(f"{path}.text", "must be a non-empty string")
            else:
                self.maxlen(f"{path}.text", t, 12000)


def validate_blocks(blocks: Any, surface: Literal["message", "modal", "home"] = "message",
                    _checker: _Checker | None = None) -> list[str]:
    """Every Block Kit rule the given blocks break, as readable strings; [] when valid."""
    c = _checker or _Checker()
    if not isinstance(blocks, list):
        return ["blocks: must be a list"]
    if len(blocks) > MAX_BLOCKS[surface]:
        c.err("blocks", f"at most {MAX_BLOCKS[surface]} blocks in a {surface} (got {len(blocks)})")
    for i, b in enumerate(blocks):
        c.block(f"blocks[{i}]", b, surface)
    return c.errors


def validate_view(view: Any) -> list[str]:
    """Rules for views.open / views.update / views.push payloads (modal or home tab)."""
    if not isinstance(view, dict):
        return ["view: must be an object"]
    c = _Checker()
    kind = view.get("type")
    if kind not in ("modal", "home"):
        c.err("view.type", f"must be modal or home (got {kind!r})")
    if kind == "home":
        # A Home tab has no title bar or buttons of its own (docs.slack.dev, "App Home": view object fields).
        for key in ("title", "submit", "close"):
            if key in view:
                c.err(f"view.{key}", "is not allowed in a home view")
    if kind == "modal":
        c.text("view.title", view.get("title"), limit=24, plain_only=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        if "submit" in view:
            c.text("view.submit", view["submit"], limit=24, plain_only=True)
        elif has_input:
            c.err("view.submit", "is required when the modal has input blocks")
        if "close" in view:
            c.text("view.close", view["close"], limit=24, plain_only=True)
    c.maxlen("view.private_metadata", view.get("private_metadata"), 3000)
    c.maxlen("view.callback_id", view.get("callback_id"), 255)
    c.maxlen("view.external_id", view.get("external_id"), 255)
    if "blocks" not in view:
        c.err("view.blocks", "is required")
    else:
        validate_blocks(view["blocks"], "home" if kind == "home" else "modal", c)
    return c.errors


def validate_message(text: Any, blocks: Any) -> list[str]:
    errors: list[str] = []
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        errors.append(f"text: must be at most {MAX_MESSAGE_TEXT} characters (got {len(text)})")
    if blocks is not None:
        errors += validate_blocks(blocks, "message")
    return errors
