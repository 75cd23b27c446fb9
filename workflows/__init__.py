"""Temporal workflows: one long-lived AccountWorkflow per delinquent account."""
