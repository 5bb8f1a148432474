"""Status and severity: the configured transitions, reopen, and paging when the severity is raised."""
