"""Resolve and export: the validated resolve form, follow-ups, the postmortem link and reminder, archiving, the
postmortem draft."""
