"""Background work: the huey instance, per-workspace tasks, the janitor and the sweep."""
