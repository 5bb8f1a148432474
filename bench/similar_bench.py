#!/usr/bin/env python3
"""Similar-incidents benchmark: the lookup on a history of 50,000 incidents (p50/p95/p99 per lookup).

Seeds a fresh database (a SQLite file, or with --database-url a scratch PostgreSQL database created and dropped
around the run) at the newest revision, bulk-inserting 50,000 incidents made from a realistic vocabulary: 40
services, 60 symptoms, 40 causes, 30 fixes, three years of declare times, 70% resolved with a root cause and a fix,
15% declared from an alert group (with an alert fingerprint), and a few hundred cross-service words. Then it times,
in this process and on one connection as the outbox handler does:

  incident   similar_to_incident(session, id) for 500 recent incidents (what the declare notice runs)
  text       similar_to_text(session, words) for 500 two-to-five word queries (what `/incident similar …` runs)

Target: p99 <= 50 ms each. The declare's ack is untouched by the lookup (it runs on the outbox after provisioning);
bench/declare_bench.py measures that with the lookup in place.

Run:  .venv/bin/python bench/similar_bench.py [--database-url postgresql://postgres@127.0.0.1:5432/test] [--incidents 50000]
Exit status: 0 (a measurement); 1 if a lookup failed.
"""
from __future__ import annotations

import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.db.engine import Database  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Alert, AlertGroup, Incident  # noqa: E402
from bot.similar.search import similar_to_incident, similar_to_text  # noqa: E402
from serve_harness import argument_parser, scratch_database  # noqa: E402

SERVICES = ("checkout", "payments", "cart", "search", "auth", "notifications", "orders-db", "api-gateway", "web", "mobile",
            "platform", "billing", "inventory", "shipping", "recommendations", "profile", "media", "cdn", "kafka",
            "redis", "postgres", "elasticsearch", "ledger", "fraud", "pricing", "catalog", "reviews", "support-portal",
            "admin", "reporting", "warehouse", "email", "sms", "push", "identity", "sessions", "feature-flags",
            "scheduler", "batch-jobs", "data-pipeline")
SYMPTOMS = ("timeouts", "500 errors", "high latency", "elevated error rate", "requests failing", "pods crashlooping",
            "OOM kills", "disk full", "replication lag", "consumer lag", "queue backlog", "connection pool exhausted",
            "TLS handshake failures", "certificate expired", "DNS resolution failures", "404 on static assets",
            "login failures", "sessions dropped", "duplicate charges", "missing orders", "stale cache", "slow queries",
            "deadlocks", "CPU saturation", "memory leak", "thread pool exhausted", "rate limited by provider",
            "webhook deliveries failing", "emails delayed", "push notifications delayed", "search results empty",
            "index corruption", "cron job not running", "batch job stuck", "data export failing", "wrong prices shown",
            "inventory out of sync", "images not loading", "app crash on launch", "checkout button unresponsive",
            "payment declined for valid cards", "refunds failing", "partial outage in eu-west", "us-east unavailable",
            "load balancer health checks failing", "5xx from upstream", "circuit breaker open", "retry storm",
            "cache stampede", "hot partition", "split brain", "failover did not happen", "backup failed",
            "latency spikes after deploy", "errors after config change", "feature flag misfire", "schema migration locked table",
            "token signing key rotation broke auth", "SSO provider errors", "third-party API down")
CAUSES = ("bad deploy", "config change", "expired certificate", "connection pool too small", "missing index",
          "runaway query", "noisy neighbour", "provider outage", "memory leak in cache", "poison message",
          "disk filled by logs", "WAL retained by replication slot", "DNS TTL misconfigured", "rate limit lowered upstream",
          "feature flag enabled for everyone", "migration without backfill", "autoscaler max too low", "GC pauses",
          "network partition", "expired API key", "clock skew", "bad cache key", "thundering herd after restart",
          "cron overlap", "kernel upgrade", "load balancer misrouting", "firewall rule change", "quota exceeded",
          "hot key", "dependency upgrade", "race condition", "retry without backoff", "TTL too long", "schema drift",
          "partial rollout", "stuck leader election", "file descriptor limit", "bucket permissions changed",
          "CDN purge", "regional outage")
