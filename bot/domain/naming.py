"""Slack channel names for incidents: lowercase letters, digits, `-` and `_`, at most 80 characters."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

MAX_CHANNEL_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")


def slugify(text: str, max_length: int = 40) -> str:
    """ASCII slug of a title; emoji and non-Latin scripts fall away (may return '')."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = _DASHES.sub("-", _NOT_ALLOWED.sub("-", ascii_text)).strip("-_")
    return slug[:max_length].rstrip("-_")


def channel_name(template: str, *, severity: str, declared_at: datetime, title: str, incident_number: int) -> str:
    """Render the configured template into a valid channel name; a title with no Latin letters uses the id."""
    slug = slugify(title) or f"inc-{incident_number}"
    raw = template.format(severity=severity, date=declared_at.strftime("%Y%m%d"), slug=slug, id=f"inc-{incident_number}")
    name = _DASHES.sub("-", _NOT_ALLOWED.sub("-", raw.lower())).strip("-_")
    return name[:MAX_CHANNEL_NAME].rstrip("-_") or f"inc-{incident_number}"


def with_suffix(base: str, attempt: int) -> str:
    """`name`, then `name-2`, `name-3`, … trimmed so the suffix always fits in 80 characters."""
    if attempt <= 1:
        return base
    suffix = f"-{attempt}"
    return base[: MAX_CHANNEL_NAME - len(suffix)].rstrip("-_") + suffix
