"""`/incident <verb>`: one module per subcommand or button family; each parses, calls one use case, replies.

The registry below is the single list of subcommands: `/incident help` is generated from it.
"""
from __future__ import annotations

from commands.registry import REGISTRY, Invocation, Subcommand, dispatch

__all__ = ["REGISTRY", "Invocation", "Subcommand", "dispatch"]
