"""The source store: the farm's slow "database", an HTTP service over a SQLite catalog with exact counters."""
