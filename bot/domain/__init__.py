"""Pure domain rules: no Slack, no database. Tested in milliseconds."""
