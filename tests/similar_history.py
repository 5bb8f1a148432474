"""A labelled incident history for the similar-incidents tests: 30 past incidents in 10 kinds of trouble (three
each, with services and words that overlap across kinds on purpose) and 10 new incidents whose right answers are
the three past ones of their kind."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from bot.db.models import Alert, AlertGroup, Incident

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Past:
    kind: str
    title: str
    description: str
    service: str
    days_ago: int
    root_cause: str | None = None
    fix: str | None = None
    alert: str | None = None  # an alert name; its fingerprint is "<name>-fp"


@dataclass(frozen=True)
class New:
    kind: str
    title: str
    description: str
    service: str | None
    alert: str | None = None


PAST: tuple[Past, ...] = (
    Past("payment-timeouts", "Checkout requests timing out at the payment step", "Stripe gateway latency p99 over 10s; checkout API timeouts for card payments", "checkout", 40,
         "Connection pool to the payment gateway exhausted", "Raised the pool size and added a circuit breaker", alert="CheckoutLatencyHigh"),
    Past("payment-timeouts", "Payment gateway timeouts during checkout", "Card payments hang and time out; gateway answers slowly", "checkout", 200,
         "Payment provider degraded in eu-west", "Failed over to the secondary payment provider"),
    Past("payment-timeouts", "Checkout failing: upstream payment provider timeouts", "Orders stuck at payment, gateway timeouts in logs", "payments", 420),
    Past("deploy-500s", "Checkout returning 500s after v142 deploy", "HTTP 500 on POST /checkout right after the release", "checkout", 15,
         "Missing database migration in v142", "Rolled back to v141"),
    Past("deploy-500s", "Spike of HTTP 500 on checkout after release", "Error rate jumped to 30% minutes after the deploy", "checkout", 120, None, "Rollback"),
    Past("deploy-500s", "Cart and checkout errors after config deploy", "Bad feature flag config pushed; 500 errors on cart and checkout; rolled back", "cart", 300),
    Past("disk-full", "Orders database disk full, writes failing", "Postgres primary at 100% disk; inserts rejected", "orders-db", 60,
         "WAL retained by a stuck replication slot", "Dropped the stale replication slot", alert="DiskSpaceLow"),
    Past("disk-full", "Postgres primary out of disk space from WAL growth", "WAL files piling up on orders-db; disk almost full", "orders-db", 250, alert="DiskSpaceLow"),
    Past("disk-full", "Disk space exhausted on orders DB replica", "Replica volume full, replication lag growing", "orders-db", 500),
    Past("dns", "Internal DNS resolution failures across services", "Services cannot resolve internal hostnames; NXDOMAIN from CoreDNS", "platform", 30,
         "CoreDNS memory limit too low", "Raised CoreDNS limits and replicas"),
    Past("dns", "CoreDNS pods crashlooping, name resolution failing", "DNS lookups time out inside the cluster", "platform", 150),
    Past("dns", "Intermittent NXDOMAIN for internal hostnames", "DNS resolution flaky for service discovery names", "platform", 380),
    Past("tls", "Expired TLS certificate on api.example.com", "Clients fail the TLS handshake: certificate expired", "api-gateway", 90,
         "cert-manager renewal failed silently", "Renewed the certificate by hand and fixed the issuer"),
    Past("tls", "Certificate renewal failed, HTTPS handshake errors", "TLS handshake failures on the public API", "api-gateway", 330),
    Past("tls", "Partners report certificate expired errors on the public API", "Expired intermediate certificate in the chain", "api-gateway", 600),
    Past("login", "Users cannot log in: SSO provider returning errors", "Login page shows an error after the SSO redirect", "auth", 20,
         "SSO provider outage", "Waited for the provider; enabled password login"),
    Past("login", "Login failures after OAuth signing key rotation", "Tokens signed with the old key rejected; users cannot log in", "auth", 180),
    Past("login", "Auth service rejecting valid sessions, login fails", "Users logged out and unable to log back in", "auth", 450),
    Past("kafka-lag", "Notification emails delayed: Kafka consumer lag growing", "Consumer group behind by millions of messages", "notifications", 10,
         "Consumer stuck on a poison message", "Skipped the message and added a dead-letter topic", alert="KafkaConsumerLagHigh"),
    Past("kafka-lag", "Kafka consumer group stuck, notifications backlog", "Push and email notifications not sent; consumer lag alert", "notifications", 140, alert="KafkaConsumerLagHigh"),
    Past("kafka-lag", "Push notifications delayed by hours", "Kafka consumer lag on the notifications topic", "notifications", 400),
    Past("oom", "Search pods OOMKilled repeatedly", "Search service pods restart every few minutes, out of memory", "search", 50,
         "Memory leak in the query cache", "Capped the cache and redeployed"),
    Past("oom", "Memory leak in search indexer after upgrade", "Indexer memory climbs until the pod is OOM killed", "search", 230),
    Past("oom", "Search latency spikes, pods out of memory", "GC pressure then OOM kills on search nodes", "search", 520),
    Past("cdn-404", "Images and CSS not loading: CDN returning 404", "Static assets 404 from the CDN; pages render unstyled", "web", 25,
         "Asset bucket path changed in the frontend build", "Restored the old path"),
    Past("cdn-404", "Static assets missing after frontend deploy", "JS bundles 404; website broken for everyone", "web", 160),
    Past("cdn-404", "CDN cache purge removed assets, broken pages", "Static files 404 after a full CDN purge", "web", 350),
    Past("ios-crash", "iOS app crashing on launch after 5.2 release", "Crash on startup for most iOS users", "mobile", 35,
         "Null profile field in the new onboarding screen", "Hotfix 5.2.1 through expedited review"),
    Past("ios-crash", "Crash spike in the iOS app, profile screen", "Crash rate up to 8% on iOS after the release", "mobile", 190),
    Past("ios-crash", "Mobile app crashes for iOS 17 users at startup", "App closes right after launch on iOS 17", "mobile", 470),
)

NEW: tuple[New, ...] = (
    New("payment-timeouts", "Checkout timeouts when calling the payment gateway", "Card payments time out at checkout", "checkout", alert="CheckoutLatencyHigh"),
    New("deploy-500s", "Checkout 500 errors right after deploy", "Error rate up on checkout since the release", "checkout"),
    New("disk-full", "orders-db disk almost full", "WAL piling up on the primary", "orders-db", alert="DiskSpaceLow"),
    New("dns", "Services cannot resolve internal hostnames", "DNS lookups failing in the cluster", "platform"),
    New("tls", "TLS handshake failures: certificate expired", "Public API clients refuse our certificate", "api-gateway"),
    New("login", "Login broken for all users", "SSO login errors; users cannot log in", "auth"),
    New("kafka-lag", "Notifications delayed", "Kafka consumer lag over one million", "notifications", alert="KafkaConsumerLagHigh"),
    New("oom", "search service OOM kills", "memory climbing on search pods", "search"),
    New("cdn-404", "Website broken: static assets 404 from CDN", "CSS and images missing", "web"),
    New("ios-crash", "iOS app crash on startup after new release", "Crashes right after launch", "mobile"),
)


def _with_alert(session: Session, incident: Incident, name: str, at: datetime) -> None:
    group = AlertGroup(source="alertmanager", group_key=f"{{}}:{{alertname=\"{name}\"}}:{incident.id}", live_key=None, state="resolved",
                       route="default", action="declare", title=f"{name} firing", severity="sev2", service=incident.service,
                       labels={"alertname": name, "service": incident.service or ""}, firing=0, first_fired_at=at,
                       last_event_at=at, incident_id=incident.id)
    session.add(group)
    session.flush()
    session.add(Alert(group_id=group.id, fingerprint=f"{name}-fp", status="resolved", labels={"alertname": name},
                      annotations={}, starts_at=at, updated_at=at))


def seed_past(session: Session, now: datetime = NOW) -> dict[int, str]:
    """Insert the history (as of `now`); returns the kind of every past incident by id."""
    kinds: dict[int, str] = {}
    for past in PAST:
        at = now - timedelta(days=past.days_ago)
        resolution = {"summary": past.fix, "root_cause": past.root_cause} if past.fix or past.root_cause else None
        incident = Incident(title=past.title, description=past.description, service=past.service, severity="sev2",
                            status="resolved", declared_by="U0L1", declared_at=at, resolved_at=at + timedelta(hours=2),
                            resolution=resolution, postmortem_url=f"https://wiki.example.com/pm/{past.kind}-{past.days_ago}" if past.root_cause else None)
        session.add(incident)
        session.flush()
        kinds[incident.id] = past.kind
        if past.alert:
            _with_alert(session, incident, past.alert, at)
    return kinds


def seed(session: Session) -> tuple[dict[int, str], dict[int, New]]:
    """Insert the history and the new incidents; returns the kind of every past incident, and each new one by id."""
    kinds = seed_past(session)
    new: dict[int, New] = {}
    for query in NEW:
        incident = Incident(title=query.title, description=query.description, service=query.service, severity="sev2",
                            status="investigating", declared_by="U0L1", declared_at=NOW)
        session.add(incident)
        session.flush()
        new[incident.id] = query
        if query.alert:
            _with_alert(session, incident, query.alert, NOW)
    return kinds, new
