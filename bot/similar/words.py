"""Words for matching incidents: the same light normalisation on both sides, so SQLite and PostgreSQL agree.

The database's full-text index only *finds* candidates (it stems with Porter or the `english` configuration); the
score is computed here from these words, identically on both backends.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if in into is it its "
    "of on or our out so than that the their them then there these they this to too up was we were what when "
    "where which while who why will with you your after before again all any also just more most no not now "
    "only over since some still very via".split())
# Words nearly every incident says: they count, but little (a shared "error" says less than a shared "checkout").
GENERIC = frozenset(
    "error errors fail failed failing failure failures issue issues problem problems incident down outage degraded "
    "slow high low users user service services prod production broken spike increased elevated some many unable "
    "cannot".split())
GENERIC_WEIGHT = 0.3
MIN_LENGTH = 2


def stem(word: str) -> str:
    """A few English endings off (timeouts → timeout, failing → fail, retries → retry): enough to match inflections."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str | None) -> list[str]:
    """The meaningful words of `text`, lower-cased, in order, stop words left out."""
    if not text:
        return []
    return [w for w in _WORD.findall(text.lower()) if len(w) >= MIN_LENGTH and w not in STOPWORDS]


@lru_cache(maxsize=8192)
def terms(text: str | None) -> Mapping[str, str]:
    """Stem → the first word that produced it (shown to people as a reason: "shared words: timeout"). Cached: the
    same past incidents come up lookup after lookup, and their words don't change with the question."""
    found: dict[str, str] = {}
    for word in words(text):
        found.setdefault(stem(word), word)
    return found


GENERIC_STEMS = frozenset(stem(word) for word in GENERIC)


def weight(term: str) -> float:
    """How much a shared stem counts."""
    return GENERIC_WEIGHT if term in GENERIC_STEMS else 1.0
