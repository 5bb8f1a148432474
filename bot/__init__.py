"""sevbot: a Slack incident bot."""
