"""People's names: a snapshot of what Slack calls each person sevbot has met, for the postmortem export."""
