"""Plumbing shared by the worker, the starter and the dev stack: settings, logging, database, Temporal client."""
