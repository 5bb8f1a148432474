"""The one living incident card and the channel topic: rendered from the database and updated in place."""
