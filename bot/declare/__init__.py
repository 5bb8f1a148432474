"""Declare and provisioning: record the incident first, then drive Slack step by step (channel, card, invites…)."""
