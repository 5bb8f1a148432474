"""python -m bot.slack_sim --port 8089: a seeded simulator for manual runs and the sandbox."""

from __future__ import annotations

import argparse
import time

from .server import SlackSimulator


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bot.slack_sim")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--token", default="xoxb-sim-token")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every Web API call")
    a = ap.parse_args()
    sim = SlackSimulator(bot_token=a.token, host=a.host, port=a.port).start()
    sim.latency = a.latency
    print(f"Slack simulator API at {sim.api_url} (token {a.token})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
