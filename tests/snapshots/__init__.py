"""Snapshots: store, hook, list and show."""
