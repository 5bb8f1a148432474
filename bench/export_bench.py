"""Export benchmark: the postmortem draft of an incident with 10,000 timeline events (target: under 2 s).

Seeds one incident with N events (notes, status changes, pages, runbook steps) straight into a scratch SQLite
database (or PostgreSQL with --database-url), then times build_document + render_markdown, and the JSON dump.
Run: .venv/bin/python bench/export_bench.py [--events 10000] [--database-url postgresql://…]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import IncidentConfig  # noqa: E402
from bot.db.engine import Database  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Incident, PersonName, RoleAssignment, TimelineEvent  # noqa: E402
from bot.render import Renderer  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.resolve.export import build_document, render_markdown  # noqa: E402

KINDS = ("note", "status_changed", "paged", "runbook_step_done", "role_assigned", "update_reminder")


def seed(url: str, events: int) -> None:
    engine = create_engine(url)
    start = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(insert(Incident.__table__).values(
            id=1, title="Checkout failing for all users", severity="sev1", status="investigating", declared_by="U0L1",
            declared_at=start, provision_attempts=1, card_version=0, card_synced_version=0))
        conn.execute(insert(RoleAssignment.__table__).values(incident_id=1, role="ic", user_id="U0L1", assigned_by="U0L1", assigned_at=start))
        # Names from the snapshot, as a real export shows them (one with Markdown in it, so it is escaped too).
        conn.execute(insert(PersonName.__table__), [
            {"user_id": "U0L1", "display_name": "Lee Park", "real_name": "Lee Park", "fetched_at": start},
            {"user_id": "U0L2", "display_name": "Sam *ops* Okafor", "real_name": "Sam Okafor", "fetched_at": start}])
        # Microseconds in the times, as recorded; every summary hostile and naming someone; ~3 hours, so days don't change.
        rows = [{"incident_id": 1, "at": start + timedelta(seconds=n, microseconds=536318), "actor": "U0L2", "kind": KINDS[n % len(KINDS)],
                 "summary": f"Event {n}: <@U0L1> rolled back payments-api &lt;v{n}&gt; &amp; checked *p99* [dash](http://x) | ok", "data": {},
                 "dedupe_key": None} for n in range(events)]
        for chunk in range(0, len(rows), 2000):
            conn.execute(insert(TimelineEvent.__table__), rows[chunk:chunk + 2000])
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="PostgreSQL server to create a scratch database on (default: SQLite)")
    args = parser.parse_args(argv)
    scratch = None
    if args.database_url:
        admin_url = load_settings(database_url=args.database_url).database_url
        scratch = f"sevbot_export_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = make_url(admin_url).set(database=scratch).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/export.db"
    try:
        upgrade(url)
        seed(url, args.events)
        db, config, renderer = Database(url), IncidentConfig(), Renderer()
        timings, json_timings = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            document = build_document(db, config, 1)
            markdown = render_markdown(renderer, document)
            timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            json.dumps(document)
            json_timings.append(time.perf_counter() - started)
        db.dispose()
        assert len(document["timeline"]) == args.events
        print(f"export of {args.events:,} timeline events on {make_url(url).get_backend_name()}: "
              f"Markdown {statistics.median(timings):.3f} s median, {max(timings):.3f} s worst of {args.runs} "
              f"({len(markdown.encode()) / 1e6:.1f} MB); JSON dump {statistics.median(json_timings) * 1000:.0f} ms; "
              f"target < 2 s: {'PASS' if max(timings) < 2 else 'MISS'}")
    finally:
        if scratch:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
