"""What sevbot shows: message text and template context (messages) and modal builders (one module per modal)."""
