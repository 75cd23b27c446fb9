"""Plumbing shared by the layers above: settings, logging, database, the Temporal connection, outside services."""
