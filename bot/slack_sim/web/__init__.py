"""The sandbox's browser view of the simulated workspace (see server.py; the page is plain HTML, CSS and JS)."""

from .server import WebConsole, WebServer

__all__ = ["WebConsole", "WebServer"]
