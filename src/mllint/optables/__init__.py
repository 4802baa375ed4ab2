"""Generated op-support tables (``rules/data/*.json``), read without importing any ML framework."""
