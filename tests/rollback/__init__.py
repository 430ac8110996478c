"""Rollback end to end."""
