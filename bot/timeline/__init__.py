"""The timeline people add to: notes, and messages pinned (or marked with the pin reaction) in the incident channel.
The writer every feature records with is `bot.core.timeline`."""
