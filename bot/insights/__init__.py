"""Insights: what the incident history says (counts against the previous period, time to acknowledge and resolve,
stakeholder-update cadence, repeat services, recurring patterns, postmortem follow-through), in Slack and the CLI."""
