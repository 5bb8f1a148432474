"""Settings and the TOML policy: a mistake is one line that names the variable or key."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.settings import SettingsError, load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "sevbot.example.toml"


def test_the_shipped_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.stakeholder_channel is not None
    assert set(config.severities) == {"sev0", "sev1", "sev2", "sev3"}


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('default_severity = "sev9"', "default_severity 'sev9' is not one of the severities"),
        ('stakeholder_channel = "#incidents"', "stakeholder_channel: '#incidents' is not a Slack channel id"),
        ('channel_name_template = "{severity}-{nope}"', "channel_name_template: unknown field {nope}"),
        ("[severities.high]\nlabel='x'\ndescription='y'", "severities: 'high' is not a severity key"),
        ("[severities.sev1]\nlabel='x'\ndescription='y'\nresponders=['bob']", "severities.sev1.responders: 'bob' is not a Slack user id"),
        ("surprise = 1", "surprise: Extra inputs are not permitted"),
        ("this is = not toml =", "not valid TOML"),
        ("[alerts.sources.am]\nkind = 'nagios'\ntoken_env = 'AM_TOKEN'", "alerts.sources.am.kind: 'nagios' is not one of alertmanager, grafana, events-v2"),
        ("[alerts.sources.am]\nkind = 'alertmanager'", "set exactly one of token or token_env"),
        ("[alerts]\nchannel = 'C0A'\n[[alerts.routes]]\nseverity_map = {critical = 'sev7'}", "alerts.routes.0 names severity 'sev7'"),
        ("[[alerts.routes]]\nmatch_re = {alertname = '(unclosed'}", "is not a regular expression"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "sevbot.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVBOT_PORT", "99999")
    with pytest.raises(SettingsError, match=r"^SEVBOT_PORT: "):
        load_settings()
    monkeypatch.setenv("SEVBOT_PORT", "3000")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: "):
        load_settings()


def test_postgres_urls_use_psycopg3() -> None:
    assert load_settings(database_url="postgresql://postgres@127.0.0.1/test").database_url.startswith("postgresql+psycopg://")


def test_a_policy_with_fewer_severities_still_loads_and_alerts_fall_back(tmp_path: Path) -> None:
    """The built-in alert severity map names sev1–sev3; a policy that defines only some of them still loads, and an
    alert whose severity maps to a missing one takes default_severity."""
    path = tmp_path / "sevbot.toml"
    path.write_text('default_severity = "sev2"\n[severities.sev1]\nlabel = "SEV1"\ndescription = "Major"\n'
                    '[severities.sev2]\nlabel = "SEV2"\ndescription = "Minor"\n')
    config = load_config(path)
    assert set(config.severities) == {"sev1", "sev2"}
    assert config.alerts.default.severity_map["warning"] == "sev3"  # not a severity here: the route falls back
