"""Find similar past incidents: candidates from the database's full-text index (FTS5 on SQLite, a `tsvector` with a
GIN index on PostgreSQL), the same service and the same alert; then one score for all of them (scoring.py).

Every candidate query is bounded (LIMIT) and indexed, so the lookup stays fast on a long history
(bench/similar_bench.py: 50,000 incidents).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import combinations
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from bot.db.models import Alert, AlertGroup, Incident
from bot.db.types import UTCDateTime
from bot.similar.schema import PG_TEXT_CONFIG, PG_VECTOR_COLUMN, SQLITE_FTS_TABLE
from bot.similar.scoring import DEFAULT_WEIGHTS, Candidate, Query, Weights, score
from bot.similar.words import GENERIC_STEMS, stem, words

# How many candidates each source may bring: enough to hold the right ones, few enough to score in a millisecond or two.
TEXT_CANDIDATES = 40
SERVICE_CANDIDATES = 20
ALERT_CANDIDATES = 30
# The title's words first, then the description's: each word more is a posting list more to rank.
MAX_QUERY_WORDS = 5

# FTS5 ranks inside the virtual table (no row of incidents read per match); the few it returns are filtered after.
_TEXT_SQLITE = text(
    f"SELECT rowid FROM {SQLITE_FTS_TABLE} WHERE {SQLITE_FTS_TABLE} MATCH :query "
    f"ORDER BY bm25({SQLITE_FTS_TABLE}, 2.0, 1.0) LIMIT :limit")
_TEXT_POSTGRES = text(
    f"SELECT i.id FROM incidents i, to_tsquery('{PG_TEXT_CONFIG}', :query) q "
    f"WHERE i.{PG_VECTOR_COLUMN} @@ q AND i.id != :exclude AND i.declared_at < :before "
    f"ORDER BY ts_rank(i.{PG_VECTOR_COLUMN}, q) DESC LIMIT :limit"
).bindparams(bindparam("before", type_=UTCDateTime()))
_SAME_SERVICE = (select(Incident.id)
                 .where(Incident.service == bindparam("service"), Incident.id != bindparam("exclude"),
                        Incident.declared_at < bindparam("before", type_=UTCDateTime()))
                 .order_by(Incident.declared_at.desc()).limit(SERVICE_CANDIDATES))
# Built once, with expanding IN lists: the lookup runs after every declare, and building a statement costs more
# CPU than running these small ones.
_DETAILS = (select(Incident.id, Incident.title, Incident.description, Incident.service, Incident.severity,
                   Incident.declared_at, Incident.resolved_at, Incident.resolution, Incident.postmortem_url)
            .where(Incident.id.in_(bindparam("ids", expanding=True)),
                   Incident.declared_at < bindparam("before", type_=UTCDateTime())))
_TARGET = select(Incident.title, Incident.description, Incident.service, Incident.declared_at).where(Incident.id == bindparam("id"))
_SAME_FINGERPRINT = (select(AlertGroup.incident_id).join(Alert, Alert.group_id == AlertGroup.id)
                     .where(Alert.fingerprint.in_(bindparam("fingerprints", expanding=True)), AlertGroup.incident_id.is_not(None))
                     .distinct().limit(ALERT_CANDIDATES))
_SAME_ALERT_NAME = (select(AlertGroup.incident_id)
                    .where(AlertGroup.incident_id.is_not(None))
                    .where(AlertGroup.title.in_(bindparam("names", expanding=True))
                           | AlertGroup.labels["alertname"].as_string().in_(bindparam("names", expanding=True)))
                    .distinct().limit(ALERT_CANDIDATES))
_GROUPS_OF = (select(AlertGroup.id, AlertGroup.incident_id, AlertGroup.title, AlertGroup.labels)
              .where(AlertGroup.incident_id.in_(bindparam("ids", expanding=True))))
_FINGERPRINTS_OF = select(Alert.group_id, Alert.fingerprint).where(Alert.group_id.in_(bindparam("groups", expanding=True)))


@dataclass(frozen=True)
class SimilarIncident:
    incident_id: int
    title: str
    declared_at: datetime
    severity: str
    service: str | None
    root_cause: str | None      # from the resolve form (Incident.resolution["root_cause"])
    fix: str | None             # "What fixed it?" from the resolve form (Incident.resolution["summary"])
    postmortem_url: str | None
    score: float
    reasons: tuple[str, ...]    # e.g. ("same service", "shared words: timeout, checkout", "same alert")


def similar_to_incident(session: Session, incident_id: int, *, limit: int = 3,
                        weights: Weights = DEFAULT_WEIGHTS) -> list[SimilarIncident]:
    """Past incidents like this one (declared before it), best first; empty when none scores above the threshold."""
    row = session.execute(_TARGET, {"id": incident_id}).one_or_none()
    if row is None:
        return []
    names, fingerprints = _alerts_of(session, [incident_id]).get(incident_id, (frozenset(), frozenset()))
    query = Query(row.title, row.description, row.service, row.declared_at, names, fingerprints)
    return _search(session, query, exclude=incident_id, limit=limit, weights=weights)


def similar_to_text(session: Session, text: str, *, service: str | None = None, limit: int = 3,
                    exclude: int | None = None, now: datetime | None = None,
                    weights: Weights = DEFAULT_WEIGHTS) -> list[SimilarIncident]:
    """Incidents whose words are like `text` (and of `service`, when given), best first."""
    at = now or datetime.now(timezone.utc)
    return _search(session, Query(text, None, service, at), exclude=exclude, limit=limit, weights=weights)


def _search(session: Session, query: Query, *, exclude: int | None, limit: int, weights: Weights) -> list[SimilarIncident]:
    query_terms = query.weighted_terms()
    params: dict[str, Any] = {"exclude": exclude if exclude is not None else -1, "before": query.at}
    ids: set[int] = set(_by_text(session, query, params))
    if query.service is not None:
        ids.update(session.scalars(_SAME_SERVICE, {**params, "service": query.service}))
    by_alert = _by_alert(session, query, exclude)
    ids.update(by_alert)
    ids.discard(exclude)  # type: ignore[arg-type]
    if not ids:
        return []
    alerts = _alerts_of(session, sorted(by_alert))
    found: list[SimilarIncident] = []
    for row in session.execute(_DETAILS, {"ids": sorted(ids), "before": query.at}):
        resolution = row.resolution or {}
        names, fingerprints = alerts.get(row.id, (frozenset(), frozenset()))
        candidate = Candidate(row.id, row.title, row.description, row.service, row.declared_at,
                              resolved=row.resolved_at is not None, root_cause=_text(resolution.get("root_cause")),
                              alert_names=names, fingerprints=fingerprints)
        scored = score(query, query_terms, candidate, weights)
        if scored is None or scored.score < weights.threshold:
            continue
        found.append(SimilarIncident(row.id, row.title, row.declared_at, row.severity, row.service, candidate.root_cause,
                                     _text(resolution.get("summary")), row.postmortem_url, scored.score, scored.reasons))
    found.sort(key=lambda s: (-s.score, -s.declared_at.timestamp(), -s.incident_id))
    return found[:limit]


def _by_text(session: Session, query: Query, params: dict[str, Any]) -> list[int]:
    """Candidates from the full-text index, best ranked first: incidents sharing at least two of the query's words
    (or its only word), one of them from the title. Ranking every incident that shares one common word (or two words
    every description says) is what makes a lookup slow on a long history; one shared word alone scores under the
    threshold anyway, unless the service is the same, and the same service brings its own candidates. Generic words
    ("error", "slow") are left out when the query has others."""
    title = _specific(words(query.title))
    body = [word for word in _specific(words(query.description)) if word not in title]
    chosen = [*title, *body][:MAX_QUERY_WORDS]
    if not chosen:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    # Words are [a-z0-9]+ only (words.py), so they are safe inside either query language.
    quote = (lambda word: word) if postgres else (lambda word: f'"{word}"')
    both, either = (" & ", " | ") if postgres else (" AND ", " OR ")
    anchors = [word for word in chosen if word in title] or chosen
    pairs = [f"({quote(a)}{both}{quote(b)})" for a, b in combinations(chosen, 2) if a in anchors or b in anchors]
    match = either.join(pairs or [quote(word) for word in chosen])
    if postgres:
        return list(session.scalars(_TEXT_POSTGRES, {**params, "query": match, "limit": TEXT_CANDIDATES}))
    return list(session.scalars(_TEXT_SQLITE, {"query": match, "limit": TEXT_CANDIDATES}))


def _specific(found: list[str]) -> list[str]:
    """One word per stem, in order; generic words only when there is nothing else."""
    seen: dict[str, str] = {}
    for word in found:
        seen.setdefault(stem(word), word)
    return [word for s, word in seen.items() if s not in GENERIC_STEMS] or list(seen.values())


def _by_alert(session: Session, query: Query, exclude: int | None) -> set[int]:
    """Incidents declared from (or given) an alert group with the same alert name, or an alert with the same
    fingerprint."""
    found: set[int] = set()
    if query.fingerprints:
        found.update(session.scalars(_SAME_FINGERPRINT, {"fingerprints": sorted(query.fingerprints)}))
    if query.alert_names:
        found.update(session.scalars(_SAME_ALERT_NAME, {"names": sorted(query.alert_names)}))
    found.discard(exclude)  # type: ignore[arg-type]
    return {incident_id for incident_id in found if incident_id is not None}


def _alerts_of(session: Session, incident_ids: list[int]) -> dict[int, tuple[frozenset[str], frozenset[str]]]:
    """Each incident's alert names (the `alertname` label, else the group's title) and alert fingerprints."""
    if not incident_ids:
        return {}
    names: dict[int, set[str]] = {}
    prints: dict[int, set[str]] = {}
    groups = session.execute(_GROUPS_OF, {"ids": incident_ids}).all()
    for group in groups:
        label = (group.labels or {}).get("alertname")
        names.setdefault(group.incident_id, set()).add(str(label) if label else group.title)
    owner = {group.id: group.incident_id for group in groups}
    if owner:
        for group_id, fingerprint in session.execute(_FINGERPRINTS_OF, {"groups": sorted(owner)}):
            prints.setdefault(owner[group_id], set()).add(fingerprint)
    return {i: (frozenset(names.get(i, ())), frozenset(prints.get(i, ()))) for i in set(names) | set(prints)}


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