FIXES = ("rolled back", "raised the pool size", "added an index", "killed the query", "failed over", "renewed the certificate",
         "restarted the pods", "purged the cache", "skipped the poison message", "freed disk space", "dropped the stale slot",
         "scaled out", "disabled the feature flag", "reverted the config", "rotated the key", "raised the limits",
         "added backoff", "patched and redeployed", "waited for the provider", "drained the queue", "rebuilt the index",
         "fixed DNS records", "restored permissions", "moved traffic to another region", "increased the quota",
         "pinned the dependency", "added a circuit breaker", "re-ran the job", "resynced inventory", "cleared the hot key")
EXTRA = ("customers", "merchants", "europe", "asia", "mobile", "desktop", "partners", "checkout", "weekend", "night",
         "release", "v2", "canary", "region", "cluster", "node", "replica", "primary", "shard", "queue")
SEVERITIES = ("sev0", "sev1", "sev2", "sev3")
# Descriptions as people write them: varied, so no pair of filler words is in every one.
DESCRIPTIONS = ("{symptom} for {extra} users; seen in {other} too. Suspect {cause}.",
                "Started after the {extra} rollout. {symptom}, likely {cause}",
                "On-call paged: {symptom}. Dashboards show {other} affected",
                "{cause}? {symptom} since this morning",
                "Customers report {symptom}. Tried: {fix}",
                "{symptom} in {extra}; {other} looks healthy",
                "")


def _incident(rng: random.Random, now: datetime, number: int) -> dict[str, Any]:
    service = rng.choice(SERVICES)
    symptom, cause = rng.choice(SYMPTOMS), rng.choice(CAUSES)
    title = rng.choice((f"{service.capitalize()} {symptom}", f"{symptom.capitalize()} on {service}",
                        f"{service}: {symptom} after {rng.choice(('deploy', 'release', 'config change', 'failover'))}"))
    description = rng.choice(DESCRIPTIONS).format(symptom=symptom, cause=cause, extra=rng.choice(EXTRA), other=rng.choice(SERVICES),
                                                  fix=rng.choice(FIXES))
    declared = now - timedelta(days=rng.uniform(1, 3 * 365))
    resolved = rng.random() < 0.7
    return {"title": title, "description": description, "service": service, "severity": rng.choice(SEVERITIES),
            "status": "resolved" if resolved else "investigating", "declared_by": "U0BENCH", "declared_at": declared,
            "resolved_at": declared + timedelta(hours=rng.uniform(0.2, 12)) if resolved else None,
            "resolution": {"summary": rng.choice(FIXES).capitalize(), "root_cause": cause.capitalize()} if resolved else None,
            "postmortem_url": f"https://wiki.example.com/pm/{number}" if resolved and rng.random() < 0.5 else None,
            "card_version": 0, "card_synced_version": 0, "provision_attempts": 0}


