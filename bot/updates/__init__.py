"""Stakeholder updates: the reminder cadence, the update modal and the update itself."""
