"""Snapshots: what every apply saw before and after, and rollback to one of them.

`store` keeps the files, `record` is their format, `hook` writes them during an apply, `desired`
turns one back into a desired state that goes through the ordinary plan and gated apply.
"""
