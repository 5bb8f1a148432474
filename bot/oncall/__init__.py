"""On-call schedules: the rotation math, overrides, paging `schedule:` targets, the CLI and the calendar feed."""
