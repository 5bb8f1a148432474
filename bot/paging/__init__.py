"""Paging: pages, the escalation ladder (a timer per tier), acknowledgement, escalation with context, page DMs."""
