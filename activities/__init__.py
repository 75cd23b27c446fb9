"""Temporal activities: thin I/O adapters to PostgreSQL and the channel vendors."""
