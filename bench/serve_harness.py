"""What the benches that drive a real `sevbot serve` process share: a scratch database, the bot as a child process,
/proc readings of it, and percentile summaries.

Kept in one place so that the declare and scheduler benches start, configure and measure the bot the same way;
each bench passes in only what differs (its database names, its extra environment, how long a stop may take).
Imported by the bench scripts as `serve_harness` (the script's folder is on sys.path when it runs).
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bot.settings import load_settings  # noqa: E402

BOT_TOKEN = "xoxb-sim-token"  # the token the simulator accepts; the bot gets it as SLACK_BOT_TOKEN
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------------
# set-up: database, the bot process


@contextmanager
def scratch_database(url: str | None, tmp: Path, *, sqlite_name: str, pg_prefix: str) -> Iterator[str]:
    """A fresh SQLite file, or a scratch PostgreSQL database next to the one named (created, then dropped), so a
    run never sees or leaves data behind. sqlite_name is the file in tmp; pg_prefix starts the database's name."""
    if url is None:
        yield f"sqlite:///{tmp / sqlite_name}"
        return
    admin_url = load_settings(database_url=url).database_url  # normalises postgresql:// -> postgresql+psycopg://
    if not admin_url.startswith("postgresql"):
        yield admin_url  # a SQLite URL given explicitly: use it as is
        return
    name = f"{pg_prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A bench's command line: described by its docstring's first line, with the --database-url option that
    scratch_database reads, worded the same in every bench; the bench adds its own options."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("SEVBOT_BENCH_DATABASE_URL"),
                        help="PostgreSQL server to create a scratch database on (default: a temp SQLite file)")
    return parser


def free_port() -> int:
    """A port nothing listens on now, for the bot to bind (so parallel runs do not collide)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS / VmHWM of a process in MiB (and its thread count): the bot's memory, read from outside it."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) / 1024.0  # kB -> MiB
            elif key == "Threads":
                out[key] = float(rest.split()[0])
    return out


def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds: the bot's CPU, read from outside it."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "; fields[0] is the state (field 3)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime (14), stime (15)


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each local PostgreSQL server process: on this box the database shares the bot's cores, so a
    PostgreSQL run reports what the server spent too."""
    out: dict[int, float] = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                pid = int(comm.parent.name)
                out[pid] = proc_cpu(pid)
        except (OSError, ValueError):
            continue  # gone meanwhile
    return out


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two postgres_cpu() readings (processes started meanwhile count from zero)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class BotProcess:
    """`sevbot serve` as a child process, configured through its environment only, as it runs in production.

    extra_env adds bench-specific settings (SEVBOT_CONFIG, SEVBOT_UPDATE_INTERVAL, ...); signing_secret defaults to
    a random one for benches that never sign a request; stop_timeout is how long SIGTERM may take before SIGKILL.
    """

    def __init__(self, database_url: str, api_url: str, tmp: Path, *, signing_secret: str | None = None,
                 extra_env: Mapping[str, str] | None = None, stop_timeout: float = 10.0) -> None:
        self.port = free_port()
        self.signing_secret = signing_secret if signing_secret is not None else secrets.token_hex(16)
        self.stop_timeout = stop_timeout
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "SEVBOT_")) and k != "DATABASE_URL"}
        env.update({
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_API_URL": api_url,
            "DATABASE_URL": database_url,
            "SEVBOT_PORT": str(self.port),
            "SEVBOT_HOST": "127.0.0.1",
            **(extra_env or {}),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        })
        self.env, self.cwd = env, tmp  # cwd = temp dir: no stray .env file is read
        self.log_path = tmp / "sevbot-serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def migrate(self) -> None:
        """`sevbot migrate` first, as a deployment would; raises RuntimeError with its output if it fails."""
        done = subprocess.run([sys.executable, "-m", "bot", "migrate"], env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"sevbot migrate exited {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}")

    def start(self, timeout: float = 30.0) -> float:
        """Start `sevbot serve` and wait for GET /healthz 200; returns the seconds that took."""
        log = open(self.log_path, "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=self.env, cwd=self.cwd,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sevbot serve exited {self.proc.returncode} during start-up:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:  # noqa: S310 - local URL
                    if resp.status == 200:
                        return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"sevbot serve: /healthz not 200 within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after stop_timeout; returns the exit status (None if it never started)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_counts(self, *, warnings: bool = False, markers: Mapping[str, str] | None = None) -> dict[str, int]:
        """Counts from the serve log, so a run that logged errors is visible in the report. warnings adds
        warning_lines; markers maps extra keys to substrings whose occurrences are counted (appended last)."""
        try:
            body = self.log_path.read_text(errors="replace")
        except OSError:
            return {}
        if os.environ.get("SEVBOT_BENCH_KEEP_LOG"):  # the serve log outlives the run's scratch folder, to read
            Path(os.environ["SEVBOT_BENCH_KEEP_LOG"]).write_text(body)
        counts = {"lines": body.count("\n"), "error_lines": len(re.findall(r"\bERROR\b", body))}
        if warnings:
            counts["warning_lines"] = len(re.findall(r"\bWARNING\b", body))
        counts["tracebacks"] = body.count("Traceback (most recent call last)")
        for key, needle in (markers or {}).items():
            counts[key] = body.count(needle)
        return counts


# ---------------------------------------------------------------------------------------------------------
# measuring


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the 198th smallest): a real sample, no interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def summary(values: list[float], percentiles: Sequence[int] = (50, 99), *, with_min: bool = False) -> dict[str, float]:
    """{"p50": …, "p99": …, "max": …[, "min": …], "mean": …}, NaN where there are no values; the key order is the
    order the JSON output shows them in."""
    nan = float("nan")
    out = {f"p{p}": pct(values, p) for p in percentiles}
    out["max"] = max(values) if values else nan
    if with_min:
        out["min"] = min(values) if values else nan
    out["mean"] = statistics.fmean(values) if values else nan
    return out


def print_problems(problems: list[str]) -> None:
    """The BROKEN: block that ends a report when the run itself went wrong (not merely missed a target);
    prints nothing when there were no problems."""
    if not problems:
        return
    print("\nBROKEN:")
    for p in problems:
        print(f"  - {p}")
