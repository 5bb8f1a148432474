"""manifest.yml against the code: one endpoint, and exactly the scopes the Web API calls and events need.

Why: a missing scope shows up only in a real workspace, mid-incident, as `missing_scope`; an extra scope is one more
thing an admin must approve for nothing. The tables below come from Slack's method and event reference pages
(docs.slack.dev/reference/methods/<method>, …/events/<event>), bot-token column. The vendored 2020 spec in
bot/slack_sim/spec/ lists the pre-granular scopes (channels:write, chat:write:bot), so it cannot serve here.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.http import EVENTS_PATH

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "manifest.yml"
GATEWAY = ROOT / "bot" / "slack" / "gateway.py"
APP = ROOT / "bot" / "app.py"

# Web API method → bot-token scopes it needs (public channels only: sevbot makes public incident channels).
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "conversations.create": frozenset({"channels:manage"}),
    "conversations.invite": frozenset({"channels:manage"}),
    "conversations.setTopic": frozenset({"channels:manage"}),
    "conversations.list": frozenset({"channels:read"}),
    "conversations.info": frozenset({"channels:read"}),
    "conversations.join": frozenset({"channels:join"}),
    # Public channels, and the DM with a person (a retried DM looks there before posting again).
    "conversations.history": frozenset({"channels:history", "im:history"}),
    # A thread in a public channel (a retried reply in an alert's thread looks there before posting again).
    "conversations.replies": frozenset({"channels:history"}),
    "conversations.archive": frozenset({"channels:manage"}),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.getPermalink": frozenset(),
    "pins.add": frozenset({"pins:write"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "usergroups.users.update": frozenset({"usergroups:write"}),
    "users.info": frozenset({"users:read"}),
    "conversations.open": frozenset({"im:write"}),
    "views.open": frozenset(),
    "views.update": frozenset(),
    "views.push": frozenset(),
    "views.publish": frozenset(),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
}

# Bot event → scope Slack requires before it will deliver the event.
EVENT_SCOPES: dict[str, frozenset[str]] = {
    "reaction_added": frozenset({"reactions:read"}),
    "reaction_removed": frozenset({"reactions:read"}),
    "pin_added": frozenset({"pins:read"}),
    "pin_removed": frozenset({"pins:read"}),
    "app_home_opened": frozenset(),
}

# Needed by something other than a Web API call or an event.
FEATURE_SCOPES = frozenset({"commands"})


@cache
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "manifest.yml must be a YAML mapping"
    return data


@cache
def gateway_methods() -> frozenset[str]:
    """Every literal method name passed to `SlackGateway._call(...)`, read from the source."""
    tree = ast.parse(GATEWAY.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "_call"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return frozenset(found)


def bot_scopes() -> list[str]:
    return list(manifest()["oauth_config"]["scopes"]["bot"])


def bot_events() -> list[str]:
    return list(manifest().get("settings", {}).get("event_subscriptions", {}).get("bot_events", []))


def test_gateway_methods_are_found() -> None:
    # Guards the scope tests below against passing vacuously if the gateway is restructured.
    assert {"conversations.create", "chat.postMessage", "pins.add"} <= gateway_methods()


def test_incident_command_points_at_the_events_endpoint() -> None:
    commands = manifest()["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/incident"]
    command = commands[0]
    assert command["url"].startswith("https://") and command["url"].endswith(EVENTS_PATH)
    assert command["description"] and command["usage_hint"]
    # Slack turns @mentions into <@U…|name> ids, which `/incident ic @user` needs.
    assert command["should_escape"] is True
    # The command the Bolt app listens for is the one Slack will send.
    assert re.search(r'app\.command\("/incident"\)', APP.read_text(encoding="utf-8"))


def test_interactivity_and_events_point_at_the_events_endpoint() -> None:
    settings = manifest()["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    urls = {
        manifest()["features"]["slash_commands"][0]["url"],
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
    }
    assert len(urls) == 1, f"commands, interactivity and events must share one URL: {sorted(urls)}"
    assert urls.pop() == f"https://YOUR-HOST{EVENTS_PATH}"
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False


def test_every_gateway_method_is_covered_by_a_scope() -> None:
    unknown = sorted(gateway_methods() - METHOD_SCOPES.keys())
    assert not unknown, f"add {unknown} to METHOD_SCOPES with the bot scope from docs.slack.dev/reference/methods/<method>"
    granted = set(bot_scopes())
    missing = {m: sorted(METHOD_SCOPES[m] - granted) for m in sorted(gateway_methods()) if METHOD_SCOPES[m] - granted}
    assert not missing, f"manifest.yml lacks scopes for: {missing}"


def test_every_event_is_covered_by_a_scope() -> None:
    unknown = sorted(set(bot_events()) - EVENT_SCOPES.keys())
    assert not unknown, f"add {unknown} to EVENT_SCOPES with the scope from docs.slack.dev/reference/events/<event>"
    granted = set(bot_scopes())
    missing = {e: sorted(EVENT_SCOPES[e] - granted) for e in bot_events() if EVENT_SCOPES[e] - granted}
    assert not missing, f"manifest.yml lacks scopes for events: {missing}"


def test_no_scope_is_requested_that_nothing_needs() -> None:
    scopes = bot_scopes()
    assert len(scopes) == len(set(scopes)), "a scope is listed twice"
    needed = set(FEATURE_SCOPES)
    for method in gateway_methods():
        needed |= METHOD_SCOPES.get(method, frozenset())
    for event in bot_events():
        needed |= EVENT_SCOPES.get(event, frozenset())
    extra = sorted(set(scopes) - needed)
    assert not extra, f"manifest.yml asks for scopes no call or event uses: {extra}"
    assert "chat:write.public" not in scopes


def test_shape_follows_slacks_v1_manifest_schema() -> None:
    """The parts of slackapi/manifest-schema (v1) this file uses: required keys, lengths, types."""
    data = manifest()
    assert set(data) <= {"_metadata", "display_information", "features", "oauth_config", "settings"}
    assert data["_metadata"]["major_version"] == 1
    info = data["display_information"]
    assert set(info) <= {"name", "description", "background_color", "long_description"}
    assert 1 <= len(info["name"]) <= 35 and 1 <= len(info["description"]) <= 140
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])
    features = data["features"]
    assert set(features) <= {"app_home", "bot_user", "slash_commands", "shortcuts", "unfurl_domains"}
    assert features["bot_user"]["display_name"] == "sevbot" and features["bot_user"]["always_online"] is True
    assert all(isinstance(v, bool) for v in features["app_home"].values())
    for command in features["slash_commands"]:
        assert set(command) <= {"command", "url", "description", "usage_hint", "should_escape"}
        assert re.fullmatch(r"/[a-z0-9_-]{1,31}", command["command"])
        assert len(command["description"]) <= 2000 and len(command["usage_hint"]) <= 1000
    assert set(data["oauth_config"]) <= {"scopes", "redirect_urls", "token_management_enabled"}
    assert set(data["oauth_config"]["scopes"]) <= {"bot", "user"}
    assert all(isinstance(s, str) and len(s) <= 50 for s in bot_scopes())
    settings = data["settings"]
    assert set(settings) <= {"event_subscriptions", "interactivity", "org_deploy_enabled", "socket_mode_enabled", "token_rotation_enabled"}
    assert set(settings["event_subscriptions"]) <= {"request_url", "bot_events", "user_events"}
    assert len(bot_events()) == len(set(bot_events()))
    assert set(settings["interactivity"]) <= {"is_enabled", "request_url", "message_menu_options_url"}


def test_every_shortcut_has_a_listener_and_every_listener_a_shortcut() -> None:
    """Each manifest shortcut is a message shortcut whose callback_id is a CallbackId the Bolt app listens for with
    `app.message_shortcut(CallbackId.X)`, and no such listener waits for a shortcut Slack would never send."""
    from bot.ids import CallbackId

    shortcuts = manifest()["features"].get("shortcuts") or []
    for shortcut in shortcuts:
        # slackapi/manifest-schema (v1): name ≤ 24, callback_id ≤ 255, description ≤ 150 characters.
        assert set(shortcut) == {"name", "type", "callback_id", "description"}, shortcut
        assert shortcut["type"] == "message", "sevbot's shortcuts act on a message (they need its channel)"
        assert 1 <= len(shortcut["name"]) <= 24 and 1 <= len(shortcut["callback_id"]) <= 255
        assert 1 <= len(shortcut["description"]) <= 150
    declared = [s["callback_id"] for s in shortcuts]
    assert len(declared) == len(set(declared)), "a shortcut callback_id is listed twice"
    listened = {CallbackId[name].value for name in re.findall(r"app\.message_shortcut\(CallbackId\.([A-Z_]+)\)", APP.read_text(encoding="utf-8"))}
    assert listened, "no message shortcut listener found in bot/app.py: update this test if they moved"
    assert set(declared) == listened, f"manifest shortcuts {sorted(declared)} vs listeners in bot/app.py {sorted(listened)}"


def test_the_simulator_grants_exactly_the_manifest_scopes() -> None:
    """The simulator answers `missing_scope` for what its install lacks: it must lack just what the manifest lacks,
    or a test could pass on a scope a real workspace never granted."""
    from bot.slack_sim.state import BOT_SCOPES

    assert BOT_SCOPES == set(bot_scopes())


def test_the_scopes_start_up_checks_are_the_manifests() -> None:
    """bot/slack/scopes.py names what each scope is for, and start-up warns about those the token lacks: the same
    list as the manifest's, in the same order."""
    from bot.slack.scopes import NEEDED

    assert list(NEEDED) == bot_scopes()