def seed(db: Database, count: int, rng: random.Random, now: datetime) -> float:
    started = time.perf_counter()
    batch = 5000
    with db.transaction() as connection:
        for first in range(0, count, batch):
            connection.execute(insert(Incident.__table__), [_incident(rng, now, first + i) for i in range(min(batch, count - first))])
        ids = list(connection.scalars(select(Incident.id)))
        alerted = rng.sample(ids, len(ids) * 15 // 100)
        alert_names = [f"{symptom.title().replace(' ', '')}{service.title().replace('-', '')}" for symptom in SYMPTOMS[:20] for service in SERVICES[:20]]
        groups = []
        for incident_id in alerted:
            name = rng.choice(alert_names)
            groups.append({"source": "alertmanager", "group_key": f"{{}}:{{alertname=\"{name}\"}}:{incident_id}", "live_key": None,
                           "state": "resolved", "route": "default", "action": "declare", "title": f"{name} firing", "severity": "sev2",
                           "service": None, "labels": {"alertname": name}, "firing": 0, "truncated": 0, "first_fired_at": now,
                           "last_event_at": now, "incident_id": incident_id, "message_version": 0, "message_synced_version": 0,
                           "_name": name})
        for first in range(0, len(groups), batch):
            chunk = groups[first:first + batch]
            connection.execute(insert(AlertGroup.__table__), [{k: v for k, v in g.items() if k != "_name"} for g in chunk])
        group_ids = dict(connection.execute(select(AlertGroup.incident_id, AlertGroup.id)).all())
        alerts = [{"group_id": group_ids[g["incident_id"]], "fingerprint": f"{g['_name']}-fp", "status": "resolved",
                   "labels": {"alertname": g["_name"]}, "annotations": {}, "starts_at": now, "updated_at": now} for g in groups]
        for first in range(0, len(alerts), batch):
            connection.execute(insert(Alert.__table__), alerts[first:first + batch])
    if db.is_postgres:
        with db.autocommit() as connection:
            connection.exec_driver_sql("VACUUM ANALYZE incidents")
            connection.exec_driver_sql("ANALYZE alert_groups")
            connection.exec_driver_sql("ANALYZE alerts")
    else:
        with db.transaction() as connection:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _query_words(rng: random.Random) -> list[str]:
    """Two to five words a person would type: some of a symptom, a service, some of a cause."""
    pool = [*rng.choice(SYMPTOMS).split(), rng.choice(SERVICES), *rng.choice(CAUSES).split()]
    return rng.sample(pool, k=min(len(pool), rng.randint(2, 5)))


def _figures(name: str, samples: list[float], cpu: list[float], shown: list[int]) -> str:
    """Wall time per lookup (what a person waits for), and this process's CPU per lookup (what a shared box's load
    does not inflate; on PostgreSQL the server's own CPU is not in it)."""
    ordered, cpu_ordered = sorted(samples), sorted(cpu)
    p = lambda q, xs: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000  # noqa: E731
    return (f"{name:9} n={len(samples)}  wall p50 {p(0.50, ordered):6.2f} ms  p95 {p(0.95, ordered):6.2f} ms  "
            f"p99 {p(0.99, ordered):6.2f} ms  max {ordered[-1] * 1000:6.2f} ms  |  CPU p50 {p(0.50, cpu_ordered):5.2f} ms  "
            f"p99 {p(0.99, cpu_ordered):5.2f} ms  |  mean results {statistics.mean(shown):.2f}")


def run(url: str, count: int, lookups: int) -> int:
    upgrade(url)
    db = Database(url)
    rng = random.Random(14)
    now = datetime.now(timezone.utc)
    took = seed(db, count, rng, now)
    with db.transaction() as connection:
        total = connection.scalar(select(func.count()).select_from(Incident))
    print(f"seeded {total:,} incidents in {took:.1f} s on {db.engine.dialect.name}")
    with db.transaction() as connection:
        recent = list(connection.scalars(select(Incident.id).order_by(Incident.declared_at.desc()).limit(lookups)))
    queries = [" ".join(_query_words(rng)) for _ in range(lookups)]
    by_incident: list[float] = []
    by_text: list[float] = []
    cpu_incident: list[float] = []
    cpu_text: list[float] = []
    shown_i: list[int] = []
    shown_t: list[int] = []
    with db.unit_of_work() as session:
        for incident_id in recent[:20]:  # warm the caches and the statement cache, as a running bot is
            similar_to_incident(session, incident_id)
        for incident_id in recent:
            started, cpu = time.perf_counter(), time.process_time()
            shown_i.append(len(similar_to_incident(session, incident_id)))
            by_incident.append(time.perf_counter() - started)
            cpu_incident.append(time.process_time() - cpu)
        for words in queries:
            started, cpu = time.perf_counter(), time.process_time()
            shown_t.append(len(similar_to_text(session, words, now=now)))
            by_text.append(time.perf_counter() - started)
            cpu_text.append(time.process_time() - cpu)
    db.dispose()
    print(_figures("incident", by_incident, cpu_incident, shown_i))
    print(_figures("text", by_text, cpu_text, shown_t))
    return 0


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--lookups", type=int, default=500)
    args = parser.parse_args()
    print(f"machine: {platform.node()} · {platform.platform()} · Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        with scratch_database(args.database_url, Path(tmp), sqlite_name="similar.db", pg_prefix="sevbot_similar_") as url:
            return run(url, args.incidents, args.lookups)


if __name__ == "__main__":
    sys.exit(main())
