"""Severity words as people type them: `sev1`, `SEV1`, `p1` all mean the same level."""
from __future__ import annotations

import re

from bot.config import IncidentConfig

_SEVERITY_WORD = re.compile(r"^(?:sev|p)([0-9])$", re.IGNORECASE)


def looks_like_severity(word: str) -> bool:
    return bool(_SEVERITY_WORD.match(word))


def normalise_severity(word: str, config: IncidentConfig) -> str | None:
    """`P1` → `sev1` when the config knows sev1; None when the word is not a configured severity."""
    match = _SEVERITY_WORD.match(word)
    if not match:
        return None
    key = f"sev{match.group(1)}"
    return key if key in config.severities else None


def severity_rank(key: str) -> int:
    """Lower is worse: sev0 ranks 0."""
    return int(key.removeprefix("sev"))


def suggested_minimum(scope: str | None, service: str | None, config: IncidentConfig) -> str | None:
    """All users on a critical service is at least SEV1 (seeds: 'payments down' is revenue impact)."""
    if scope == "all" and config.is_critical(service):
        return "sev1" if "sev1" in config.severities else None
    return None


def severity_label(config: IncidentConfig, key: str) -> str:
    """`SEV1 · High` for a configured severity; an unknown key (from an older policy file) shown as it is."""
    return config.severities[key].label if key in config.severities else key.upper()
