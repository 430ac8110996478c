"""Plans: the pure difference between a manifest target and the live state, as a value."""
