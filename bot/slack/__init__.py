"""The Slack gateway: the one place that calls the Web API."""
