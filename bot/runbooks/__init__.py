"""Runbooks: YAML checklists in runbooks/, validated with line numbers, matched to incidents, run as buttons."""
