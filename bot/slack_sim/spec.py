"""Checks every Web API call against Slack's official OpenAPI-2 spec (+ our supplement).

Why: a simulator that accepts anything hides bugs real Slack would reject (a misspelt argument is
silently ignored by Slack, which is worse). The 2020 spec is the authority for arguments of older
methods; `spec/supplement.json` adds methods and arguments Slack introduced later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).parent / "spec"

# Accepted by every method. `team_id`: slack_sdk adds it to every call when the client has one, and
# Bolt's per-request `client` always does (org-wide apps need it); Slack accepts it everywhere.
GLOBAL_ARGS = frozenset({"token", "team_id"})


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool


@lru_cache(maxsize=1)
def methods() -> dict[str, dict[str, Param]]:
    """method name -> {param name -> Param}, loaded once per process."""
    out: dict[str, dict[str, Param]] = {}
    for fname in ("slack_web_openapi_v2.json", "supplement.json"):
        spec = json.loads((SPEC_DIR / fname).read_text(encoding="utf-8"))
        for path, ops in spec["paths"].items():
            params = out.setdefault(path.lstrip("/"), {})
            for op in ops.values():
                for p in op.get("parameters", []):
                    params[p["name"]] = Param(p["name"], p.get("type", "string"), bool(p.get("required")))
    return out


def _type_ok(kind: str, value: Any) -> bool:
    # Form-encoded calls carry everything as strings, so "1"/"true" count as integer/boolean.
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.lstrip("-").isdigit())
    if kind == "boolean":
        return isinstance(value, bool) or value in (0, 1) or (
            isinstance(value, str) and value.lower() in ("true", "false", "1", "0"))
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) or (
            isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit())
    # "string" args such as blocks/view/files arrive as decoded JSON in application/json bodies.
    return value is not None


def check_call(method: str, args: dict[str, Any]) -> list[str]:
    """Everything about this call the spec disallows, as readable strings; [] when valid."""
    spec = methods().get(method)
    if spec is None:
        return [f"{method}: not a Slack Web API method in the spec"]
    problems: list[str] = []
    for p in spec.values():
        if p.required and p.name != "token" and args.get(p.name) in (None, ""):
            problems.append(f"{method}: missing required argument `{p.name}`")
    for name, value in args.items():
        if name in GLOBAL_ARGS and name not in spec:
            continue
        p = spec.get(name)
        if p is None:
            problems.append(f"{method}: unknown argument `{name}` (spec lists: {', '.join(sorted(spec))})")
        elif not _type_ok(p.type, value):
            problems.append(f"{method}: argument `{name}` must be {p.type}, got {value!r}")
    return problems
