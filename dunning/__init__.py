"""The business of collections as pure, deterministic code: policies, the ladder, money, the clock.

Nothing here does I/O at call time, so the workflow calls it inside Temporal's sandbox and tests call it directly.
"""
