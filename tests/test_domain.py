"""The pure rules: severity words, channel names, escaping. No Slack, no database."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.config import IncidentConfig
from bot.domain.naming import MAX_CHANNEL_NAME, channel_name, slugify, with_suffix
from bot.domain.severity import normalise_severity, suggested_minimum
from bot.domain.text import escape_mrkdwn, truncate

CONFIG = IncidentConfig()
WHEN = datetime(2026, 11, 22, 5, 40, tzinfo=timezone.utc)
VALID_NAME = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(("word", "expected"), [("sev1", "sev1"), ("SEV0", "sev0"), ("p2", "sev2"), ("P3", "sev3"), ("sev7", None), ("high", None)])
def test_severity_words(word: str, expected: str | None) -> None:
    assert normalise_severity(word, CONFIG) == expected


def test_all_users_on_a_critical_service_suggests_sev1() -> None:
    assert suggested_minimum("all", "payments", CONFIG) == "sev1"
    assert suggested_minimum("some", "payments", CONFIG) is None
    assert suggested_minimum("all", "search", CONFIG) is None


def test_default_channel_name() -> None:
    name = channel_name("{severity}-{date}-{slug}", severity="sev1", declared_at=WHEN, title="Checkout is failing for ALL users!", incident_number=42)
    assert name == "sev1-20261122-checkout-is-failing-for-all-users"


@pytest.mark.parametrize("title", ["🔥🔥🔥", "الدفع لا يعمل", "x" * 2000, "<!channel> & <@U123> > 'quotes'", "Ünïcödé café"])
def test_channel_names_are_always_valid(title: str) -> None:
    name = channel_name("{severity}-{date}-{slug}", severity="sev2", declared_at=WHEN, title=title, incident_number=7)
    assert 0 < len(name) <= MAX_CHANNEL_NAME
    assert set(name) <= VALID_NAME
    if not slugify(title):
        assert name.endswith("inc-7")


def test_suffixes_fit_in_80_characters() -> None:
    base = "a" * 80
    assert with_suffix(base, 1) == base
    assert with_suffix(base, 2).endswith("-2") and len(with_suffix(base, 2)) == 80
    assert len(with_suffix(base, 137)) <= 80


def test_escape_makes_mentions_inert() -> None:
    assert escape_mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_truncate_never_splits_an_escape() -> None:
    text = "a" * 8 + "&amp;"
    assert truncate(text, 10) == "a" * 8 + "…"
    assert truncate("short", 10) == "short"
