"""How alike a past incident is: pure rules, the same on every backend (see docs/similar.md)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.similar.words import terms, weight

MAX_REASON_WORDS = 4


@dataclass(frozen=True)
class Weights:
    """The knobs (docs/similar.md#tuning). A match must share words or an alert; the service alone never qualifies."""

    text: float = 0.8  # all of the title's words shared
    service: float = 0.25
    alert: float = 0.35  # the same alert (fingerprint) or alert name
    root_cause: float = 0.05  # resolved with a root cause: the answer people want
    half_life_days: float = 365.0  # an incident this old counts half as much above the floor...
    recency_floor: float = 0.6  # ...and even a very old one keeps this share of its score
    threshold: float = 0.3  # below this, nothing is shown (no noise)


DEFAULT_WEIGHTS = Weights()
# Description words count half as much as title words, and together at most as much as the title.
BODY_WEIGHT = 0.5


@dataclass(frozen=True)
class Query:
    """What a new incident (or a person's text) says."""

    title: str
    description: str | None
    service: str | None
    at: datetime  # ages are measured from here
    alert_names: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()

    def weighted_terms(self) -> dict[str, tuple[float, str]]:
        """Stem → (its weight in this query, the word as written)."""
        found = {stem: (weight(stem), word) for stem, word in terms(self.title).items()}
        body = {stem: (weight(stem) * BODY_WEIGHT, word) for stem, word in terms(self.description).items() if stem not in found}
        title_total, body_total = sum(w for w, _ in found.values()), sum(w for w, _ in body.values())
        scale = min(1.0, max(title_total, 1.0) / body_total) if body_total else 1.0
        found.update({stem: (w * scale, word) for stem, (w, word) in body.items()})
        return found


@dataclass(frozen=True)
class Candidate:
    """A past incident as the lookup read it."""

    incident_id: int
    title: str
    description: str | None
    service: str | None
    declared_at: datetime
    resolved: bool
    root_cause: str | None
    alert_names: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Scored:
    score: float
    reasons: tuple[str, ...]


def score(query: Query, query_terms: dict[str, tuple[float, str]], candidate: Candidate,
          weights: Weights = DEFAULT_WEIGHTS) -> Scored | None:
    """The candidate's score and why, or None when it shares neither words nor an alert with the query."""
    reasons: list[str] = []
    title_terms, body_terms = terms(candidate.title), terms(candidate.description)
    shared = [(w, word) for stem, (w, word) in query_terms.items() if stem in title_terms or stem in body_terms]
    total = sum(w for w, _ in query_terms.values())
    text = sum(w for w, _ in shared) / total if total else 0.0
    same_alert = bool(query.fingerprints & candidate.fingerprints) or bool(query.alert_names & candidate.alert_names)
    if not shared and not same_alert:
        return None
    raw = weights.text * text
    if query.service is not None and candidate.service == query.service:
        raw += weights.service
        reasons.append("same service")
    if shared:
        strongest = [word for _, word in sorted(shared, key=lambda s: -s[0])[:MAX_REASON_WORDS]]
        reasons.append("shared words: " + ", ".join(strongest))
    if same_alert:
        raw += weights.alert
        names = sorted(query.alert_names & candidate.alert_names)
        reasons.append(f"same alert: {', '.join(names)}" if names else "same alert")
    age_days = max(0.0, (query.at - candidate.declared_at).total_seconds() / 86400)
    recency = weights.recency_floor + (1 - weights.recency_floor) * 0.5 ** (age_days / weights.half_life_days)
    value = raw * recency
    if candidate.resolved and candidate.root_cause:
        value += weights.root_cause
        reasons.append("root cause known")
    return Scored(round(value, 4), tuple(reasons))
