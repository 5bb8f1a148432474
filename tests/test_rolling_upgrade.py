"""The rolling upgrade of README "Deploy", for real: two `sevbot serve` processes on one PostgreSQL database, a newer
release's migration applied under them, one of them restarted against the newer schema. PostgreSQL only (the one
backend two replicas share); skipped loudly when no server answers.

The "newer release" is this checkout's migrations/ copied to a temporary script directory plus one revision whose
down_revision is our head and which adds a nullable column, applied through the copied env.py exactly as the next
release's `sevbot migrate` would apply it: it moves alembic_version to a revision this code has never seen, and
records the lineage that lets this (older) code tell "ahead of me" from "another history". The replicas are this
code, so they are the old release; what they run on is the newer schema.
"""
from __future__ import annotations

import shutil
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from bench.serve_harness import BOT_TOKEN, BotProcess
from bot.db.migrate import MIGRATIONS_DIR, revision_graph
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
from tests.dbs import postgres_unavailable, postgres_url
from tests.harness import wait_for

pytestmark = pytest.mark.postgres

SECRET = "rolling-upgrade-signing-secret"
NEXT = "9001_next_release"
USERS = ("U0L1", "U0L2", "U0IC")

NEXT_REVISION = '''"""next release: a nullable column (additive: the older release never reads or writes it)"""
import sqlalchemy as sa
from alembic import op

revision: str = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("next_release_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("incidents", "next_release_note")
'''


@pytest.fixture
def pg_url() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with postgres_url() as url:
        yield url


def apply_next_release(url: str, tmp: Path) -> None:
    """What the next release's `sevbot migrate` does: its migrations/ (ours + one revision) through its env.py."""
    from alembic import command
    from alembic.config import Config

    script_dir = tmp / "next-release-migrations"
    shutil.copytree(MIGRATIONS_DIR, script_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (script_dir / "versions" / f"{NEXT}.py").write_text(NEXT_REVISION.format(revision=NEXT, down=revision_graph()[0]))
    config = Config()
    config.set_main_option("script_location", str(script_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def healthy(replica: BotProcess) -> bool:
    try:
        with urllib.request.urlopen(replica.url + "/healthz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_old_replicas_keep_serving_and_restart_on_a_newer_schema(pg_url: str, tmp_path: Path) -> None:
    declared: list[str] = []
    lock = threading.Lock()

    with SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN) as sim:
        replicas = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            replicas.append(BotProcess(pg_url, sim.api_url, tmp_path / name, signing_secret=SECRET,
                                       extra_env={"SEVBOT_REPLICA_ID": f"replica-{name}"}))
        a, b = replicas
        drivers = {r: SlackDriver(sim, r.url + "/slack/events", SECRET) for r in replicas}

        def declare(replica: BotProcess, title: str, n: int) -> None:
            answer = drivers[replica].slash_command(USERS[n % len(USERS)], f"declare sev3 {title}")
            assert answer.status == 200 and "INC-" in answer.json()["text"], (title, answer.status, answer.text)
            with lock:
                declared.append(title)

        try:
            a.migrate()
            a.start()
            b.start()
            for n in range(4):
                declare(replicas[n % 2], f"before {n}", n)

            # The newer release migrates while both old replicas keep taking declares.
            during_errors: list[BaseException] = []
            stop = threading.Event()

            def keep_declaring() -> None:
                n = 0
                while not stop.is_set() or n < 4:
                    try:
                        declare(replicas[n % 2], f"during {n}", n)
                    except BaseException as exc:  # noqa: BLE001 - reported below
                        during_errors.append(exc)
                        return
                    n += 1

            worker = threading.Thread(target=keep_declaring)
            worker.start()
            apply_next_release(pg_url, tmp_path)
            stop.set()
            worker.join(timeout=60)
            assert not worker.is_alive() and during_errors == [], during_errors

            engine = create_engine(pg_url, poolclass=NullPool)
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == NEXT
                assert "next_release_note" in {c["name"] for c in inspect(conn).get_columns("incidents")}

            # Both old replicas still answer, and still report healthy (a load balancer must not pull them).
            assert healthy(a) and healthy(b)
            for n in range(4):
                declare(replicas[n % 2], f"after migrate {n}", n)

            # Restart one old replica against the newer schema: it starts, says why, and serves.
            assert b.stop() == 0
            b.start()
            assert "ahead of this sevbot's head" in b.log_tail(200), b.log_tail()
            for n in range(4):
                declare(replicas[n % 2], f"after restart {n}", n)
            # The old release's one-shot migrate against the newer schema is a no-op, not an Alembic failure.
            b.migrate()

            # Nothing recorded is lost, nothing twice; every declare was provisioned (its channel exists).
            def titles() -> Counter[str]:
                with engine.connect() as conn:
                    return Counter(conn.execute(text("SELECT title FROM incidents")).scalars())

            assert titles() == Counter(declared)
            assert all(count == 1 for count in titles().values())
            def unprovisioned() -> int:
                with engine.connect() as conn:
                    return int(conn.execute(text("SELECT count(*) FROM incidents WHERE channel_id IS NULL")).scalar_one())

            wait_for(lambda: unprovisioned() == 0, timeout=30, what="every incident provisioned")
            engine.dispose()
            assert len(declared) >= 16
        finally:
            for replica in replicas:
                replica.stop()
        for replica in replicas:
            assert "Traceback" not in replica.log_tail(10_000), replica.log_tail()
