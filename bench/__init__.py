"""Benchmarks: `python -m bench.onboarding` and `python -m bench.history_events` (see `make bench`)."""
