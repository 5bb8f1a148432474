"""Similar past incidents: the lookup's quality on a labelled history (precision@3), its rules, on both backends."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.models import Incident
from bot.settings import load_settings
from bot.similar.scoring import DEFAULT_WEIGHTS
from bot.similar.search import similar_to_incident, similar_to_text
from tests.similar_history import NOW, PAST, seed


@pytest.fixture
def history(database_url: str) -> Iterator[tuple[Database, dict[int, str], dict[int, object]]]:
    url = load_settings(database_url=database_url).database_url
    upgrade(url)
    db = Database(url)
    with db.unit_of_work() as session:
        kinds, new = seed(session)
    try:
        yield db, kinds, new  # type: ignore[misc]
    finally:
        db.dispose()


def test_precision_at_3_on_a_labelled_history_is_at_least_0_8(history) -> None:  # type: ignore[no-untyped-def]
    """30 past incidents, 10 new ones, each with exactly three right answers. Measured: precision@3 = 0.93 on SQLite
    and on PostgreSQL (28 of the 30 places are right; both misses are a checkout incident of the other checkout kind
    in third place, same service and one shared word); required: at least 0.8."""
    db, kinds, new = history
    hits, misses = 0, []
    with db.unit_of_work() as session:
        for incident_id, query in new.items():
            shown = similar_to_incident(session, incident_id)
            right = [s for s in shown if kinds.get(s.incident_id) == query.kind]  # type: ignore[attr-defined]
            hits += len(right)
            if len(right) < 3:
                misses.append((query.title, [(s.title, s.score, s.reasons) for s in shown]))  # type: ignore[attr-defined]
    precision = hits / (3 * len(new))
    print(f"precision@3 = {precision:.2f}")
    assert precision >= 0.8, f"precision@3 = {precision:.2f}; misses: {misses}"
    assert len(new) == 10 and len(kinds) == len(PAST) == 30


def test_a_result_says_what_was_decided_and_why(history) -> None:  # type: ignore[no-untyped-def]
    db, kinds, new = history
    payment = next(i for i, q in new.items() if q.kind == "payment-timeouts")  # type: ignore[attr-defined]
    with db.unit_of_work() as session:
        best = similar_to_incident(session, payment)[0]
    assert best.title == "Checkout requests timing out at the payment step"
    assert best.root_cause == "Connection pool to the payment gateway exhausted"
    assert best.fix == "Raised the pool size and added a circuit breaker"
    assert best.postmortem_url and best.postmortem_url.startswith("https://wiki.example.com/pm/")
    assert best.declared_at == NOW - timedelta(days=40) and best.severity == "sev2" and best.service == "checkout"
    assert "same service" in best.reasons and "same alert: CheckoutLatencyHigh" in best.reasons
    assert any(r.startswith("shared words: ") and "checkout" in r for r in best.reasons)
    assert best.score >= DEFAULT_WEIGHTS.threshold


def test_free_text_finds_them_too_and_nonsense_finds_nothing(history) -> None:  # type: ignore[no-untyped-def]
    db, kinds, _new = history
    with db.unit_of_work() as session:
        shown = similar_to_text(session, "kafka consumer lag, notifications delayed", now=NOW)
        assert [kinds[s.incident_id] for s in shown] == ["kafka-lag"] * 3
        assert similar_to_text(session, "quarterly marketing newsletter layout", now=NOW) == []
        assert similar_to_text(session, "", now=NOW) == []
        assert similar_to_text(session, "<!channel> & ' \" OR NEAR( * -- ;", now=NOW) == []  # query syntax is inert


def test_only_past_incidents_and_never_itself(history) -> None:  # type: ignore[no-untyped-def]
    db, kinds, _new = history
    with db.unit_of_work() as session:
        oldest_dns = min((i for i, k in kinds.items() if k == "dns"), key=lambda i: session.get_one(Incident, i).declared_at)
        shown = similar_to_incident(session, oldest_dns)
        older = session.get_one(Incident, oldest_dns).declared_at
        assert all(s.incident_id != oldest_dns and s.declared_at < older for s in shown)
        assert similar_to_incident(session, 999_999) == []


def test_the_service_alone_is_not_enough(history) -> None:  # type: ignore[no-untyped-def]
    db, _kinds, _new = history
    with db.unit_of_work() as session:
        assert similar_to_text(session, "quarterly marketing newsletter", service="checkout", now=NOW) == []


def test_a_title_change_is_searchable_at_once(history) -> None:  # type: ignore[no-untyped-def]
    """The FTS5 triggers / the generated tsvector follow updates of the title and description."""
    db, kinds, _new = history
    with db.unit_of_work() as session:
        renamed = next(i for i, k in kinds.items() if k == "ios-crash")
        incident = session.get_one(Incident, renamed)
        incident.title, incident.description = "Zebra stampede in the datacenter", "Animals everywhere"
    with db.unit_of_work() as session:
        assert [s.incident_id for s in similar_to_text(session, "zebra stampede", now=NOW)] == [renamed]
        assert renamed not in [s.incident_id for s in similar_to_text(session, "iOS crashing on launch", now=NOW)]
