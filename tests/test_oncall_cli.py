"""`sevbot schedules check` and `sevbot oncall show` as a user runs them: gap lines with file:line, exit 1 on gaps,
0 with one OK line, 2 with one line for a bad config, an unknown schedule or zone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.cli import main
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.oncall.overrides import add_override

POLICY = """\
default_severity = "sev2"

[schedules.payments-primary]
time_zone = "Europe/Berlin"

[[schedules.payments-primary.layers]]
name = "office"
users = ["U0LEE", "U0SAM"]
rotation = "weekly"
start = 2026-01-05
[[schedules.payments-primary.layers.restrictions]]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "18:00"

[schedules.all-day]
time_zone = "UTC"
[[schedules.all-day.layers]]
name = "everyone"
users = ["U0LEE"]
rotation = "daily"
handoff = "00:00"
start = 2026-01-01
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("SEVBOT_CONFIG", "DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def test_gaps_are_file_line_key_lines_in_local_time_and_exit_1(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = env / "policy.toml"
    policy.write_text(POLICY)
    # The week of 2027-03-22 (UTC midnight is 01:00 in Berlin); Berlin moves its clocks on Sunday the 28th.
    assert main(["schedules", "check", str(policy), "--from", "2027-03-22", "--weeks", "1"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{policy}:3: schedules.payments-primary: gap 2027-03-22 01:00 – 2027-03-22 09:00 (Europe/Berlin)",
        f"{policy}:3: schedules.payments-primary: gap 2027-03-22 18:00 – 2027-03-23 09:00 (Europe/Berlin)",
        f"{policy}:3: schedules.payments-primary: gap 2027-03-23 18:00 – 2027-03-24 09:00 (Europe/Berlin)",
        f"{policy}:3: schedules.payments-primary: gap 2027-03-24 18:00 – 2027-03-25 09:00 (Europe/Berlin)",
        f"{policy}:3: schedules.payments-primary: gap 2027-03-25 18:00 – 2027-03-26 09:00 (Europe/Berlin)",
        f"{policy}:3: schedules.payments-primary: gap 2027-03-26 18:00 – 2027-03-29 02:00 (Europe/Berlin)",
    ]
    assert err == f"sevbot: 6 gap(s) in the next 1 week(s) in {policy}\n"


def test_a_covered_policy_is_one_ok_line_and_the_default_file_is_sevbot_config(
        env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    policy = env / "policy.toml"
    policy.write_text(POLICY.split("[schedules.payments-primary]")[0] + POLICY.split('end = "18:00"\n')[1])
    monkeypatch.setenv("SEVBOT_CONFIG", str(policy))
    assert main(["schedules", "check"]) == 0
    assert capsys.readouterr().out == f"sevbot: 1 schedule(s) OK, no gaps in the next 4 week(s) in {policy}\n"


def test_a_bad_schedule_is_the_one_line_config_error_with_exit_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = env / "policy.toml"
    policy.write_text(POLICY.replace('time_zone = "UTC"', 'time_zone = "Mars/Olympus"'))
    assert main(["schedules", "check", str(policy)]) == 2
    err = capsys.readouterr().err
    assert err == (f"sevbot: {policy}: schedules.all-day.time_zone: unknown time zone 'Mars/Olympus' "
                   "(an IANA name such as Europe/Berlin)\n")


def test_oncall_show_prints_the_rota_with_overrides(env: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    policy = env / "policy.toml"
    policy.write_text(POLICY)
    monkeypatch.setenv("SEVBOT_CONFIG", str(policy))
    url = f"sqlite:///{env / 'cli.db'}"
    upgrade(url)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    cover_from = (now + timedelta(days=1)).replace(hour=3, minute=0)
    db = Database(url)
    with db.unit_of_work() as session:
        add_override(session, schedule="all-day", user_id="U0COVER", starts_at=cover_from,
                     ends_at=cover_from + timedelta(hours=2), created_by="U0LEE", now=now)
    db.dispose()
    assert main(["oncall", "show", "all-day", "--days", "3", "--tz", "Asia/Kolkata"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "all-day: 3 day(s) from now, times in Asia/Kolkata"
    assert lines[1].split() == ["start", "end", "who", "layer"]
    kolkata = timedelta(hours=5, minutes=30)
    start_text = (cover_from + kolkata).strftime("%Y-%m-%d %H:%M")
    end_text = (cover_from + timedelta(hours=2) + kolkata).strftime("%Y-%m-%d %H:%M")
    assert f"{start_text}  {end_text}  U0COVER  override #1" in lines
    assert sum("U0LEE" in line and "everyone" in line for line in lines) >= 3
    assert main(["oncall", "show", "payments-primary", "--days", "7"]) == 0
    assert "nobody" in capsys.readouterr().out  # nights and weekends


@pytest.mark.parametrize("args, expected", [
    (["oncall", "show", "nope"], "sevbot: unknown schedule 'nope' (schedules: payments-primary, all-day)\n"),
    (["oncall", "show", "all-day", "--tz", "Mars/Olympus"],
     "sevbot: --tz: unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Berlin)\n"),
])
def test_oncall_show_refuses_unknown_names_in_one_line(env: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch, args: list[str],
                                                       expected: str) -> None:
    policy = env / "policy.toml"
    policy.write_text(POLICY)
    monkeypatch.setenv("SEVBOT_CONFIG", str(policy))
    assert main(args) == 2
    assert capsys.readouterr().err == expected
