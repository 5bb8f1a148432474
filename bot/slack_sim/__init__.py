"""A local Slack: Web API simulator + a driver that sends Slack's signed requests to the bot."""

from .driver import DriverResponse, SlackDriver
from .server import RecordedCall, SlackSimulator
from .state import Workspace

__all__ = ["SlackSimulator", "SlackDriver", "DriverResponse", "RecordedCall", "Workspace"]
