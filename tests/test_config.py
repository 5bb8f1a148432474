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
