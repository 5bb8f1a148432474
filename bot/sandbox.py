"""`sevbot sandbox`: the real bot against the local Slack simulator, for trying sevbot with no Slack workspace.

The bot is the production bot, reached only through signed HTTP requests: the simulator signs slash commands
forwarded to it (`sevbot say`) exactly as Slack does. Nothing here reaches inside the bot.
"""
from __future__ import annotations

import argparse
import json
import secrets
import signal
import time
import urllib.error
import urllib.request
from typing import Any

from bot import logs
from bot.config import IncidentConfig
from bot.db.migrate import upgrade
from bot.runtime import Runtime, StartupError
from bot.settings import load_settings
from bot.slack_sim import SlackSimulator, Workspace

SANDBOX_TOKEN = "xoxb-sandbox-token"


def sandbox_config() -> IncidentConfig:
    """Defaults wired to the seeded workspace: #incidents for stakeholders, the on-call group for SEV0/1."""
    base = IncidentConfig()
    severities = dict(base.severities)
    for key, responders in (("sev0", ("S0ONCALL", "U0IC")), ("sev1", ("S0ONCALL",))):
        severities[key] = severities[key].model_copy(update={"responders": responders})
    return IncidentConfig(stakeholder_channel="C0STAKE", severities=severities)


def run_sandbox(args: argparse.Namespace) -> int:
    from bot.cli import CliError, _load, _prepare_sqlite_dir

    settings, config = _load()
    if settings.sevbot_config is None:
        config = sandbox_config()
    signing_secret = secrets.token_hex(16)  # fresh per run: only the simulator can sign for this bot
    sim = SlackSimulator(Workspace().seed_default(), bot_token=SANDBOX_TOKEN, port=args.sim_port).start()
    settings = settings.model_copy(update={
        "slack_bot_token": load_settings(slack_bot_token=SANDBOX_TOKEN).slack_bot_token,
        "slack_signing_secret": load_settings(slack_signing_secret=signing_secret).slack_signing_secret,
        "slack_api_url": sim.api_url,
    })
    logs.configure(args.log_level, [SANDBOX_TOKEN, signing_secret])
    _prepare_sqlite_dir(settings.database_url)
    upgrade(settings.database_url)
    try:
        runtime = Runtime.create(settings, config).start_background()
    except StartupError as exc:
        sim.stop()
        raise CliError(str(exc)) from None
    sim.connect_bot(runtime.url + "/slack/events", signing_secret)
    print(_banner(runtime.url, sim.base_url, args.sim_port), flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        _echo_messages(sim, stop)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
        sim.stop()
    return 0


def _banner(bot_url: str, sim_url: str, sim_port: int) -> str:
    port_flag = "" if sim_port == 8089 else f" --sim-port {sim_port}"
    return (
        "\nsevbot sandbox: the real bot and a local Slack simulator (no Slack workspace needed)\n"
        f"  bot        {bot_url}  (POST /slack/events, GET /healthz)\n"
        f"  simulator  {sim_url}api/  (seeded users: U0L1 Lee L1 on-call, U0L2 Sam L2, U0IC Ines IC, U0EXEC Erin exec)\n"
        "\nIn another terminal, send it a command as a seeded user:\n"
        f"  .venv/bin/sevbot say{port_flag} --as U0L1 \"/incident declare sev1 Checkout is failing for all users\"\n"
        f"  .venv/bin/sevbot say{port_flag} \"/incident list\"\n"
        "Messages the bot posts appear below. Ctrl-C stops.\n"
    )


def _echo_messages(sim: SlackSimulator, stop: dict[str, bool]) -> None:
    """Print each message the bot posts, as a one-line view of the workspace."""
    seen: set[tuple[str, str]] = set()
    private_seen = 0
    while not stop["now"]:
        ephemerals = list(sim.workspace.ephemerals)
        for ephemeral in ephemerals[private_seen:]:
            print(f"[only visible to {ephemeral.user}] {_summary(ephemeral.text, ephemeral.blocks)}", flush=True)
        private_seen = len(ephemerals)
        for message in sim.workspace.all_messages():
            key = (message.channel, message.ts)
            if key in seen:
                continue
            seen.add(key)
            channel = sim.workspace.channels.get(message.channel)
            where = f"#{channel.name}" if channel and not channel.is_im else f"DM {message.channel}"
            print(f"[{where}] {_summary(message.text, message.blocks)}", flush=True)
        time.sleep(0.3)


def _summary(text: str | None, blocks: list[dict[str, Any]] | None) -> str:
    header = next((b["text"]["text"] for b in blocks or [] if b.get("type") == "header"), None)
    line = header or text or ""
    return line if len(line) <= 160 else line[:159] + "…"


def say(args: argparse.Namespace) -> int:
    from bot.cli import CliError

    body = json.dumps({"user_id": args.user, "text": args.text, "channel_id": args.channel}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{args.sim_port}/sim/slash", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            result = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
        raise CliError(f"the sandbox refused: {detail}") from None
    except OSError:
        raise CliError(f"no sandbox on port {args.sim_port}: start one with `make run` (no Slack credentials)") from None
    answer = result.get("response")
    text = answer.get("text") if isinstance(answer, dict) else answer
    if result.get("status") != 200:
        raise CliError(f"the bot answered HTTP {result.get('status')}: {text}")
    print(text or "(acknowledged; the bot answered with no message)")
    return 0

