"""Roles: the Incident Commander hand-over, other roles assigned and unassigned, the role picker modal."""
