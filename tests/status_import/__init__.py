"""Status and import end to end."""
